#!/usr/bin/env bash
# Exercise 10: what goes wrong in an exchange, and where each mistake is caught.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../_common.sh"

begin 10 "What goes wrong, and how it is caught" \
  "Art. 5 transboundary trust: the receiving country can rely on what arrives because every bad message is refused with a reason."

step "Create the workspace, start the services and send one good certificate of origin."
shell 0 "ptx init | grep created"
start_services
bring ../01-build-a-document/shipment.json
ok ptx send --type certificate-of-origin --data shipment.json --wait
seen "ACKNOWLEDGED"
GOOD_ID=$(message_id)
saw "This one is fine (message {GOOD_ID}). Now the mistakes."

step "A signed document that breaks the schema: the issuer element is missing."
ok cp "$REPO_DIR/schemas/certificate-of-origin/samples/invalid/missing-issuer.xml" .
ok ptx sign missing-issuer.xml --as AA/chamber-of-commerce
refused ptx send missing-issuer.signed.xml --wait
seen ": REJECTED" "document-schema: SCHEMA-ELEMENT-MISSING" "at /CertificateOfOrigin/ExchangedDocument"
saw "A valid signature does not make a valid document: the gateway's document-schema check refused it," \
  "and its answer tells AA what is missing and where."

step "A signed document that breaks a business rule: gross weight below net weight."
ok cp "$REPO_DIR/schemas/certificate-of-origin/samples/invalid/gross-below-net.xml" .
ok ptx sign gross-below-net.xml --as AA/chamber-of-commerce
refused ptx send gross-below-net.signed.xml --wait
seen ": REJECTED" "document-rules: COO-MASS-01"
saw "The document-rules check runs the same Schematron rules as ptx validate (exercise 02): same code, same message."

step "The wrong authority signs: AA's plant-protection organisation signs a certificate of origin."
refused ptx send --type certificate-of-origin --data shipment.json --as AA/nppo --wait
seen ": REJECTED" "issuer-trust: TRUST-ISSUER-NOT-AUTHORISED"
saw "Caught by the last check, issuer trust, as in exercise 06."

step "A document type the countries never agreed on."
shell 0 "printf '<PackingList xmlns=\"urn:example:trade:PackingList:1\"><ID>PL-0457</ID></PackingList>\n' > packing-list.xml"
ok ptx sign packing-list.xml --as AA/chamber-of-commerce
run 2 ptx send packing-list.signed.xml --wait
seen DOCTYPE-UNKNOWN
saw "AA's own single window refused to send it (DOCTYPE-UNKNOWN): no catalogue type matches its root element." \
  "Caught before it left AA. Exit status 2: a request ptx cannot carry out, rather than a document judged invalid."

step "A replay: the exact envelope of the good message is submitted to the gateway again."
fetch "$GATEWAY/v1/messages/$GOOD_ID/envelope" envelope.xml
post_xml "$GATEWAY/v1/messages" envelope.xml answer.json
seen "HTTP 200"
summarise_answer answer.json
seen "$GOOD_ID ACCEPTED"
saw "HTTP 200 and the earlier answer, not a second message: a network retry cannot deliver a certificate twice."

step "The same message id with different bytes (one extra newline at the end)."
shell 0 "cp envelope.xml changed-envelope.xml && echo >> changed-envelope.xml"
post_xml "$GATEWAY/v1/messages" changed-envelope.xml answer.json
seen "HTTP 409"
summarise_answer answer.json
seen "$GOOD_ID REJECTED REJECTED GW-DUPLICATE-CONFLICT"
saw "HTTP 409, GW-DUPLICATE-CONFLICT: a message id names one envelope, byte for byte, forever."

step "Look at BB's inbox."
ok ptx inbox BB
[ "$(grep -c ' RECEIVED ' "$LAST")" = 1 ] || fail "BB's inbox should hold exactly one document"
seen "$GOOD_ID"
saw "One document: the good one, once. Nothing that failed a check was delivered."

finish "Each mistake was refused where it was first seen, with a code. Exercise 11 checks the gateway's own record."
