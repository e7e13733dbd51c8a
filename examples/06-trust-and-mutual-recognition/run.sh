#!/usr/bin/env bash
# Exercise 06: trust lists and mutual recognition: who may sign what, and whose signatures a country accepts.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../_common.sh"

begin 06 "Trust lists and mutual recognition" \
  "Art. 8 mutual recognition of trade data and documents that give a substantially equivalent level of reliability; Art. 5 transboundary trust."

step "Create the workspace and read AA's trust list, the way BB reads it."
shell 0 "ptx init | grep created"
ok ptx trust show AA
seen "signature verified" "AA Root CA" "AA Chamber of Commerce" "certificate-of-origin" "CRL of AA Issuing CA"
saw "AA publishes a signed list: its root (the trust anchor), each authority and the document types it may" \
  "issue, and its revocation lists (CRLs). BB checks the list's signature before using any of it."

step "A certificate of origin signed by AA's chamber of commerce, verified by BB."
bring ../01-build-a-document/shipment.json
ok ptx issue certificate-of-origin --data shipment.json --as AA/chamber-of-commerce --out coo.signed.xml
ok ptx verify coo.signed.xml --receiver BB
seen "VALID coo.signed.xml"
saw "Recognised: the chain ends at AA's root, the AA-BB agreement recognises AA's list for certificates of origin," \
  "and AA's list authorises the chamber to issue them."

step "The wrong authority: AA's plant-protection organisation (NPPO) signs a certificate of origin."
ok ptx issue certificate-of-origin --data shipment.json --as AA/nppo --out coo-by-nppo.xml
refused ptx verify coo-by-nppo.xml --receiver BB
seen TRUST-ISSUER-NOT-AUTHORISED
saw "TRUST-ISSUER-NOT-AUTHORISED: the signature is genuine and the NPPO is a real AA authority, but AA's list" \
  "authorises it for phytosanitary certificates only. Recognition is per issuer and per document type."

step "A third country, CC, that BB has no agreement with, issues a certificate of origin."
shell 0 "ptx init --workspace cc-workspace --countries CC,DD | grep created"
ok ptx issue certificate-of-origin --data shipment.json --as CC/chamber-of-commerce --workspace cc-workspace --out coo-from-cc.xml
refused ptx verify coo-from-cc.xml --receiver BB
seen TRUST-CHAIN-UNTRUSTED
saw "TRUST-CHAIN-UNTRUSTED: the document is intact and properly signed, but its chain leads to CC's root," \
  "which BB has never been given. A certificate is never trusted just because it is inside the document."

step "BB obtains CC's trust list and root certificate (out of band, e.g. from CC's website) and imports them."
ok ptx trust anchor CC --workspace cc-workspace --out cc-root.pem
ok ptx trust export CC --workspace cc-workspace --out cc-trust-list.xml
ok ptx trust import cc-trust-list.xml --anchor cc-root.pem
seen "imported the trust list of CC" "not recognised until an agreement names it"
refused ptx verify coo-from-cc.xml --receiver BB
seen TRUST-NOT-RECOGNISED
saw "Now BB knows CC's keys and can tell the document really comes from CC's chamber; still TRUST-NOT-RECOGNISED." \
  "Knowing is not recognising: recognition is a decision between countries (Art. 8), written in an agreement."

step "Recognition is BB's own decision, kept in BB's own folder: BB stops recognising AA's certificates of origin."
shell 0 "cat workspace/parties/BB/recognition.yaml | head -8"
ok ptx country recognise AA --types commercial-invoice,customs-declaration,envelope,receipt --dir workspace/parties/BB
seen "BB recognises AA for commercial-invoice"
refused ptx verify coo.signed.xml --receiver BB --workspace workspace/parties/BB
seen TRUST-NOT-RECOGNISED
saw "The same document that was VALID in step 2 is no longer recognised by BB. No code changed, and AA was not" \
  "asked: which partner issuers and types a country recognises is that country's data (ptx country recognise/withdraw)."

step "The agreement both countries signed cannot be edited quietly: change one letter and it is refused."
ok ptx agreement verify workspace/agreements/AA-BB.json
seen "verifies: signed by AA and BB"
replace workspace/agreements/AA-BB.json '"payload": "IyBCaWxh' '"payload": "IyBDaWxh'
run 2 ptx agreement verify workspace/agreements/AA-BB.json
seen AGREEMENT-SIGNATURE-INVALID
saw "AGREEMENT-SIGNATURE-INVALID: each country signed the agreement with its trust-list signer. A gateway or a" \
  "participant who changes a flow or a date breaks both signatures, and every service that relies on it refuses it."

finish "Trust is explicit: anchors, per-type authorisations, each country's recognition and signed agreements. Exercise 07 sends a document through the gateway."
