#!/usr/bin/env bash
# Exercise 17: run your own single-window node through the conformance kit; it fails a clause, you fix it, it passes.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../_common.sh"

begin 17 "Test your own node with the conformance kit" \
  "Art. 5 interoperability: another country's system must work with yours from the protocol alone."

NODE_PORT="${PTX_EXAMPLE_NODE_PORT:-8601}"
FIXED_PORT=$((NODE_PORT + 1))
MY_NODE="http://127.0.0.1:$NODE_PORT"

step "Create the folders: your country BB, a partner country AA and a test gateway, each a party of its own."
shell 0 "ptx init | grep created"
say "workspace/parties/BB is your node's folder. The kit uses only the other two, as a tester would:" \
  "AA is the tester's own country, and the gateway folder is the tester's test gateway (ptx gateway init)," \
  "whose package your node joined. The kit signs deliveries with that test gateway's key."

step "Start your node: my_node.py, a small stand-in for the one your country builds (edit it freely)."
bring my_node.py
background my-node "$PYTHON" my_node.py --folder workspace/parties/BB --port "$NODE_PORT"
MY_NODE_PID=$!
ready "$MY_NODE/healthz" my-node
saw "Your node listens at {MY_NODE}/v1/inbox. It checks every envelope with the ptx engine and its own trust," \
  "and answers receipts signed with BB's node key."

step "Run the kit against it: the kit plays the gateway and sends valid and faulty deliveries."
run 1 ptx conformance node "$MY_NODE" --workspace workspace/parties/AA --gateway-workspace workspace/parties/gateway
seen "pass            node.valid[certificate-of-origin]" "pass            node.tampered-document" \
  "FAIL            node.delivery-unauthenticated" "expected 401 (not delivered by the gateway), got 200" \
  "failed scenarios: node.delivery-unauthenticated, node.delivery-wrong-key, node.delivery-other-message, node.delivery-stale"
saw "Exit status 1: four scenarios failed, each with the clause it tests (P-DLV-2, P-DLV-3 in docs/protocol.md)." \
  "Your node takes a delivery from anyone: it never checks the PTX-Delivery header, so whoever copies an" \
  "envelope can post it straight to your inbox and your node signs a receipt for it."

step "Fix it: verify the gateway's signature on the delivery before anything else (the library's verify_delivery)."
ok cp my_node.py my_node.py.before
replace my_node.py "problems = []  # who sent this? nobody checks yet" \
  "problems = verify_delivery(header, body, message_id, gateway, moment=now)"
shell 1 "diff -u my_node.py.before my_node.py"
seen "-        problems = []  # who sent this? nobody checks yet" \
  "+        problems = verify_delivery(header, body, message_id, gateway, moment=now)"
saw "One line: a delivery must be signed by the gateway certificate your folder holds, for this message id and" \
  "these bytes, within five minutes of your clock; anything else is answered 401 and not recorded."

step "Restart your node with the fix and run the kit again, this time also writing the HTML report."
kill "$MY_NODE_PID" 2>/dev/null || true
wait "$MY_NODE_PID" 2>/dev/null || true
MY_NODE="http://127.0.0.1:$FIXED_PORT"
background my-node-fixed "$PYTHON" my_node.py --folder workspace/parties/BB --port "$FIXED_PORT"
ready "$MY_NODE/healthz" my-node-fixed
ok ptx conformance node "$MY_NODE" --workspace workspace/parties/AA --gateway-workspace workspace/parties/gateway
seen "pass            node.delivery-unauthenticated" "pass            node.delivery-stale" \
  "20 passed, 0 failed, 1 not applicable"
ok ptx conformance node "$MY_NODE" --workspace workspace/parties/AA --gateway-workspace workspace/parties/gateway \
  --format html --out conformance.html
seen "report written to conformance.html"
saw "Every scenario passes; the revoked issuer is not applicable until you revoke one of AA's issuers and name it" \
  "(--revoked-issuer). conformance.html is one file you can send to your partner: no script, nothing to load."

finish "Your node now does what docs/protocol.md asks of a node, and the kit shows it clause by clause."
