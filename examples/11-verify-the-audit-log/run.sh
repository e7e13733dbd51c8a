#!/usr/bin/env bash
# Exercise 11: the gateway's hash-chained audit log: read it, verify it, change it and get caught.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../_common.sh"

begin 11 "Verify the audit log" \
  "Art. 5 transboundary trust: the operator of the exchange must be able to prove what it accepted, refused and delivered."

step "Create the workspace, start the services, send one good and one tampered certificate of origin."
shell 0 "ptx init | grep created"
start_services
bring ../01-build-a-document/shipment.json
ok ptx send --type certificate-of-origin --data shipment.json --wait
seen "ACKNOWLEDGED"
refused ptx send --type certificate-of-origin --data shipment.json --tamper --wait
seen "REJECTED" SIG-DIGEST-MISMATCH
saw "One accepted and acknowledged, one rejected. The gateway wrote every decision to its audit log."

step "Read the audit log from the gateway's API."
fetch "$GATEWAY/v1/audit" audit.json
shell 0 "python3 -c \"import json; [print(e['seq'], e['action'], e['message_id'][:8], e['prev_hash'][:12], '->', e['hash'][:12]) for e in json.load(open('audit.json'))['entries']]\""
seen "message.accepted" "receipt.acknowledged" "message.rejected"
saw "One entry per decision: accepted, receipt acknowledged, rejected (with its codes in the full entry)." \
  "Each entry's hash covers its content and the previous entry's hash: the entries form a chain."

step "Verify the chain."
ok ptx audit verify
seen "audit chain verifies"
saw "ptx recomputed every hash from the first entry to the last: nothing was changed, inserted or deleted."

step "Stop the services. Then someone with access to the database hides the rejection."
stop_services
shell 0 "python3 -c \"import sqlite3; db = sqlite3.connect('workspace/parties/gateway/gateway.db'); db.execute(\\\"UPDATE audit_log SET detail = replace(detail, 'SIG-DIGEST-MISMATCH', 'NONE') WHERE action = 'message.rejected'\\\"); db.commit()\""
saw "One row changed directly in the gateway's SQLite database, outside the gateway."

step "Verify the chain again."
refused ptx audit verify
seen AUDIT-CHAIN-BROKEN "it was changed"
saw "AUDIT-CHAIN-BROKEN, with the number of the entry that no longer matches its hash. Exit status 1."

step "Delete that entry instead: does a gap go unnoticed?"
shell 0 "python3 -c \"import sqlite3; db = sqlite3.connect('workspace/parties/gateway/gateway.db'); db.execute(\\\"DELETE FROM audit_log WHERE action = 'message.rejected'\\\"); db.commit()\""
refused ptx audit verify
seen AUDIT-CHAIN-BROKEN "deleted"
saw "Also caught. To make the log trustworthy beyond the gateway's own disk, publish the latest hash" \
  "(ptx audit verify --json prints it as head) somewhere others keep it, e.g. in a daily report to both countries."

finish "Every decision is on record, and the record cannot be changed unnoticed."
