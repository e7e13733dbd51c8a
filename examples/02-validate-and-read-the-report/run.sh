#!/usr/bin/env bash
# Exercise 02: validate documents and read the report, as a person (text) and as a program (JSON).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../_common.sh"

begin 02 "Validate a document and read the report" \
  "Art. 9 international standards and Art. 5 interoperability: both sides check a document against the same published schema and rules."

step "Build a good certificate of origin (as in exercise 01) and validate it."
bring ../01-build-a-document/shipment.json
ok ptx issue certificate-of-origin --data shipment.json --out coo.xml
ok ptx validate coo.xml
seen "valid   coo.xml (certificate-of-origin)" "1 valid, 0 invalid"
saw "ptx found the type from the root element and namespace, then ran two checks:" \
  "the XSD (structure, data types) and the Schematron business rules. Exit status 0: valid."

step "Validate a certificate that has three mistakes in it."
bring coo-with-problems.xml
refused ptx validate coo-with-problems.xml
seen "INVALID coo-with-problems.xml" COO-HS-01 COO-COUNTRY-02 COO-MASS-01
saw "Every problem is reported, not only the first. Read one line from left to right:" \
  "line:column in the file, severity, stable code (COO-HS-01), which check found it [rules], the message," \
  "and 'at': the path of the element, which stays right even after the file is reformatted." \
  "Exit status 1 means invalid: a script or a CI job can act on it."

step "The same report for a program: JSON."
refused ptx validate coo-with-problems.xml --format json
seen '"verdict": "invalid"' '"code": "COO-MASS-01"' '"line": 65'
first_code=$(ptx validate coo-with-problems.xml --format json | json_get results.0.findings.0.code || true)
saw "Same findings, same fields (code, severity, check, message, line, column, path)." \
  "An integrator's system can read them, e.g. the first code: $first_code"

step "A warning is not an error."
ok cp "$REPO_DIR/schemas/certificate-of-origin/samples/valid/foreign-origin-line.xml" .
ok ptx validate foreign-origin-line.xml
seen "valid   foreign-origin-line.xml" "warning COO-ORIGIN-03"
saw "The goods originate in CN, not in the exporting country: worth a look by an officer, but not a reason to refuse." \
  "The document is valid (exit 0) and the warning travels with it."

step "Validate a whole folder at once: the labelled samples of the catalogue."
ok cp -R "$REPO_DIR/schemas/certificate-of-origin/samples" samples
valid_count=$(find samples/valid -name '*.xml' | wc -l | tr -d ' ')
invalid_count=$(find samples/invalid -name '*.xml' | wc -l | tr -d ' ')
refused ptx validate samples --quiet
seen "$((valid_count + invalid_count)) file(s): $valid_count valid, $invalid_count invalid"
saw "Each sample sits in valid/ or invalid/, and ptx agrees with every label; --quiet lists only the invalid files." \
  "The same command checks ten thousand files in seconds: how a single window tests its forms before going live."

finish "Validation tells the sender exactly what to fix; exercise 03 fixes a document."
