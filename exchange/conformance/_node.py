"""Testing a single-window node: the kit plays the gateway that delivers to it.

The tester holds their own country's folder (the sender: its authorities sign documents, its node signs
envelopes), the node's public package imported into it (to verify its receipts), and a *test gateway* folder
(``ptx gateway init``) whose package the node under test joined: the kit signs each delivery's ``PTX-Delivery``
header with that gateway's key, as the gateway does (docs/protocol.md, "Testing a node"). Everything goes to
``POST {url}/v1/inbox`` over HTTP(S); nothing else of the node is used.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

import httpx

from exchange import DELIVERY_HEADER, Credential, ReceiptStatus, sign_delivery
from exchange.conformance._material import ROUTE_TYPE, UNKNOWN_RECEIVER, Material, Messages, now
from exchange.conformance._model import SCENARIOS, Result, Target
from exchange.conformance._play import Log, fail, not_applicable, play

XML = {"content-type": "application/xml"}
#: outside the node's clock skew window (docs/protocol.md P-DLV-3: at most 5 minutes)
STALE = timedelta(minutes=30)


@dataclass(frozen=True)
class NodeTarget:
    """The node under test: its inbox URL and the country it serves (whose package the tester imported)."""

    url: str
    country: str

    @property
    def inbox(self) -> str:
        return f"{self.url.rstrip('/')}/v1/inbox"


def codes_of(reasons: Iterable[object]) -> list[str]:
    return [str(getattr(reason, "code", "")) for reason in reasons]


class NodeSuite:
    """The node scenarios (:data:`exchange.conformance.SCENARIOS`, target ``node``)."""

    def __init__(self, material: Material, gateway: Credential, target: NodeTarget, *, client: httpx.Client,
                 revoked_issuer: str | None = None) -> None:
        self.material = material
        self.gateway = gateway
        self.target = target
        self.client = client
        self.revoked_issuer = revoked_issuer
        self.country = material.country
        self.messages = Messages(material, target.country, revoked_issuer=revoked_issuer)

    # --- sending ---------------------------------------------------------------------------------------------

    def deliver(self, log: Log, envelope: bytes, message_id: str, *, header: str | None = "gateway",
                what: str = "") -> httpx.Response:
        """POST ``envelope`` to the inbox; ``header`` "gateway" signs it as the test gateway, None sends none, any
        other string is sent as it is."""
        headers = dict(XML)
        signed_by = "no PTX-Delivery header"
        if header == "gateway":
            headers[DELIVERY_HEADER] = sign_delivery(envelope, message_id, self.gateway.key, moment=now())
            signed_by = "PTX-Delivery signed by the test gateway"
        elif header is not None:
            headers[DELIVERY_HEADER] = header
            signed_by = f"PTX-Delivery: {header[:90]}"
        response = self.client.post(self.target.inbox, content=envelope, headers=headers)
        return log.request(f"POST {self.target.inbox} ({what or 'envelope'}, message {message_id}, "
                           f"{len(envelope):,} bytes, {signed_by})", response)

    def valid_envelope(self, type_id: str = Messages.TYPE) -> tuple[str, bytes]:
        made = self.messages.valid(type_id)
        return made.message_id, made.envelope

    # --- judging -----------------------------------------------------------------------------------------------

    def receipt(self, log: Log, response: httpx.Response, envelope: bytes, message_id: str,
                status: ReceiptStatus) -> list[str]:
        """The verified receipt's reason codes, or a failure saying what is wrong with the answer."""
        if response.status_code != 200:
            raise fail(f"expected 200 with a signed receipt, got {response.status_code}")
        media = response.headers.get("content-type", "").split(";")[0].strip()
        if media not in ("application/xml", "text/xml"):
            raise fail(f"expected the receipt as application/xml, got {media or 'no media type'}")
        check = self.material.check_receipt(response.content, envelope=envelope, message_id=message_id,
                                            receiver=self.target.country)
        log.note("verify the receipt under the node's published package", "verified" if check.verified else
                 "; ".join(f"{f.code}: {f.message}" for f in check.findings))
        if not check.verified or check.receipt is None:
            raise fail("the receipt does not verify under the node's published package: "
                       + "; ".join(f"{f.code}: {f.message}" for f in check.findings))
        if check.receipt.status is not status:
            errors = [f"{r.code}: {r.message}" for r in check.receipt.reasons]
            raise fail(f"the receipt says {check.receipt.status.value}, expected {status.value}"
                       + (f" (reasons: {'; '.join(errors)})" if errors else ""))
        return codes_of(reason for reason in check.receipt.reasons if reason.is_error)

    def rejected(self, log: Log, envelope: bytes, message_id: str, expected: Callable[[str], bool],
                 expectation: str, *, what: str) -> str:
        response = self.deliver(log, envelope, message_id, what=what)
        codes = self.receipt(log, response, envelope, message_id, ReceiptStatus.REJECTED)
        if not codes:
            raise fail("the REJECTED receipt carries no error reason with a code")
        if not any(expected(code) for code in codes):
            raise fail(f"the receipt's codes {', '.join(codes)} do not include {expectation}")
        return f"signed REJECTED receipt with {', '.join(codes)}"

    def refused_401(self, log: Log, envelope: bytes, message_id: str, header: str | None, what: str) -> str:
        response = self.deliver(log, envelope, message_id, header=header, what=what)
        if response.status_code != 401:
            raise fail(f"expected 401 (not delivered by the gateway), got {response.status_code}")
        # the refused delivery must not have been taken: the same message, properly delivered, is answered fresh
        proper = self.deliver(log, envelope, message_id, what="the same envelope, now delivered by the gateway")
        self.receipt(log, proper, envelope, message_id, ReceiptStatus.RECEIVED)
        return "401, and the same envelope delivered by the gateway afterwards is received normally"

    # --- scenarios ---------------------------------------------------------------------------------------------

    def run(self) -> list[Result]:
        results = [play(SCENARIOS["node.package"], "node.package", self.package)]
        moment = now()
        types = self.country.flow_types(self.target.country, self.material.catalogue, moment)
        if not types:
            results.append(play(SCENARIOS["node.valid"], "node.valid", self.no_flow))
        for type_id in types:
            results.append(play(SCENARIOS["node.valid"], f"node.valid[{type_id}]", partial(self.valid, type_id=type_id)))
        for scenario_id, body in (
            ("node.duplicate", self.duplicate),
            ("node.replay-other-bytes", self.replay_other_bytes),
            ("node.tampered-document", self.tampered),
            ("node.unauthorised-issuer", self.unauthorised),
            ("node.revoked-issuer", self.revoked),
            ("node.unknown-receiver", self.unknown_receiver),
            ("node.payload-mismatch", self.payload_mismatch),
            ("node.unsigned-envelope", self.unsigned_envelope),
            ("node.wrong-envelope-signer", self.wrong_signer),
            ("node.delivery-unauthenticated", self.no_header),
            ("node.delivery-wrong-key", self.wrong_key),
            ("node.delivery-other-message", self.other_message),
            ("node.delivery-stale", self.stale),
            ("node.several-receivers-without-route", self.several_without_route),
            ("node.transit-receiver", self.transit_receiver),
        ):
            results.append(play(SCENARIOS[scenario_id], scenario_id, body))
        return results

    def package(self, log: Log) -> str:
        held = self.country.workspace.held_package(self.target.country)
        if held is None:
            raise fail(f"{self.country.workspace.path} holds no package of {self.target.country}: import the "
                       "node's package first (ptx country import PKG --anchor-sha256 ...)")
        log.note(f"read partners/{self.target.country}/package.json of the tester's folder",
                 f"sequence {held.manifest.sequence}, {len(held.manifest.nodes)} node certificate(s)")
        if not held.manifest.nodes:
            raise fail("the package names no node certificate")
        return f"package of {self.target.country} verifies under its anchor (sequence {held.manifest.sequence})"

    def no_flow(self, log: Log) -> str:
        raise fail(f"no agreement in force lets a type flow from {self.country.code} to {self.target.country}")

    def valid(self, log: Log, type_id: str) -> str:
        message_id, envelope = self.valid_envelope(type_id)
        response = self.deliver(log, envelope, message_id, what=f"valid {type_id}")
        self.receipt(log, response, envelope, message_id, ReceiptStatus.RECEIVED)
        return "200 with a RECEIVED receipt signed by the node's registered certificate, naming the message id " \
               "and the SHA-256 of the bytes delivered"

    def duplicate(self, log: Log) -> str:
        message_id, envelope = self.valid_envelope()
        first = self.deliver(log, envelope, message_id, what="valid certificate-of-origin")
        self.receipt(log, first, envelope, message_id, ReceiptStatus.RECEIVED)
        again = self.deliver(log, envelope, message_id, what="the same bytes again (a redelivery)")
        if again.status_code != 200:
            raise fail(f"expected 200 for a redelivery of the same bytes, got {again.status_code}")
        if again.content != first.content:
            raise fail("the redelivery was answered with a different receipt: a redelivery must get the same one")
        return "the redelivery got the same signed receipt, byte for byte"

    def replay_other_bytes(self, log: Log) -> str:
        message_id, envelope = self.valid_envelope()
        first = self.deliver(log, envelope, message_id, what="valid certificate-of-origin")
        self.receipt(log, first, envelope, message_id, ReceiptStatus.RECEIVED)
        other = self.messages.valid(message_id=message_id, created=now() + timedelta(seconds=1)).envelope
        if other == envelope:  # pragma: no cover - the creation time differs
            raise fail("could not make other bytes for the same message id")
        replay = self.deliver(log, other, message_id, what="other bytes under the same message id")
        if replay.status_code != 409:
            raise fail(f"expected 409 for the same message id with other bytes, got {replay.status_code}")
        return "409: the message id is taken by other bytes, the earlier message stands"

    def faulty(self, log: Log, kind: str, expected: Callable[[str], bool], expectation: str) -> str:
        made = self.messages.fault(kind)
        return self.rejected(log, made.envelope, made.message_id, expected, expectation, what=made.what)

    def tampered(self, log: Log) -> str:
        return self.faulty(log, "tampered", lambda code: code.startswith("SIG-"), "a SIG-* code")

    def unauthorised(self, log: Log) -> str:
        return self.faulty(log, "unauthorised", lambda code: code == "TRUST-ISSUER-NOT-AUTHORISED",
                           "TRUST-ISSUER-NOT-AUTHORISED")

    def revoked(self, log: Log) -> str:
        return self.faulty(log, "revoked", lambda code: code == "TRUST-CERT-REVOKED", "TRUST-CERT-REVOKED")

    def unknown_receiver(self, log: Log) -> str:
        return self.faulty(log, "unknown-receiver", lambda code: code.startswith("NODE-"), "a NODE-* code")

    def several_without_route(self, log: Log) -> str:
        made = self.messages.several_without_route()
        return self.rejected(log, made.envelope, made.message_id, lambda code: code == "NODE-ROUTE-MISMATCH",
                             "NODE-ROUTE-MISMATCH", what=made.what)

    def transit_receiver(self, log: Log) -> str:
        if ROUTE_TYPE not in self.country.flow_types(self.target.country, self.material.catalogue, now()):
            raise not_applicable(f"no agreement lets {ROUTE_TYPE} flow from {self.country.code} to "
                                 f"{self.target.country}")
        made = self.messages.route(UNKNOWN_RECEIVER, self.target.country)
        response = self.deliver(log, made.envelope, made.message_id, what=made.what)
        self.receipt(log, response, made.envelope, made.message_id, ReceiptStatus.RECEIVED)
        return (f"200 with its own RECEIVED receipt, one of the route's two receivers (the other, "
                f"{UNKNOWN_RECEIVER}, is not its concern)")

    def payload_mismatch(self, log: Log) -> str:
        return self.faulty(log, "payload-mismatch", lambda code: code == "NODE-PAYLOAD-MISMATCH",
                           "NODE-PAYLOAD-MISMATCH")

    def unsigned_envelope(self, log: Log) -> str:
        return self.faulty(log, "unsigned", lambda code: code.startswith(("SIG-", "NODE-SENDER")),
                           "a SIG-* or NODE-SENDER-* code")

    def wrong_signer(self, log: Log) -> str:
        return self.faulty(log, "wrong-signer", lambda code: code.startswith("NODE-SENDER"), "a NODE-SENDER-* code")

    def no_header(self, log: Log) -> str:
        message_id, envelope = self.valid_envelope()
        return self.refused_401(log, envelope, message_id, None, "valid envelope, straight from the sender")

    def wrong_key(self, log: Log) -> str:
        message_id, envelope = self.valid_envelope()
        header = sign_delivery(envelope, message_id, self.country.node.key, moment=now())
        return self.refused_401(log, envelope, message_id, header, "PTX-Delivery signed by the sender's node key")

    def other_message(self, log: Log) -> str:
        message_id, envelope = self.valid_envelope()
        _, other = self.valid_envelope()
        header = sign_delivery(other, message_id, self.gateway.key, moment=now())
        return self.refused_401(log, envelope, message_id, header,
                                "PTX-Delivery signed by the gateway for other bytes")

    def stale(self, log: Log) -> str:
        message_id, envelope = self.valid_envelope()
        header = sign_delivery(envelope, message_id, self.gateway.key, moment=now() - STALE)
        return self.refused_401(log, envelope, message_id, header, "PTX-Delivery signed 30 minutes ago")


def run_node_suite(material: Material, gateway: Credential, target: NodeTarget, *, client: httpx.Client,
                   revoked_issuer: str | None = None) -> list[Result]:
    """Every node scenario against ``target``, in order."""
    return NodeSuite(material, gateway, target, client=client, revoked_issuer=revoked_issuer).run()


__all__ = ["NodeSuite", "NodeTarget", "Target", "run_node_suite"]
