#!/usr/bin/env bash
# Exercise 03: fix an invalid document, one report at a time, until it validates.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../_common.sh"

begin 03 "Fix an invalid document" \
  "Art. 5 functional equivalence: a receiving authority can rely on an electronic document only if the sender can make it right first."

step "Validate the certificate as the clerk first typed it."
bring coo-to-fix.xml
refused ptx validate coo-to-fix.xml
seen SCHEMA-VALUE-INVALID "at /CertificateOfOrigin/ExchangedDocument/IssueDateTime"
not_seen COO-HS-01 COO-MASS-01
saw "One schema error: '2026-11-03 10:15' is not an XML date-time (it needs a T, seconds and a time zone)." \
  "Business rules run only on a document whose structure is right, so they have not run yet."

step "Fix the date, then validate again."
replace coo-to-fix.xml "2026-11-03 10:15" "2026-11-03T10:15:00+07:00"
refused ptx validate coo-to-fix.xml
seen COO-HS-01 COO-MASS-01
not_seen SCHEMA-VALUE-INVALID
saw "The structure is right now, so the business rules ran and found two more problems:" \
  "an HS code written with a dot, and a gross weight below the net weight (a 0 was lost)."

step "Fix the HS code and the gross weight, then validate again."
replace coo-to-fix.xml "<ClassificationCode>2008.20<" "<ClassificationCode>200820<"
replace coo-to-fix.xml '<GrossWeightMeasure unitCode="KGM">1944<' '<GrossWeightMeasure unitCode="KGM">19440<'
ok ptx validate coo-to-fix.xml
seen "valid   coo-to-fix.xml" "1 valid, 0 invalid"
saw "Valid. Each report said what was wrong and where (line and path), so each fix took one edit."

step "Better: fix mistakes where they are typed. Put the same HS code mistake into the JSON input."
bring ../01-build-a-document/shipment.json
replace shipment.json '"ClassificationCode": "200820"' '"ClassificationCode": "2008.20"'
refused ptx issue certificate-of-origin --data shipment.json --out coo.xml
seen COO-HS-01 "IncludedSupplyChainTradeLineItem[0].ClassificationCode" "nothing written"
saw "The same business rule fired, but the report points at the JSON field, item [0], ClassificationCode:" \
  "a form can highlight that field for the exporter before anything is signed or sent."

finish "Schema first, then business rules; every finding says where. Next: exercise 04 signs a document."
