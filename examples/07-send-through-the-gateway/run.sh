#!/usr/bin/env bash
# Exercise 07: send documents from AA's single window to BB's through the gateway, and follow them.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../_common.sh"

begin 07 "Send a document through the gateway" \
  "Art. 1 exchange of trade data between single windows; Art. 5 interoperability and transboundary trust."

step "Create the workspace and start the three services: the gateway and the single windows of AA and BB."
shell 0 "ptx init | grep created"
start_services
seen "gateway  http://127.0.0.1:$GATEWAY_PORT" "AA       http" "BB       http"
saw "Three separate programs on this laptop, talking HTTP on the loopback interface only; no internet needed." \
  "Open {GATEWAY}/ui in a browser to watch the messages arrive."

step "AA's single window sends a certificate of origin to BB."
bring ../01-build-a-document/shipment.json
ok ptx send --type certificate-of-origin --data shipment.json --from AA --to BB --wait
seen ": ACCEPTED" "ACKNOWLEDGED  (receipt verified by this node)"
ID=$(message_id)
saw "AA built the document, had its chamber of commerce sign it, put it in an envelope signed by AA's single window," \
  "and submitted it. The gateway checked it and stored it (ACCEPTED), delivered it (DELIVERING), and BB" \
  "checked it again with its own trust settings and sent back a signed receipt (ACKNOWLEDGED)." \
  "Message id: {ID}"

step "Follow the message at the gateway."
ok ptx status "$ID"
seen "$ID: ACKNOWLEDGED  AA -> BB  certificate-of-origin" "RECEIVED" "ACCEPTED  all checks passed" "DELIVERED" "verified receipt"
saw "Every change of status is recorded with its time: the sender can always answer 'where is my certificate?'."

step "Read the gateway's report: the checks it ran, in order."
fetch "$GATEWAY/v1/messages/$ID" message.json
shell 0 "python3 -c \"import json; [print(c['name'], c['status']) for c in json.load(open('message.json'))['report']['checks']]\""
seen "size passed" "sender-authentication passed" "routing passed" "document-schema passed" "document-rules passed" \
  "document-signature passed" "issuer-trust passed"
CHECKS=$(wc -l < "$LAST" | tr -d ' ')
saw "{CHECKS} named checks: the size, the XML, the envelope, who sent it (AA's node signature), whether an agreement" \
  "lets this type flow from AA to BB, duplicates, the type, schema, business rules, the document's signature," \
  "and whether BB recognises its issuer. Any failed check would have stopped the message here."

step "Send a phytosanitary certificate, from the catalogue's sample input."
ok ptx send --type phytosanitary-certificate --data "$REPO_DIR/schemas/phytosanitary-certificate/input.yaml" --wait
seen ": ACCEPTED" "ACKNOWLEDGED"
saw "Signed by AA's plant-protection organisation this time: AA's single window picks the authority for the type."

step "Send a certificate that is changed after signing (--tamper changes one byte)."
refused ptx send --type certificate-of-origin --data shipment.json --from AA --to BB --tamper --wait
seen ": REJECTED" "document-signature: SIG-DIGEST-MISMATCH"
saw "REJECTED at the gateway, with the check that failed and its code; exit status 1."

step "Look at BB's inbox."
ok ptx inbox BB
seen "certificate-of-origin  RECEIVED" "phytosanitary-certificate  RECEIVED"
[ "$(grep -c ' RECEIVED ' "$LAST")" = 2 ] || fail "BB's inbox should hold exactly two documents"
saw "Two documents. The rejected one never reached BB: the gateway does not forward what fails a check."

finish "Exercise 08 reads BB's signed receipt."
