"""Testing a gateway: the kit plays a sending node and the receiving node's inbox.

The tester holds two country folders of their own, both admitted by the gateway under test with an agreement
between them: the *sender* (its authorities sign documents, its node signs envelopes and the reads of their
status) and the *receiver*, whose inbox the kit serves itself (:mod:`exchange.conformance._probe`), so it sees
exactly what the gateway forwards and how. Both folders joined the gateway's public package: the kit checks the
gateway's delivery headers and rejection reports under that certificate. Submissions go to
``POST {url}/v1/messages``, tracking to ``GET {url}/v1/messages/{id}`` and ``.../receipt``, signed as the sender's
node (RFC 9421); nothing else of the gateway is used.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any

import httpx

from exchange import sign_request
from exchange.conformance._material import ROUTE_TYPE, UNKNOWN_RECEIVER, Material, Messages, now
from exchange.conformance._model import SCENARIOS, Result
from exchange.conformance._play import Log, fail, not_applicable, play
from exchange.conformance._probe import Delivery, Probe

XML = {"content-type": "application/xml"}
#: statuses after which a message changes no more
FINAL = frozenset({"REJECTED", "ACKNOWLEDGED", "RECEIVER_REJECTED"})


@dataclass(frozen=True)
class GatewayTarget:
    """The gateway under test and the receiver country whose inbox the kit plays."""

    url: str
    receiver: str
    #: how long the kit waits for a delivery or a status (seconds)
    timeout: float = 30.0
    #: how long the kit watches the inbox for what must not arrive (seconds)
    settle: float = 3.0

    def messages(self, path: str = "") -> str:
        return f"{self.url.rstrip('/')}/v1/messages{path}"


def _sha256(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


class GatewaySuite:
    """The gateway scenarios (:data:`exchange.conformance.SCENARIOS`, target ``gateway``)."""

    def __init__(self, material: Material, probe: Probe, target: GatewayTarget, *, client: httpx.Client,
                 revoked_issuer: str | None = None) -> None:
        self.material = material
        self.probe = probe
        self.target = target
        self.client = client
        self.revoked_issuer = revoked_issuer
        self.country = material.country
        self.messages = Messages(material, target.receiver, revoked_issuer=revoked_issuer)
        #: SHA-256 of every submission the gateway refused (it must never reach the inbox)
        self.refused: dict[str, str] = {}

    # --- talking to the gateway --------------------------------------------------------------------------

    def submit(self, log: Log, envelope: bytes, message_id: str, what: str) -> httpx.Response:
        response = self.client.post(self.target.messages(), content=envelope, headers=XML)
        log.request(f"POST {self.target.messages()} ({what}, message {message_id}, {len(envelope):,} bytes)",
                    response)
        if response.status_code >= 400:
            self.refused[_sha256(envelope)] = message_id
        return response

    def read(self, log: Log | None, path: str) -> httpx.Response:
        """A read signed with the sender's node key, as the sending node reads its messages."""
        url = self.target.messages(path)
        headers = sign_request("GET", url, party=self.country.code, key=self.country.node.key, moment=now())
        response = self.client.get(url, headers=headers)
        if log is not None:
            log.request(f"GET {url} (signed by {self.country.code}'s node key)", response)
        return response

    def valid_envelope(self, type_id: str = Messages.TYPE) -> tuple[str, bytes]:
        made = self.messages.valid(type_id)
        return made.message_id, made.envelope

    def accepted(self, log: Log, envelope: bytes, message_id: str, what: str) -> dict[str, Any]:
        response = self.submit(log, envelope, message_id, what)
        if response.status_code != 202:
            raise fail(f"expected 202 (accepted), got {response.status_code}: {response.text[:300]}")
        answer = _json(response)
        missing = [key for key in ("message_id", "verdict", "status", "checks", "received_at") if key not in answer]
        if missing:
            raise fail(f"the 202 answer lacks {', '.join(missing)}")
        if answer["message_id"] != message_id:
            raise fail(f"the answer names message {answer['message_id']!r}, not the envelope's {message_id!r}")
        if answer["verdict"] != "ACCEPTED":
            raise fail(f"the 202 answer's verdict is {answer['verdict']!r}, not ACCEPTED")
        return answer

    def delivered(self, log: Log, envelope: bytes, message_id: str) -> Delivery:
        """The first delivery of ``message_id`` to the inbox, judged: exact bytes, authentic header."""
        seen = self.probe.wait(lambda deliveries: any(d.message_id == message_id for d in deliveries),
                               self.target.timeout)
        delivery = next((d for d in seen if d.message_id == message_id), None)
        if delivery is None:
            raise fail(f"no delivery of {message_id} reached the receiver's inbox within {self.target.timeout:g} s")
        log.note(f"the receiver's inbox (the kit) took a delivery of {message_id}",
                 f"{len(delivery.body):,} bytes; PTX-Delivery {'verifies' if delivery.authentic else 'refused: '}"
                 f"{delivery.problem}; answered {delivery.status}")
        if delivery.body != envelope:
            raise fail("the delivered bytes are not the bytes submitted")
        if not delivery.authentic:
            raise fail(f"the delivery is not authenticated by the gateway: {delivery.problem}")
        return delivery

    def status(self, log: Log, message_id: str, wanted: str) -> dict[str, Any]:
        deadline = time.monotonic() + self.target.timeout
        record: dict[str, Any] = {}
        while time.monotonic() < deadline:
            response = self.read(None, f"/{message_id}")
            if response.status_code != 200:
                log.request(f"GET {self.target.messages(f'/{message_id}')} (signed)", response)
                raise fail(f"tracking the message answered {response.status_code}")
            record = _json(response)
            if record.get("status") == wanted or record.get("status") in FINAL:
                break
            time.sleep(0.1)
        log.note(f"GET {self.target.messages(f'/{message_id}')} (signed by {self.country.code}'s node key)",
                 f"status {record.get('status')}; history "
                 + " -> ".join(str(change.get("status")) for change in record.get("history") or ()))
        if record.get("status") != wanted:
            raise fail(f"the message's status is {record.get('status')!r}, expected {wanted}")
        _check_history(record.get("history") or [])
        return record

    def refused_with(self, log: Log, envelope: bytes, message_id: str, statuses: tuple[int, ...],
                     expected: Callable[[str], bool], expectation: str, what: str) -> str:
        response = self.submit(log, envelope, message_id, what)
        if response.status_code not in statuses:
            raise fail(f"expected {' or '.join(map(str, statuses))}, got {response.status_code}")
        answer = _json(response)
        encoded = answer.get("rejection_report")
        if not encoded:
            raise fail("the refusal carries no rejection_report")
        try:
            report = base64.b64decode(str(encoded), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise fail("the rejection_report is not base64") from exc
        check = self.material.check_rejection(report, submitted=envelope, message_id=message_id)
        log.note("verify the rejection report under the gateway's certificate",
                 "verified" if check.verified else "; ".join(f"{f.code}: {f.message}" for f in check.findings))
        if not check.verified or check.rejection is None:
            raise fail("the rejection report does not verify: "
                       + "; ".join(f"{f.code}: {f.message}" for f in check.findings))
        if check.rejection.http_status != response.status_code:
            raise fail(f"the report says HTTP {check.rejection.http_status}, the answer was {response.status_code}")
        codes = [finding.code for finding in check.rejection.findings if finding.is_error]
        if not codes:
            raise fail("the rejection report carries no error finding")
        if not any(expected(code) for code in codes):
            raise fail(f"the report's codes {', '.join(codes)} do not include {expectation}")
        return f"{response.status_code} with a signed rejection report: {', '.join(dict.fromkeys(codes))}"

    # --- scenarios -----------------------------------------------------------------------------------------

    def run(self) -> list[Result]:
        results: list[Result] = []
        types = self.country.flow_types(self.target.receiver, self.material.catalogue, now())
        if not types:
            results.append(play(SCENARIOS["gateway.valid"], "gateway.valid", self.no_flow))
        for type_id in types:
            results.append(play(SCENARIOS["gateway.valid"], f"gateway.valid[{type_id}]", partial(self.valid, type_id=type_id)))
        for scenario_id, body in (
            ("gateway.duplicate", self.duplicate),
            ("gateway.replay-other-bytes", self.replay_other_bytes),
            ("gateway.tampered-document", self.tampered),
            ("gateway.unauthorised-issuer", self.unauthorised),
            ("gateway.revoked-issuer", self.revoked),
            ("gateway.unknown-receiver", self.unknown_receiver),
            ("gateway.payload-mismatch", self.payload_mismatch),
            ("gateway.unsigned-envelope", self.unsigned_envelope),
            ("gateway.wrong-envelope-signer", self.wrong_signer),
            ("gateway.retry-keeps-message-id", self.retry),
            ("gateway.transit-receiver-unknown", self.transit_unknown),
            ("gateway.route-deliveries", self.route_deliveries),
            ("gateway.not-forwarded", self.not_forwarded),
        ):
            results.append(play(SCENARIOS[scenario_id], scenario_id, body))
        return results

    def no_flow(self, log: Log) -> str:
        raise fail(f"no agreement in force lets a type flow from {self.country.code} to {self.target.receiver}")

    def valid(self, log: Log, type_id: str) -> str:
        message_id, envelope = self.valid_envelope(type_id)
        self.accepted(log, envelope, message_id, f"valid {type_id}")
        delivery = self.delivered(log, envelope, message_id)
        self.status(log, message_id, "ACKNOWLEDGED")
        response = self.read(log, f"/{message_id}/receipt")
        if response.status_code != 200:
            raise fail(f"the receipt could not be read: {response.status_code}")
        if response.content != delivery.answer:
            raise fail("the receipt the gateway returns is not the one the receiver signed, byte for byte")
        check = self.material.check_receipt(response.content, envelope=envelope, message_id=message_id,
                                            receiver=self.target.receiver)
        if not check.verified:
            raise fail("the receipt does not verify under the receiver's package: "
                       + "; ".join(f"{f.code}: {f.message}" for f in check.findings))
        return "202, delivered byte for byte with a valid PTX-Delivery header, ACKNOWLEDGED, and the receiver's " \
               "signed receipt returned unchanged"

    def duplicate(self, log: Log) -> str:
        message_id, envelope = self.valid_envelope()
        first = self.accepted(log, envelope, message_id, "valid certificate-of-origin")
        self.delivered(log, envelope, message_id)
        again = self.client.post(self.target.messages(), content=envelope, headers=XML)
        log.request(f"POST {self.target.messages()} (the same bytes again, message {message_id})", again)
        if again.status_code != 200:
            raise fail(f"expected 200 (identical resend: the earlier answer), got {again.status_code}")
        answer = _json(again)
        if answer.get("message_id") != message_id:
            raise fail(f"the resend's answer names message {answer.get('message_id')!r}, not {message_id!r}")
        if answer.get("verdict") != first["verdict"]:
            raise fail(f"the resend's verdict {answer.get('verdict')!r} is not the earlier {first['verdict']!r}")
        time.sleep(self.target.settle)
        count = len([d for d in self.probe.of(message_id) if d.status == 200])
        if count != 1:
            raise fail(f"the receiver took {count} deliveries of the message; the resend must not be delivered again")
        return "200 with the earlier answer (same message id and verdict), delivered once"

    def replay_other_bytes(self, log: Log) -> str:
        message_id, envelope = self.valid_envelope()
        self.accepted(log, envelope, message_id, "valid certificate-of-origin")
        other = self.messages.valid(message_id=message_id, created=now() + timedelta(seconds=1)).envelope
        return self.refused_with(log, other, message_id, (409,), lambda code: code.endswith("DUPLICATE-CONFLICT"),
                                 "a *-DUPLICATE-CONFLICT code", "other bytes under the same message id")

    def faulty(self, log: Log, kind: str, statuses: tuple[int, ...], expected: Callable[[str], bool],
               expectation: str) -> str:
        made = self.messages.fault(kind)
        return self.refused_with(log, made.envelope, made.message_id, statuses, expected, expectation, made.what)

    def tampered(self, log: Log) -> str:
        return self.faulty(log, "tampered", (422,), lambda code: code.startswith("SIG-"), "a SIG-* code")

    def unauthorised(self, log: Log) -> str:
        return self.faulty(log, "unauthorised", (422,), lambda code: code == "TRUST-ISSUER-NOT-AUTHORISED",
                           "TRUST-ISSUER-NOT-AUTHORISED")

    def revoked(self, log: Log) -> str:
        return self.faulty(log, "revoked", (422,), lambda code: code == "TRUST-CERT-REVOKED", "TRUST-CERT-REVOKED")

    def unknown_receiver(self, log: Log) -> str:
        return self.faulty(log, "unknown-receiver", (403, 422), lambda code: code.startswith("GW-"), "a GW-* code")

    def payload_mismatch(self, log: Log) -> str:
        return self.faulty(log, "payload-mismatch", (422,), lambda code: code == "GW-PAYLOAD-MISMATCH",
                           "GW-PAYLOAD-MISMATCH")

    def _route_flows(self) -> None:
        if ROUTE_TYPE not in self.country.flow_types(self.target.receiver, self.material.catalogue, now()):
            raise not_applicable(f"no agreement lets {ROUTE_TYPE} flow from {self.country.code} to "
                                 f"{self.target.receiver}")

    def transit_unknown(self, log: Log) -> str:
        self._route_flows()
        made = self.messages.route(UNKNOWN_RECEIVER, self.target.receiver)
        return self.refused_with(log, made.envelope, made.message_id, (403,),
                                 lambda code: code == "GW-RECEIVER-UNKNOWN", "GW-RECEIVER-UNKNOWN", made.what)

    def route_deliveries(self, log: Log) -> str:
        self._route_flows()
        made = self.messages.route(self.target.receiver)
        self.accepted(log, made.envelope, made.message_id, made.what)
        self.delivered(log, made.envelope, made.message_id)
        record = self.status(log, made.message_id, "ACKNOWLEDGED")
        deliveries = record.get("deliveries")
        if not isinstance(deliveries, list) or [(d.get("receiver"), d.get("status")) for d in deliveries
                                                if isinstance(d, dict)] != [(self.target.receiver, "ACKNOWLEDGED")]:
            raise fail(f"the record's deliveries are {deliveries!r}, expected one ACKNOWLEDGED delivery to "
                       f"{self.target.receiver}")
        response = self.read(log, f"/{made.message_id}/receipt?receiver={self.target.receiver}")
        if response.status_code != 200:
            raise fail(f"the receiver's receipt (?receiver={self.target.receiver}) could not be read: "
                       f"{response.status_code}")
        check = self.material.check_receipt(response.content, envelope=made.envelope, message_id=made.message_id,
                                            receiver=self.target.receiver)
        if not check.verified:
            raise fail("the receiver's receipt does not verify: "
                       + "; ".join(f"{f.code}: {f.message}" for f in check.findings))
        return (f"202, delivered; the record has one delivery per receiver ({self.target.receiver}: ACKNOWLEDGED) "
                "and that receiver's receipt verifies")

    def unsigned_envelope(self, log: Log) -> str:
        return self.faulty(log, "unsigned", (401,), lambda code: code.startswith(("SIG-", "GW-SENDER")),
                           "a SIG-* or GW-SENDER-* code")

    def wrong_signer(self, log: Log) -> str:
        return self.faulty(log, "wrong-signer", (401, 403), lambda code: code.startswith("GW-SENDER"),
                           "a GW-SENDER-* code")

    def retry(self, log: Log) -> str:
        message_id, envelope = self.valid_envelope()
        self.probe.fail_once(message_id)
        self.accepted(log, envelope, message_id, "valid certificate-of-origin (the inbox answers 503 once)")
        seen = self.probe.wait(lambda deliveries: sum(d.body == envelope for d in deliveries) >= 2,
                               self.target.timeout)
        attempts = [d for d in seen if d.body == envelope]
        for number, delivery in enumerate(attempts, start=1):
            log.note(f"delivery {number} to the receiver's inbox", f"message id {delivery.message_id}, "
                     f"{'authentic' if delivery.authentic else delivery.problem}; answered {delivery.status}")
        if len(attempts) < 2:
            raise fail(f"the gateway did not deliver again within {self.target.timeout:g} s after a 503")
        again = attempts[1]
        if again.message_id != message_id:
            raise fail(f"the second delivery names message {again.message_id!r}: a resend must keep {message_id!r}")
        if not again.authentic:
            raise fail(f"the second delivery is not authenticated by the gateway: {again.problem}")
        self.status(log, message_id, "ACKNOWLEDGED")
        return "after a 503 the same bytes came again under the same message id, then ACKNOWLEDGED"

    def not_forwarded(self, log: Log) -> str:
        time.sleep(self.target.settle)
        arrived = [d for d in self.probe.deliveries() if _sha256(d.body) in self.refused]
        log.note(f"the receiver's inbox after {self.target.settle:g} s",
                 f"{len(self.probe.deliveries())} deliveries; {len(self.refused)} refused submissions watched")
        if not self.refused:
            raise not_applicable("no submission was refused in this run")
        if arrived:
            names = ", ".join(sorted({self.refused[_sha256(d.body)] for d in arrived}))
            raise fail(f"refused submissions reached the receiver's inbox: {names}")
        return f"none of the {len(self.refused)} refused submissions reached the receiver's inbox"


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        value = response.json()
    except ValueError as exc:
        raise fail(f"the answer is not JSON: {response.text[:200]!r}") from exc
    if not isinstance(value, dict):
        raise fail("the answer is not a JSON object")
    return value


def _check_history(history: list[dict[str, Any]]) -> None:
    """Every move of the history is one the protocol allows (docs/protocol.md, P-STATUS-2)."""
    from gateway._status import MessageStatus

    statuses = [str(change.get("status")) for change in history]
    for old, new in zip(statuses, statuses[1:], strict=False):
        try:
            allowed = MessageStatus(old).can_become(MessageStatus(new))
        except ValueError as exc:
            raise fail(f"the history names an unknown status ({old!r} or {new!r})") from exc
        if not allowed:
            raise fail(f"the history moves from {old} to {new}, which the protocol does not allow")


def run_gateway_suite(material: Material, probe: Probe, target: GatewayTarget, *, client: httpx.Client,
                      revoked_issuer: str | None = None) -> list[Result]:
    """Every gateway scenario against ``target``, in order (the probe must be listening)."""
    return GatewaySuite(material, probe, target, client=client, revoked_issuer=revoked_issuer).run()


__all__ = ["GatewaySuite", "GatewayTarget", "run_gateway_suite"]
