#!/usr/bin/env bash
# Exercise 05: verify a signed document, then change it after signing and watch verification fail.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../_common.sh"

begin 05 "Verify a signature, then tamper with one byte" \
  "Art. 5 functional equivalence: the electronic document must be at least as hard to alter unnoticed as paper."

step "Create the workspace and issue a signed certificate of origin in one go."
shell 0 "ptx init | grep created"
bring ../01-build-a-document/shipment.json
ok ptx issue certificate-of-origin --data shipment.json --as AA/chamber-of-commerce --out coo.signed.xml
seen "valid, signed as AA/chamber-of-commerce -> coo.signed.xml"
saw "--as signs what was built: AA's chamber of commerce is the issuing authority."

step "Verify it as country BB, the receiver."
ok ptx verify coo.signed.xml --receiver BB
seen "VALID coo.signed.xml" "signer         AA Chamber of Commerce" "AA Root CA"
saw "Verification checks the signature over every byte, then the signer: a chain up to AA's root, which BB" \
  "recognises under the AA-BB agreement, certificates valid today and not revoked, and the chamber allowed to issue" \
  "certificates of origin. Exit status 0."

step "Change one byte after signing: gross weight 19440 kg becomes 19450 kg."
ok cp coo.signed.xml tampered.xml
replace tampered.xml '<GrossWeightMeasure unitCode="KGM">19440<' '<GrossWeightMeasure unitCode="KGM">19450<'
run 1 cmp coo.signed.xml tampered.xml
refused ptx verify tampered.xml --receiver BB
seen "INVALID tampered.xml" SIG-DIGEST-MISMATCH "the signed content changed after signing"
saw "SIG-DIGEST-MISMATCH: the digest of the content no longer matches the one the chamber signed." \
  "The document still looks perfect and still passes the schema; only the signature shows the change."

step "Change the signature itself instead of the content."
ok cp coo.signed.xml forged.xml
value_start=$(grep -o '<ds:SignatureValue>.' forged.xml | head -n 1)
if [ "${value_start: -1}" = A ]; then other=B; else other=A; fi
replace forged.xml "$value_start" "<ds:SignatureValue>$other"
refused ptx verify forged.xml --receiver BB
seen "INVALID forged.xml" SIG-VALUE-INVALID
saw "SIG-VALUE-INVALID: the content is intact, but the signature value does not verify with the chamber's public key." \
  "Without the chamber's private key nobody can make a new one."

step "Add a space inside a tag, which does not change the meaning."
ok cp coo.signed.xml reformatted.xml
replace reformatted.xml "<ExchangedDocument>" "<ExchangedDocument   >"
ok ptx verify reformatted.xml --receiver BB
seen "VALID reformatted.xml"
saw "Still valid: canonicalisation (C14N) writes the XML in one fixed form before hashing, so layout inside" \
  "tags does not count. What the document says is protected; how a tool happens to print it is not."

finish "Any change to what a signed document says is caught; next, exercise 06 asks who is trusted to sign."
