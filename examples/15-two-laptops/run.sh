#!/usr/bin/env bash
# Exercise 15: two laptops, two countries. Each keeps its keys in its own folder; they exchange only public
# packages (by file copy), compare anchor fingerprints aloud, join a gateway on one of the laptops and exchange a
# certificate of origin. Here both "laptops" are folders on this machine with processes that share no paths.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../_common.sh"

begin 15 "Two laptops, two countries" \
  "Art. 8 each party recognises the other's documents on its own terms; Art. 5 trust across borders rests on public material only."

GATEWAY_PORT="${PTX_EXAMPLE_GATEWAY_PORT:-8600}"
AA_PORT="${PTX_EXAMPLE_NODE_PORT:-8601}"
BB_PORT=$((AA_PORT + 1))
GATEWAY="http://127.0.0.1:$GATEWAY_PORT"
mkdir -p laptop-1 laptop-2 usb-stick

step "Laptop 1 creates the gateway and country AA; laptop 2 creates country BB. Nobody else ever sees these keys."
ok ptx gateway init --dir laptop-1/gateway
ok ptx country init AA --dir laptop-1/aa --endpoint "http://127.0.0.1:$AA_PORT"
ok ptx country init BB --dir laptop-2/bb --endpoint "http://127.0.0.1:$BB_PORT"
seen "anchor SHA-256 (read this to your partners)"
shell 0 "find laptop-2 -name '*.key' | sort | head -3"
saw "Each laptop holds its own root, issuing CA, trust-list signer, authorities and node keys (mode 0600)." \
  "What leaves a laptop from now on is public: certificates, a signed trust list, an endpoint, a name."

step "Each party exports its public package onto the USB stick and reads its fingerprint aloud."
ok ptx gateway export --dir laptop-1/gateway --out usb-stick/gateway.json
GATEWAY_ANCHOR=$(sed -n 's/.*read aloud: //p' "$LAST" | tr -d ' ')
ok ptx country export --dir laptop-1/aa --out usb-stick/aa.json
AA_ANCHOR=$(sed -n 's/.*read aloud: //p' "$LAST" | tr -d ' ')
ok ptx country export --dir laptop-2/bb --out usb-stick/bb.json
BB_ANCHOR=$(sed -n 's/.*read aloud: //p' "$LAST" | tr -d ' ')
shell 0 "grep -c 'PRIVATE KEY' usb-stick/*.json || true"
seen "usb-stick/aa.json:0" "usb-stick/bb.json:0" "usb-stick/gateway.json:0"
saw "No private key is on the stick. The fingerprint is what makes the copy trustworthy: a package swapped on the" \
  "way would carry another anchor, and the import below would refuse it."

step "A fingerprint misheard: laptop 2 imports AA's package with BB's own fingerprint by mistake."
run 2 ptx country import usb-stick/aa.json --anchor-sha256 "$BB_ANCHOR" --dir laptop-2/bb
seen PACKAGE-ANCHOR-MISMATCH
saw "PACKAGE-ANCHOR-MISMATCH: nothing was kept. Compare the fingerprint again, out loud, group by group."

step "Now with the fingerprint AA read aloud. Each laptop imports what it needs; the gateway admits both countries."
ok ptx country import usb-stick/aa.json --anchor-sha256 "$AA_ANCHOR" --dir laptop-2/bb
seen "AA (Country AA) imported"
ok ptx country import usb-stick/bb.json --anchor-sha256 "$BB_ANCHOR" --dir laptop-1/aa
ok ptx country join usb-stick/gateway.json --anchor-sha256 "$GATEWAY_ANCHOR" --dir laptop-1/aa
ok ptx country join usb-stick/gateway.json --anchor-sha256 "$GATEWAY_ANCHOR" --dir laptop-2/bb
ok ptx gateway admit usb-stick/aa.json --anchor-sha256 "$AA_ANCHOR" --dir laptop-1/gateway
ok ptx gateway admit usb-stick/bb.json --anchor-sha256 "$BB_ANCHOR" --dir laptop-1/gateway
seen "BB admitted"
saw "Every import checked the package's signature under the anchor, the trust list's validity and its sequence" \
  "number, and was written to the folder's audit (audit/imports.jsonl)."

step "The agreement: AA proposes and signs it, BB countersigns it, both copies go to the gateway and to AA."
ok ptx agreement propose BB --dir laptop-1/aa --out usb-stick/aa-bb.json
ok ptx agreement sign usb-stick/aa-bb.json --dir laptop-2/bb
ok ptx agreement install usb-stick/aa-bb.json --dir laptop-1/gateway
ok ptx agreement install usb-stick/aa-bb.json --dir laptop-1/aa
ok ptx agreement verify usb-stick/aa-bb.json --dir laptop-1/gateway
seen "agreement AA-BB verifies: signed by AA and BB"
saw "Each country signed with its trust-list signer, a key the gateway does not have: it can pass the agreement on," \
  "not write one."

step "Each country decides for itself what it recognises of the other (its own data, in its own folder)."
ok ptx country recognise BB --dir laptop-1/aa
ok ptx country recognise AA --dir laptop-2/bb
ok ptx country partners --dir laptop-2/bb
seen "recognised: certificate-of-origin"

step "Start the services, each on its own laptop's folder only."
background gateway ptx serve gateway --workspace laptop-1/gateway --port "$GATEWAY_PORT" --node "BB=http://127.0.0.1:$BB_PORT" --log-level warning
background node-aa ptx serve node --country AA --workspace laptop-1/aa --port "$AA_PORT" --gateway "$GATEWAY" --log-level warning
background node-bb ptx serve node --country BB --workspace laptop-2/bb --port "$BB_PORT" --gateway "$GATEWAY" --log-level warning
ready "$GATEWAY/readyz" gateway
ready "http://127.0.0.1:$AA_PORT/readyz" node-aa
ready "http://127.0.0.1:$BB_PORT/readyz" node-bb
saw "Three processes, three folders: the gateway cannot open AA's or BB's keys, and BB's node cannot open AA's."

step "AA's chamber of commerce issues a certificate of origin; AA's single window sends it to BB."
bring ../01-build-a-document/shipment.json
ok ptx send --from AA --to BB --type certificate-of-origin --data shipment.json --node "http://127.0.0.1:$AA_PORT" --wait
seen "ACCEPTED" "ACKNOWLEDGED  (receipt verified by this node)"
saw "The gateway checked AA's envelope against AA's node certificate from AA's package; BB checked everything again" \
  "in its own trust and signed a receipt; AA verified that receipt against BB's node certificate from BB's package."

step "Laptop 2 withdraws its recognition of AA: the next certificate is refused by BB itself."
ok ptx country withdraw AA --dir laptop-2/bb
run 1 ptx send --from AA --to BB --type certificate-of-origin --data shipment.json --node "http://127.0.0.1:$AA_PORT" --wait
seen "RECEIVER_REJECTED"
saw "The agreement still stands (the gateway passed the message); BB's own decision made the difference, from the" \
  "next message on, with no restart."

finish "Two trust domains that share only public packages. Try it on two real laptops: copy the stick's files across."
