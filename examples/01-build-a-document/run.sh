#!/usr/bin/env bash
# Exercise 01: build an electronic certificate of origin from structured data (JSON).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../_common.sh"

begin 01 "Build an electronic document from JSON" \
  "Art. 5 functional equivalence: the same facts as the paper certificate, as structured data a machine can check."

step "See which document types the two countries have agreed on."
say "The catalogue lists each type with the root element and namespace that identify it in XML."
ok ptx schemas list
seen certificate-of-origin phytosanitary-certificate commercial-invoice customs-declaration
saw "Four trade documents, plus the envelope, receipt and trust list the exchange itself uses."

step "Look at the input: the facts of one shipment, as JSON."
bring shipment.json
shell 0 "head -n 20 shipment.json"
saw "Keys are the element names of the document, in document order; values are text." \
  "This is what an exporter's system or a web form would produce."

step "Build the certificate of origin from the JSON."
ok ptx issue certificate-of-origin --data shipment.json --out coo.xml
seen "issued certificate-of-origin" "valid -> coo.xml"
saw "ptx built the XML and validated it before writing it: a document that breaks the schema or a rule is never written."

step "Read the document that was built."
shell 0 "head -n 18 coo.xml"
seen "<CertificateOfOrigin" "<TypeCode>861</TypeCode>"
saw "Element names follow UN/CEFACT (ExchangedDocument, SupplyChainConsignment); 861 is the UN/CEFACT code for a certificate of origin." \
  "Any country's system can read it without knowing ours: that is what makes it interoperable."

step "Make a typing mistake in the input and build again."
ok cp shipment.json shipment-typo.json
replace shipment-typo.json '"Name": "Golden Harvest Foods Co., Ltd."' '"Nmae": "Golden Harvest Foods Co., Ltd."'
refused ptx issue certificate-of-origin --data shipment-typo.json --out typo.xml
seen INPUT-FIELD-UNKNOWN INPUT-FIELD-MISSING "did you mean 'Name'?"
[ ! -e typo.xml ] || fail "typo.xml should not have been written"
saw "Exit status 1 and nothing written. The error names the JSON field (ConsignorParty.Nmae), not an XML line," \
  "so the person who typed it can fix it."

finish "A trade document is data with a fixed structure; next, exercise 02 checks that structure."
