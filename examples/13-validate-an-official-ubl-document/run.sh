#!/usr/bin/env bash
# Exercise 13: validate a document against an official international schema set (OASIS UBL 2.1).
#
# Usage: run.sh [UBL_DIR]
#   UBL_DIR is a folder holding the UBL 2.1 schemas (anywhere below it: maindoc/UBL-CertificateOfOrigin-2.1.xsd
#   and the common/ folder it imports). Default: schemas/ubl21 in $PTX_CORPUS, or in ../shared/corpus beside
#   the project, when it exists. Otherwise download UBL 2.1 once (see README.md) and pass the folder you unpacked.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../_common.sh"

ubl_dir="${1:-${PTX_EXAMPLE_UBL_DIR:-${PTX_CORPUS:-$REPO_DIR/../shared/corpus}/schemas/ubl21}}"

begin 13 "Validate a document against the official UBL 2.1 schemas" \
  "Art. 9 international standards: use the schema sets that standards bodies publish, as they are published."

step "Find the official UBL 2.1 schema set."
coo_xsd=""
if [ -d "$ubl_dir" ]; then
  ubl_dir="$(cd "$ubl_dir" && pwd)"
  coo_xsd="$(find "$ubl_dir" -name UBL-CertificateOfOrigin-2.1.xsd -path '*maindoc*' 2>/dev/null | sort | head -n 1)"
fi
if [ -z "$coo_xsd" ]; then
  SCRIPT="$0"
  say "No UBL 2.1 schemas found in: {ubl_dir}" \
    "This exercise needs the official OASIS UBL 2.1 schema set, which the project does not copy." \
    "Download it once, on any machine with internet, from docs.oasis-open.org:" \
    "    https://docs.oasis-open.org/ubl/os-UBL-2.1/UBL-2.1.zip" \
    "unzip it anywhere on this laptop, then run:  {SCRIPT} /path/to/the/unzipped/folder"
  printf '\nUBL 2.1 schemas not found; nothing was checked (exit 2).\n' >&2
  exit 2
fi
invoice_xsd="$(dirname "$coo_xsd")/UBL-Invoice-2.1.xsd"
say "UBL 2.1 schema set: {ubl_dir}"
shell 0 "ls '$(dirname "$coo_xsd")' | wc -l"
saw "One XSD per UBL document type (UBL-CertificateOfOrigin-2.1.xsd among them). Each imports the common" \
  "components, which import data types: a schema set spread over many files, loaded as the standard ships it."

step "Validate a small UBL 2.1 certificate of origin against the official schema."
bring coo-ubl.xml
ok ptx validate coo-ubl.xml --schema "$coo_xsd"
seen "valid   coo-ubl.xml" "1 valid, 0 invalid"
saw "Valid. The file was written by this project for the workshop; the schema it is checked against is OASIS's."

step "Make two mistakes: a date in local format, and a required element left out."
ok cp coo-ubl.xml coo-ubl-broken.xml
replace coo-ubl-broken.xml "<cbc:IssueDate>2026-11-03</cbc:IssueDate>" "<cbc:IssueDate>03/11/2026</cbc:IssueDate>"
replace coo-ubl-broken.xml "<cbc:ReferenceID>APP-2026-0457</cbc:ReferenceID>" ""
refused ptx validate coo-ubl-broken.xml --schema "$coo_xsd"
seen SCHEMA-VALUE-INVALID SCHEMA-ELEMENT-UNEXPECTED "at /CertificateOfOrigin/IssueDate"
saw "The same report as for the project's own types: code, line, path, and the message from the official schema" \
  "(after CertificateType it expected ReferenceID, which must come first)."

step "Add national rules on top of the standard: ptx runs your Schematron after the official XSD."
bring coo-rules.sch
ok ptx validate coo-ubl.xml --schema "$coo_xsd" --rules coo-rules.sch
seen "valid   coo-ubl.xml"
ok cp coo-ubl.xml coo-ubl-light.xml
replace coo-ubl-light.xml '<cbc:GrossWeightMeasure unitCode="KGM">19440<' '<cbc:GrossWeightMeasure unitCode="KGM">1944<'
refused ptx validate coo-ubl-light.xml --schema "$coo_xsd" --rules coo-rules.sch
seen UBLCOO-MASS-01
saw "The official schema accepts any weights; the rule UBLCOO-MASS-01, written for this workshop, does not." \
  "The standard stays untouched, and each country's extra requirements are data beside it."

official="$(find "$ubl_dir" \( -name UBL-Invoice-2.1-Example.xml -o -name ubl-tc434-example1.xml \) 2>/dev/null | sort | head -n 1)"
if [ -n "$official" ] && [ -f "$invoice_xsd" ]; then
  step "Validate an official example invoice (shipped with UBL 2.1 or EN 16931) against UBL-Invoice-2.1.xsd."
  ok ptx validate "$official" --schema "$invoice_xsd"
  seen "1 valid, 0 invalid"
  saw "Someone else's real-world example validates too: ptx reads standard documents as they are, with no conversion."
fi

finish "Official schema sets load as published; your own rules go beside them."
