#!/usr/bin/env bash
# Exercise 14: an NPPO's real-shape ePhyto certificate, validated with the hub's report form, signed, sent through
# the gateway's ePhyto hub interface and recognised by BB's single window.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../_common.sh"

begin 14 "An ePhyto certificate through the hub interface" \
  "Art. 5 interoperability: a system built for the IPPC ePhyto hub joins unchanged; Art. 8 BB still recognises the NPPO itself."

CERT="$REPO_DIR/schemas/ephyto-sps-certificate/samples/valid/three-lines-attachment-languages.xml"
HUBPY="$(dirname "$(command -v ptx)")/python $HERE/hub.py"

step "Look at a real-shape ePhyto certificate: the UN/CEFACT SPSCertificate the hub carries."
cp "$CERT" ephyto.xml
shell 0 "grep -o -e '<rsm:SPSCertificate' -e '<ram:TypeCode>851</ram:TypeCode>' -e '<ram:Subject>[A-Z]*</ram:Subject>' -e '<ram:AttachmentBinaryObject' ephyto.xml | sort | uniq -c"
seen "<rsm:SPSCertificate" "<ram:TypeCode>851</ram:TypeCode>" "<ram:AttachmentBinaryObject"
saw "Type 851 is a phytosanitary certificate; notes carry ePhyto subject codes; a PDF travels inside as base64."

step "Validate it, ours and in the hub's own report form."
shell 0 "ptx init | grep created"
ok ptx validate ephyto.xml
seen "valid   ephyto.xml (ephyto-sps-certificate)"
refused ptx validate "$REPO_DIR/schemas/ephyto-sps-certificate/samples/invalid/reexport-without-original.xml" --format ephyto
seen "MandatoryElements" "SEVERE" "EPHYTO-REEXPORT-01"
saw "The same findings an NPPO's system gets from the hub's ValidatePhytoXML: area, level, and our code in the message."

step "AA's plant-protection organisation (NPPO) signs it."
ok ptx sign ephyto.xml --as AA/nppo --out ephyto.signed.xml
seen "signed ephyto.xml as AA NPPO"

step "Start the gateway and both single windows with mutual TLS: the hub identifies an NPPO by its TLS client certificate."
GATEWAY_PORT="${PTX_EXAMPLE_GATEWAY_PORT:-8600}"
NODE_PORT="${PTX_EXAMPLE_NODE_PORT:-8601}"
SERVICES_UP=1
run any ptx up --detach --tls --gateway-port "$GATEWAY_PORT" --node-port "$NODE_PORT"
[ "$LAST_RC" = 0 ] || fail "the services did not start; choose other ports: PTX_EXAMPLE_GATEWAY_PORT=8700 PTX_EXAMPLE_NODE_PORT=8701 $0"
seen "gateway  https://127.0.0.1:$GATEWAY_PORT"
export PTX_HUB_URL="https://127.0.0.1:$GATEWAY_PORT"

step "AA's NPPO system delivers it with the hub's own SOAP call, DeliverEnvelope, as a hub client would."
shell 0 "$HUBPY deliver AA BB ephyto.signed.xml AA-EPHYTO-2026-004512"
seen "sent: From AA, To BB, CertificateType 851, CertificateStatus 70" "HUBTrackingInfo: PendingDelivery" "hubDeliveryNumber: HUB-"
NUMBER=$(sed -n 's/^hubDeliveryNumber: //p' "$LAST")
saw "The hub header: who sends (checked against AA's TLS certificate), to whom, type, status, the NPPO's number." \
  "The gateway ran its checks on the certificate (schema, rules, the NPPO's signature, issuer trust) and gave it {NUMBER}."

step "BB runs a ptx single window, so the gateway forwards the certificate there; BB checks it again itself."
for _ in $(seq 1 50); do
  ptx inbox BB 2>/dev/null | grep -q 'ephyto-sps-certificate  RECEIVED' && break
  sleep 0.2
done
ok ptx inbox BB
seen "ephyto:AA:AA-EPHYTO-2026-004512" "ephyto-sps-certificate  RECEIVED"
ok ptx status ephyto:AA:AA-EPHYTO-2026-004512
seen "ACKNOWLEDGED" "verified receipt"
saw "The envelope BB got is signed by the gateway, not by AA's single window (the gateway has no key of AA's):" \
  "BB takes that only for ePhyto certificates relayed from the hub interface (NODE-SENDER-RELAYED), and still" \
  "verifies the NPPO's signature with its own trust, then signs a receipt."

step "AA's NPPO asks the hub interface where its certificate is; BB's hub client has nothing left to pull."
shell 0 "$HUBPY track AA $NUMBER"
seen "HUBTrackingInfo: Delivered" "To: BB"
shell 0 "$HUBPY headers BB"
not_seen "hubDeliveryNumber: $NUMBER"
saw "Delivered is the hub's word for BB's verified receipt (ACKNOWLEDGED here): delivered once, to BB's node."

stop_services
finish "The same certificate, the hub's own calls, and BB's own decision."
