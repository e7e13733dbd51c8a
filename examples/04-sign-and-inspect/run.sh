#!/usr/bin/env bash
# Exercise 04: sign a document as country AA's chamber of commerce and look inside the signature.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../_common.sh"

begin 04 "Sign a document and inspect the signature" \
  "Art. 5 functional equivalence and technological neutrality: a standard electronic signature (W3C XML-DSig) takes the place of the stamp and handwritten signature."

step "Create the workspace: a public key infrastructure (PKI) for country AA and one for country BB."
ok ptx init
seen "AA Chamber of Commerce" "AA/chamber-of-commerce" "agreement AA-BB"
saw "Each country has its own root certificate authority and issues certificates to its authorities:" \
  "the chamber of commerce for certificates of origin, the NPPO for phytosanitary certificates, customs." \
  "Private keys stay in the workspace (mode 0600); only certificates are shared."

step "Build the certificate of origin and sign it as AA's chamber of commerce."
bring ../01-build-a-document/shipment.json
ok ptx issue certificate-of-origin --data shipment.json --out coo.xml
ok ptx sign coo.xml --as AA/chamber-of-commerce
seen "signed coo.xml as AA Chamber of Commerce -> coo.signed.xml"
saw "The signature is added inside the document, as the last element of its root (an enveloped signature)."

step "See which algorithms the signature names."
shell 0 "grep -o '<ds:[A-Za-z]*Method Algorithm=\"[^\"]*\"' coo.signed.xml"
seen "xml-exc-c14n#" "ecdsa-sha256" "xmlenc#sha256"
saw "Exclusive canonicalisation (C14N) first writes the XML in one fixed form, so spacing inside tags cannot break it;" \
  "SHA-256 makes a digest of it; ECDSA on the P-256 curve signs that digest. All W3C/IETF standards, named in the file."

step "Inspect the signed document."
ok ptx inspect coo.signed.xml
seen "document type certificate-of-origin" "covers the whole document except this signature element" \
  "cryptographic check: valid" "AA Chamber of Commerce (valid)" "AA Issuing CA (valid)"
saw "The signature covers the whole document. KeyInfo carries the signer's certificate and the issuing CA's," \
  "so a receiver can build the chain; but a certificate is not trusted because it is in the file (exercise 06)."

step "The signed document is still a valid certificate of origin."
ok ptx validate coo.signed.xml
seen "valid   coo.signed.xml (certificate-of-origin)"
saw "The schema has a place for the signature, so signing does not break validation."

step "Technological neutrality: the same document signed with RSA keys in another PKI."
shell 0 "ptx init --workspace rsa-workspace --key-type rsa-2048 | grep created"
ok ptx sign coo.xml --as AA/chamber-of-commerce --workspace rsa-workspace --out coo.rsa-signed.xml
ok ptx inspect coo.rsa-signed.xml
seen "rsa-sha256" "cryptographic check: valid"
saw "Another algorithm (RSA-SHA256), same standard, same checks. The agreement between countries names" \
  "the standard and the acceptable algorithms, not a product or a vendor."

finish "A signature binds the signer to every byte of the document; exercise 05 shows what happens when a byte changes."
