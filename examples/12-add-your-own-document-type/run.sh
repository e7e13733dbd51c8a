#!/usr/bin/env bash
# Exercise 12: add a document type of your own (a fumigation certificate) without changing any code.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../_common.sh"

begin 12 "Add your own document type" \
  "Art. 5 technological neutrality and Art. 9 standards: new trade documents join the exchange as data (schema, rules, samples), not as software."

step "Look at the folder that defines the new type."
bring fumigation-certificate
shell 0 "find fumigation-certificate -type f | sort"
ok cat fumigation-certificate/manifest.yaml
seen "id: fumigation-certificate" "root: FumigationCertificate"
saw "A manifest, an XSD (structure), Schematron rules (business rules with codes FUM-...), an input form," \
  "and samples labelled valid or invalid with the codes they must produce."

step "Before adding it: ptx does not know this document."
refused ptx validate fumigation-certificate/samples/valid/methyl-bromide.xml
seen DOCTYPE-UNKNOWN
saw "DOCTYPE-UNKNOWN: no type in the catalogue has the root FumigationCertificate."

step "ptx checks a folder before adding it: a sample labelled with the wrong code is refused."
ok cp -R fumigation-certificate mislabelled
replace mislabelled/manifest.yaml "codes: [FUM-DATE-01]" "codes: [FUM-DATE-02]"
refused ptx schemas add mislabelled
seen "the folder is not sound" "expected code(s) FUM-DATE-02, got FUM-DATE-01"
saw "Nothing installed: the schema and rules must compile and every sample must behave as its label says."

step "Add the real folder."
ok ptx schemas add fumigation-certificate
seen "added fumigation-certificate" "4 sample(s) checked"
ok ptx schemas list
seen fumigation-certificate
saw "Installed into the workspace's own catalogue (workspace/schemas); the built-in types are untouched."

step "Use it like any other type: build one from the input form, validate the samples."
ok ptx issue fumigation-certificate --data fumigation-certificate/input.yaml --out fumigation.xml
seen "issued fumigation-certificate" "valid -> fumigation.xml"
refused ptx validate fumigation-certificate/samples
seen FUM-DATE-01 "warning FUM-MB-01" SCHEMA-ELEMENT-MISSING "4 file(s): 2 valid, 2 invalid"
saw "Same report as for the built-in types: your codes, your messages, lines and paths."

step "Can AA send it to BB yet? Sign it and verify it as BB."
shell 0 "ptx init | grep created"
ok ptx issue fumigation-certificate --data fumigation-certificate/input.yaml --as AA/chamber-of-commerce --out fumigation.signed.xml
refused ptx verify fumigation.signed.xml --receiver BB
seen TRUST-NOT-RECOGNISED TRUST-ISSUER-NOT-AUTHORISED
saw "Not yet. The catalogue says what the document looks like; trust needs two more decisions:" \
  "AA's trust list must name who may issue it, and the AA-BB agreement must list it (exercise 06)."

finish "A new document type is a folder of data, checked before it is accepted."
