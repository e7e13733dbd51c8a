#!/usr/bin/env bash
# Exercise 09: revoke an issuing authority's certificate and watch its next document fail.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../_common.sh"

begin 09 "Revoke an issuer and watch the next document fail" \
  "Art. 8 mutual recognition is revocable: trust given to a partner's issuer can be withdrawn, and every receiver learns it."

step "Create the workspace, start the services, send a certificate of origin: all is well."
shell 0 "ptx init | grep created"
start_services
bring ../01-build-a-document/shipment.json
ok ptx send --type certificate-of-origin --data shipment.json --wait
seen "ACKNOWLEDGED"
ok ptx issue certificate-of-origin --data shipment.json --as AA/chamber-of-commerce --out coo-signed-before.xml
ok ptx issue customs-declaration --data "$REPO_DIR/schemas/customs-declaration/input.yaml" --as AA/customs --out customs-signed-before.xml
before=$(date -u +%Y-%m-%dT%H:%M:%SZ)
sleep 1
saw "Delivered and acknowledged. We also keep two documents signed now, at {before}, for step 6."

step "AA revokes its chamber of commerce's certificate (say its private key was stolen)."
ok ptx pki revoke AA/chamber-of-commerce --reason key-compromise
seen "revoked AA Chamber of Commerce" "CRL number 2" "AA trust list sequence 2"
saw "AA's issuing CA published a new revocation list (CRL) and AA a new signed trust list (sequence 2)."

step "Look at AA's trust list again."
ok ptx trust show AA
seen "sequence 2" "1 revoked"
saw "The chamber's certificate is now on the CRL. Every party that reads AA's list sees it."

step "The chamber signs and sends another certificate of origin."
refused ptx send --type certificate-of-origin --data shipment.json --wait
seen ": REJECTED" "issuer-trust: TRUST-CERT-REVOKED"
saw "REJECTED by the gateway: TRUST-CERT-REVOKED. The signature is mathematically fine; the signer is no longer trusted."

step "The other AA authorities are not affected: send a phytosanitary certificate."
ok ptx send --type phytosanitary-certificate --data "$REPO_DIR/schemas/phytosanitary-certificate/input.yaml" --wait
seen "ACKNOWLEDGED"
saw "Signed by AA's NPPO: accepted. Revocation withdraws trust in one issuer, not in a whole country."

step "What about documents signed before a revocation? It depends on the reason."
refused ptx verify coo-signed-before.xml --receiver BB --as-of "$before"
seen TRUST-CERT-REVOKED
saw "The chamber's key was compromised: whoever stole it can sign with any date, so even a certificate" \
  "judged as of {before}, before the revocation, is refused. keyCompromise taints earlier signatures too."
ok ptx pki revoke AA/customs --reason superseded
seen "revoked AA Customs" "reason superseded"
refused ptx verify customs-signed-before.xml --receiver BB
seen TRUST-CERT-REVOKED
ok ptx verify customs-signed-before.xml --receiver BB --as-of "$before"
seen "VALID customs-signed-before.xml"
saw "AA customs' certificate was replaced (superseded), not stolen. Judged now, its declaration fails; judged as of" \
  "{before}, before the revocation, it is valid: an ordinary revocation is not retroactive. The receiver needs" \
  "trustworthy evidence of that time, such as the gateway's receipt or audit log (exercise 11)."

finish "Revocation takes effect on the next document. Exercise 10 shows the other mistakes the gateway catches."
