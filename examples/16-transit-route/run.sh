#!/usr/bin/env bash
# Exercise 16: a transit declaration from a landlocked country reaches every country on its route.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../_common.sh"

begin 16 "Transit: one declaration, every country on the route" \
  "Art. 8 mutual recognition along a corridor: each transit country relies on the declaration before the goods arrive, because it checks it with its own trust."

step "Four countries: landlocked AA, transit country CC, destination BB, and EE. AA has agreements with CC and BB, not with EE."
shell 0 "ptx init --countries AA,CC,BB,EE --agreements AA-CC,AA-BB,BB-CC,BB-EE | grep created"
start_services

step "AA's customs signs a transit declaration whose itinerary is AA -> CC -> BB, and AA's single window sends it."
ok cp "$REPO_DIR/schemas/customs-declaration/samples/valid/transit-route.xml" .
shell 0 "grep -A4 '<Itinerary>' transit-route.xml"
ok ptx sign transit-route.xml --as AA/customs
ok ptx send transit-route.signed.xml --to BB --wait
seen ": ACCEPTED" "ACKNOWLEDGED"
ID=$(message_id)
saw "One submission (message {ID}): AA's node read the route from the document and addressed the envelope to CC and BB."

step "The gateway delivered to each country on its own: one status, attempt and receipt per receiver."
ok ptx status "$ID"
seen "AA -> CC, BB" "acknowledged 2/2" "CC  ACKNOWLEDGED" "BB  ACKNOWLEDGED"
saw "CC checked the declaration with CC's trust and answered its own signed receipt; BB did the same with BB's."

step "Verify the transit country's receipt as AA does, with AA's own folder."
ok ptx status "$ID" --receipt CC --out cc-receipt.xml
seen "receipt of CC: verified by AA" "RECEIVED"
saw "The receipt is signed by CC's node and names this message and the SHA-256 of the envelope: CC cannot later deny it."

step "The goods reach CC's Mountain Pass office: CC's customs reports it to the rest of the route."
ok cp "$REPO_DIR/schemas/transit-event/samples/valid/entered-transit-country.xml" entered.xml
ok ptx sign entered.xml --as CC/customs
ok ptx send entered.signed.xml --from CC --to BB --wait
seen ": ACCEPTED" "ACKNOWLEDGED"
EVENT=$(message_id)
ok ptx status "$EVENT"
seen "CC -> AA, BB" "acknowledged 2/2"
ok ptx inbox AA
seen "$EVENT"
saw "A signed progress event, checked like any message: CC is on the route, so it goes to AA and BB, and the" \
  "destination knows where the goods are before they arrive."

step "The same goods routed through EE, which no agreement with AA covers."
shell 0 "sed -e 's|<ID>CC</ID>|<ID>EE</ID>|' -e 's|CC000210|EE000210|' -e 's|ACB-2026-TR-004417|ACB-2026-TR-004418|' transit-route.xml > via-ee.xml"
ok ptx sign via-ee.xml --as AA/customs
refused ptx send via-ee.signed.xml --to BB --wait
seen ": REJECTED" "routing: GW-NO-AGREEMENT" "to EE"
saw "The whole declaration is refused, naming the country: no country on a route receives a declaration that another" \
  "country on it could not accept."

step "Look at the inboxes."
ok ptx inbox CC
seen "$ID"
ok ptx inbox EE
seen "EE's inbox is empty"
saw "CC holds the declaration of the route it is on; EE received nothing."

finish "One declaration, checked by every country on its route with its own trust. Exercise 17 tests another implementation against the protocol."
