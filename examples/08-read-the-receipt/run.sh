#!/usr/bin/env bash
# Exercise 08: fetch BB's signed receipt from the gateway's API and check it yourself.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../_common.sh"

begin 08 "Read the receipt" \
  "Art. 5 transboundary trust: the sender gets signed proof of what the receiver got (non-repudiation of receipt)."

step "Create the workspace, start the services and send a certificate of origin from AA to BB."
shell 0 "ptx init | grep created"
start_services
bring ../01-build-a-document/shipment.json
ok ptx send --type certificate-of-origin --data shipment.json --from AA --to BB --wait
seen "ACKNOWLEDGED"
ID=$(message_id)
saw "ACKNOWLEDGED means the gateway holds a receipt from BB and has checked it. Message id: {ID}"

step "Fetch the receipt from the gateway's HTTP API."
fetch "$GATEWAY/v1/messages/$ID/receipt" receipt.xml
shell 0 "grep -v '<ds:Signature' receipt.xml"
seen "<RefToMessageID>$ID</RefToMessageID>" "<StatusCode>RECEIVED</StatusCode>" "<EnvelopeDigest"
saw "The receipt names the message (RefToMessageID), the SHA-256 digest of the envelope BB received," \
  "and BB's answer (RECEIVED); BB's single window signed it (the ds:Signature line, left out above)." \
  "We read it as the gateway's operator (the token in the gateway's folder). AA's and BB's single windows may" \
  "read it too, each signing its request with its node key; any other country is refused (GW-READ-FORBIDDEN)."

step "Verify the receipt yourself, as AA would."
ok ptx verify receipt.xml --receiver AA
seen "VALID receipt.xml" "document type  receipt" "signer         BB Single Window"
saw "Signed by BB's single window, chained to BB's root, which AA recognises. BB cannot later deny it received" \
  "this message; AA needs to trust neither the gateway nor the network, only BB's published keys."

step "Check that the receipt is about exactly what AA sent: compare digests."
fetch "$GATEWAY/v1/messages/$ID/envelope" envelope.xml
if command -v openssl >/dev/null 2>&1; then
  shell 0 "openssl dgst -sha256 -binary envelope.xml | base64"
else
  shell 0 "python3 -c \"import base64, hashlib; print(base64.b64encode(hashlib.sha256(open('envelope.xml', 'rb').read()).digest()).decode())\""
fi
computed=$(tr -d ' \n' < "$LAST")
in_receipt=$(sed -n 's/.*<EnvelopeDigest[^>]*>\([^<]*\)<.*/\1/p' receipt.xml)
say "digest in the receipt:  {in_receipt}" "digest we computed:     {computed}"
[ -n "$computed" ] && [ "$computed" = "$in_receipt" ] || fail "the receipt's digest does not match the envelope"
saw "The same digest: BB received these exact bytes, nothing more, nothing less."

step "Try to change the receipt: make it say REJECTED."
ok cp receipt.xml changed-receipt.xml
replace changed-receipt.xml "<StatusCode>RECEIVED</StatusCode>" "<StatusCode>REJECTED</StatusCode>"
refused ptx verify changed-receipt.xml --receiver AA
seen "INVALID changed-receipt.xml" SIG-DIGEST-MISMATCH
saw "Caught: nobody on the way, not even the gateway, can change what BB answered."

finish "A verified receipt closes the exchange. Exercise 09 revokes an issuer."
