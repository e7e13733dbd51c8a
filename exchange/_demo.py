"""The narrated demo: eleven scenarios a trainer plays in front of a room, each with its expected outcome.

Every run uses a fresh demo workspace and its own gateway and single-window nodes on free loopback ports (the
revocation scenario changes the workspace, and a trainer's own workspace must not be harmed). Each scenario says
what happens, why it matters (the CPTA idea behind it), and what the system answered; the run ends with a table of
expected versus actual outcomes.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from exchange._i18n import N_, code_message, current, gettext, status_label
from exchange._ports import free_port

REPO_SCHEMAS = Path(__file__).resolve().parent.parent / "schemas"
_SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
_HUB = "http://ephyto.ippc.int/"
FINAL = {"ACKNOWLEDGED", "RECEIVER_REJECTED", "REJECTED", "FAILED"}


@dataclass
class Outcome:
    """What a scenario observed: a short ``actual`` to compare with the expectation, and narration lines."""

    actual: str
    lines: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Scenario:
    number: int
    title: str
    happens: str
    why: str
    expected: str
    play: Callable[[Demo], Outcome]


#: The parties whose services the demo starts, each on its own folder, and the countries' nodes among them.
PARTIES = ("gateway", "AA", "BB", "CC")
NODES = ("AA", "BB", "CC")
#: AA trades with BB and with CC (its transit neighbour on the way to BB); EE has an agreement with BB only.
AGREEMENTS = (("AA", "BB"), ("AA", "CC"), ("BB", "CC"), ("BB", "EE"))


class Demo:
    """The running demo: workspace, services, and helpers the scenarios use."""

    def __init__(self, root: Path, *, log: Callable[[str], None]) -> None:
        self.root = root
        self.log = log
        self.workspace_path = root / "workspace"
        # AA and BB, and CC: the transit country of AA's transit declarations to BB (scenario 12); EE is a country AA
        # has no agreement with, admitted to the gateway but never started (its node is not needed to be refused)
        self.ports = {"gateway": free_port(), "AA": free_port(), "BB": free_port(), "CC": free_port()}
        self.urls = {name: f"http://127.0.0.1:{port}" for name, port in self.ports.items()}
        # the gateway's ePhyto hub interface: a second listener of the same gateway process (one store), with mutual
        # TLS, since the hub identifies each NPPO by its TLS client certificate
        self.ports["hub"] = free_port()
        self.urls["hub"] = f"https://127.0.0.1:{self.ports['hub']}"
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.sent: dict[int, str] = {}

    # --- services -----------------------------------------------------------------------------------------

    def start(self) -> None:
        from exchange._workspace import PARTIES_DIR, init_workspace

        init_workspace(self.workspace_path, moment=datetime.now(UTC) - timedelta(minutes=1),
                       countries=["AA", "BB", "CC", "EE"], agreements=list(AGREEMENTS))
        for party in PARTIES:  # each party's folder on "its own machine", apart from the others
            shutil.copytree(self.workspace_path / PARTIES_DIR / party, self.folder(party))
        for name in PARTIES:
            self.start_service(name)

    def folder(self, party: str) -> Path:
        """The folder ``party``'s service runs on: a copy of its party folder outside the network folder, which
        no other service is given; changes reach it as public packages (:meth:`distribute`)."""
        return self.root / "machines" / party

    def distribute(self, country: str, moment: datetime) -> int:
        """``country`` exports its public package after a change of its PKI; every other party imports it (verified
        under the anchor it holds, newer than the one held), and the country's own folder takes its reissued list."""
        from exchange._workspace import PARTIES_DIR, Workspace

        data, anchor = self.workspace.export_package(country, moment=moment)
        shutil.copytree(self.workspace_path / PARTIES_DIR / country, self.folder(country), dirs_exist_ok=True)
        sequence = 0
        for party in PARTIES:
            if party != country:
                sequence = Workspace.open(self.folder(party)).import_package(
                    data, anchor_sha256=anchor, moment=moment).manifest.sequence
        return sequence

    def _command(self, name: str) -> list[str]:
        ptx = [sys.executable, "-m", "exchange.cli"]
        workspace = str(self.folder(name))  # each service on its own folder alone
        if name == "gateway":
            return [*ptx, "serve", "gateway", "--workspace", workspace, "--port", str(self.ports["gateway"]),
                    "--hub-port", str(self.ports["hub"]),
                    *[arg for node in NODES for arg in ("--node", f"{node}={self.urls[node]}")],
                    "--log-level", "warning"]
        return [*ptx, "serve", "node", "--country", name, "--workspace", workspace, "--port", str(self.ports[name]),
                "--gateway", self.urls["gateway"], "--log-level", "warning", "--demo"]

    def start_service(self, name: str) -> None:
        import httpx

        env = {**os.environ, "PTX_DELIVERY__BASE_DELAY": "0.5", "PTX_DELIVERY__MAX_DELAY": "1.5",
               "PTX_DELIVERY__POLL_INTERVAL": "0.1", "PTX_DELIVERY__REQUEST_TIMEOUT": "5", "PTX_DELIVERY__LEASE": "10"}
        log = open(self.root / f"{name}.log", "ab")  # noqa: SIM115 - the process writes to it until stopped
        process = subprocess.Popen(self._command(name), stdout=log, stderr=subprocess.STDOUT, env=env,
                                   start_new_session=True)
        self.processes[name] = process
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"{name} stopped while starting; see {self.root / (name + '.log')}")
            try:
                verify: Any = True
                if httpx.get(f"{self.urls[name]}/readyz", timeout=1, verify=verify).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{name} did not become ready")

    def stop_service(self, name: str) -> None:
        process = self.processes.pop(name, None)
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)

    def stop(self) -> None:
        for name in list(self.processes):
            self.stop_service(name)

    # --- helpers --------------------------------------------------------------------------------------------

    @property
    def workspace(self) -> Any:
        from exchange._workspace import Workspace

        return Workspace.open(self.workspace_path)

    def nppo_tls(self, country: str) -> Any:
        """``country``'s NPPO system as a TLS client of the hub interface: its TLS client certificate."""
        from exchange._tls import TlsSettings, node_tls

        return node_tls(TlsSettings(from_workspace=True), self.workspace, country).client_context()

    def hub_call(self, country: str, operation: str, inner: str) -> Any:
        """One SOAP 1.1 call to the hub interface as ``country``'s NPPO; the answer's root element."""
        import httpx

        from exchange._xml import parse_xml

        body = (f'<soap:Envelope xmlns:soap="{_SOAP}" xmlns:hub="{_HUB}" xmlns:ent="{_HUB}HUB.Entities">'
                f"<soap:Body><hub:{operation}>{inner}</hub:{operation}></soap:Body></soap:Envelope>")
        response = httpx.post(f"{self.urls['hub']}/hub/DeliveryService", content=body.encode(), timeout=30,
                              headers={"Content-Type": "text/xml; charset=utf-8",
                                       "SOAPAction": f'"{_HUB}IDeliveryService/{operation}"'},
                              verify=self.nppo_tls(country))
        return parse_xml(response.content).getroot()

    def get(self, url: str, *, headers: dict[str, str] | None = None) -> Any:
        import httpx

        return httpx.get(url, timeout=15, headers=headers).json()

    def operator(self) -> dict[str, str]:
        """The gateway operator's credential (its token, from the gateway's folder): the demo narrates from the
        gateway's own records, which only the operator and the message's two nodes may read."""
        from exchange._operator import operator_headers
        from exchange._workspace import GATEWAY_PARTY

        return operator_headers(self.folder(GATEWAY_PARTY))

    def send(self, request: dict[str, Any]) -> dict[str, Any]:
        import httpx

        response = httpx.post(f"{self.urls['AA']}/v1/outbox", json={"to": "BB", **request}, timeout=30)
        if response.status_code not in (200, 201):
            raise RuntimeError(f"AA's outbox answered {response.status_code}: {response.text[:300]}")
        body: dict[str, Any] = response.json()
        return body

    def wait(self, message_id: str, *, until: set[str] = FINAL, timeout: float = 20) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            body: dict[str, Any] = self.get(f"{self.urls['AA']}/v1/outbox/{message_id}")
            receipt = body.get("receipt") or {}
            if body["status"] in until and (body["status"] != "ACKNOWLEDGED" or receipt.get("verified")):
                return body
            if time.monotonic() > deadline:
                return body
            time.sleep(0.2)

    def signed(self, document: bytes, issuer: str) -> str:
        from exchange._dsig import sign_document

        credential = self.workspace.signer(issuer)
        return sign_document(document, credential.key, list(credential.signing_chain)).decode("utf-8")

    def input(self, type_id: str, *, language: str = "en") -> dict[str, Any]:
        """The type's input example; ``input.<language>.yaml`` (names and descriptions in that language, with
        ``languageID``) where the catalogue has one."""
        from exchange._builder import load_input

        localised = REPO_SCHEMAS / type_id / f"input.{language}.yaml"
        return load_input(localised if localised.is_file() else REPO_SCHEMAS / type_id / "input.yaml")

    def sample(self, type_id: str, name: str) -> bytes:
        return (REPO_SCHEMAS / type_id / "samples" / name).read_bytes()

    def inbox_count(self) -> int:
        return len(self.get(f"{self.urls['BB']}/v1/inbox")["items"])


def _answer(body: dict[str, Any]) -> dict[str, Any]:
    answer: dict[str, Any] = (body.get("gateway") or {}).get("answer") or {}
    return answer


def _codes(answer: dict[str, Any]) -> list[str]:
    return list(dict.fromkeys(
        f["code"] for check in answer.get("checks", []) for f in check.get("findings", []) if f.get("severity") == "error"
    ))


def _failed_lines(answer: dict[str, Any]) -> list[str]:
    lines = []
    for check in answer.get("checks", []):
        for finding in check.get("findings", []):
            if finding.get("severity") != "error":
                continue
            where = ""
            if finding.get("line"):
                where = " (" + gettext("line {line}").format(line=finding["line"]) + (
                    f", {finding['path']}" if finding.get("path") else "") + ")"
            elif finding.get("path"):
                where = f" ({finding['path']})"
            message = finding["message"]
            if current() != "en" and code_message(finding["code"]):  # the code's message, the English detail beside
                message = f"{code_message(finding['code'])} ({message})"
            lines.append(f"{check['name']}: {finding['code']}: {message}{where}")
    return lines


def _rejected(answer: dict[str, Any]) -> Outcome:
    codes = _codes(answer)
    return Outcome(f"{answer.get('verdict', '?')} {' '.join(codes)}".strip(),
                   [gettext("gateway verdict: {verdict}").format(verdict=answer.get("verdict")),
                    *_failed_lines(answer)])


def _delivered(demo: Demo, body: dict[str, Any]) -> Outcome:
    final = demo.wait(body["message_id"])
    answer = _answer(body)
    receipt = final.get("receipt") or {}
    passed = sum(1 for check in answer.get("checks", []) if check["status"] == "passed")
    verified = " receipt-verified" if receipt.get("verified") else ""
    return Outcome(f"{final['status']}{verified}", [
        gettext("message {id}").format(id=body["message_id"]),
        gettext("gateway verdict: {verdict} ({count} checks passed)").format(verdict=answer.get("verdict"),
                                                                               count=passed),
        gettext("status: {status}; BB's signed receipt says {receipt}, verified by AA: {verified}").format(
            status=final["status"], receipt=receipt.get("status"),
            verified=gettext("yes") if receipt.get("verified") else gettext("no")),
    ])


# --- the scenarios ------------------------------------------------------------------------------------------


def _coo(demo: Demo) -> Outcome:
    # in the room's language: party names and goods in Chinese or Russian (languageID set), codes unchanged
    data = demo.input("certificate-of-origin", language=current())
    body = demo.send({"type": "certificate-of-origin", "data": data})
    demo.sent[1] = body["message_id"]
    outcome = _delivered(demo, body)
    if outcome.actual.startswith("ACKNOWLEDGED"):
        outcome.lines.append(gettext("BB's node holds the exporter's name as AA's chamber signed it: {name}").format(
            name=_consignor(demo, body["message_id"])))
    return outcome


def _consignor(demo: Demo, message_id: str) -> str:
    import httpx

    from exchange._xml import parse_xml

    document = parse_xml(httpx.get(f"{demo.urls['BB']}/v1/documents/{message_id}", timeout=15).content)
    names = [e.text or "" for e in document.iter() if isinstance(e.tag, str) and e.tag.endswith("}Name")
             and e.getparent() is not None and str(e.getparent().tag).endswith("}ConsignorParty")]
    return names[0] if names else "?"


def _phyto(demo: Demo) -> Outcome:
    return _delivered(demo, demo.send({"type": "phytosanitary-certificate",
                                       "data": demo.input("phytosanitary-certificate")}))


def _tamper(demo: Demo) -> Outcome:
    body = demo.send({"type": "certificate-of-origin", "data": demo.input("certificate-of-origin"), "tamper": True})
    return _rejected(_answer(body))


def _schema_invalid(demo: Demo) -> Outcome:
    document = demo.signed(demo.sample("certificate-of-origin", "invalid/issue-time-without-t.xml"),
                           "AA/chamber-of-commerce")
    return _rejected(_answer(demo.send({"document": document})))


def _rule(demo: Demo) -> Outcome:
    document = demo.signed(demo.sample("certificate-of-origin", "invalid/gross-below-net.xml"),
                           "AA/chamber-of-commerce")
    return _rejected(_answer(demo.send({"document": document})))


def _unauthorised(demo: Demo) -> Outcome:
    document = demo.signed(demo.sample("certificate-of-origin", "valid/basic.xml"), "AA/nppo")
    return _rejected(_answer(demo.send({"document": document})))


def _revoked(demo: Demo) -> Outcome:
    moment = datetime.now(UTC)
    result = demo.workspace.revoke("AA/customs", moment=moment)
    sequence = demo.distribute("AA", moment)
    document = demo.signed(demo.sample("customs-declaration", "valid/basic.xml"), "AA/customs")
    outcome = _rejected(_answer(demo.send({"document": document})))
    outcome.lines[:0] = [
        gettext("AA revoked its customs authority: new CRL, trust list sequence {sequence}").format(
            sequence=result.trust_list_sequence),
        gettext("AA's public package {sequence} (with that list) imported by BB and the gateway, each in its own "
                "folder").format(sequence=sequence),
    ]
    return outcome


def _third_country(demo: Demo) -> Outcome:
    from exchange._dsig import sign_document
    from exchange._pki import build_country_pki, demo_country

    dd = build_country_pki(demo_country("DD", name="Country D"), moment=datetime.now(UTC) - timedelta(minutes=1))
    chamber = dd.authority("chamber-of-commerce")
    document = sign_document(demo.sample("certificate-of-origin", "valid/basic.xml"), chamber.key,
                             list(chamber.signing_chain)).decode("utf-8")
    outcome = _rejected(_answer(demo.send({"document": document})))
    outcome.lines.insert(0, gettext("a chamber of commerce of country DD signed it; no agreement recognises DD's "
                                    "trust list"))
    return outcome


def _resend(demo: Demo) -> Outcome:
    import httpx

    message_id = demo.sent.get(1)
    if message_id is None:
        message_id = demo.send({"type": "certificate-of-origin", "data": demo.input("certificate-of-origin")})[
            "message_id"]
        demo.wait(message_id)
    gateway = demo.urls["gateway"]
    operator = demo.operator()
    envelope = httpx.get(f"{gateway}/v1/messages/{message_id}/envelope", timeout=10, headers=operator).content
    before = demo.inbox_count()
    first = httpx.get(f"{gateway}/v1/messages/{message_id}", timeout=10, headers=operator).json()
    again = httpx.post(f"{gateway}/v1/messages", content=envelope, headers={"Content-Type": "application/xml"},
                       timeout=10)
    time.sleep(1.0)
    after = demo.inbox_count()
    same = again.json() == first["report"]
    delivered_once = before == after
    return Outcome(f"HTTP {again.status_code}{' same-answer' if same else ''}{' delivered-once' if delivered_once else ''}",
                   [gettext("resent the exact bytes of message {id}").format(id=message_id),
                    (gettext("gateway answered HTTP {status} with the same answer") if same else
                     gettext("gateway answered HTTP {status} with a different answer")).format(
                        status=again.status_code),
                    gettext("BB's inbox held {before} message(s) before and {after} after").format(before=before,
                                                                                                   after=after)])


def _offline(demo: Demo) -> Outcome:
    demo.stop_service("BB")
    body = demo.send({"type": "certificate-of-origin", "data": demo.input("certificate-of-origin")})
    waiting = demo.wait(body["message_id"], until={"WAITING_FOR_RETRY", *FINAL}, timeout=10)
    seen = waiting["status"]
    demo.start_service("BB")
    final = demo.wait(body["message_id"], timeout=30)
    detail = demo.get(f"{demo.urls['gateway']}/v1/messages/{body['message_id']}", headers=demo.operator())
    attempts = [a["outcome"] for a in detail.get("attempts", [])]
    receipt = final.get("receipt") or {}
    return Outcome(f"{seen} then {final['status']}{' receipt-verified' if receipt.get('verified') else ''}", [
        gettext("BB's single window was stopped; AA sent a certificate of origin"),
        gettext("while BB was away the gateway kept it: {status}").format(status=seen),
        gettext("BB came back; delivery attempts: {attempts}").format(
            attempts=", ".join(status_label(attempt) for attempt in attempts)),
        gettext("status: {status}").format(status=final["status"]),
    ])


def _transit_declaration(demo: Demo, route: tuple[str, ...], reference: str) -> str:
    """AA's customs signs the sample transit declaration with ``route`` as its itinerary (and the first transit
    office in the route's second country)."""
    text = demo.sample("customs-declaration", "valid/transit-route.xml").decode("utf-8")
    text = text.replace("<ID>CC000210</ID>", f"<ID>{route[1]}000210</ID>")
    countries = "".join(f"<RouteCountry><ID>{country}</ID></RouteCountry>" for country in route)
    text = re.sub(r"<Itinerary>.*?</Itinerary>", f"<Itinerary>{countries}</Itinerary>", text, flags=re.S)
    return demo.signed(text.replace("ACB-2026-TR-004417", reference).encode("utf-8"), "AA/customs")


def _transit(demo: Demo) -> Outcome:
    body = demo.send({"document": _transit_declaration(demo, ("AA", "CC", "BB"), "ACB-2026-TR-004501")})
    final = demo.wait(body["message_id"])
    record = demo.get(f"{demo.urls['gateway']}/v1/messages/{body['message_id']}", headers=demo.operator())
    legs = [f"{delivery['receiver']}:{delivery['status']}" for delivery in record.get("deliveries", [])]
    receipt = final.get("receipt") or {}
    verified = " receipt-verified" if receipt.get("verified") else ""
    return Outcome(f"{record.get('status')} {' '.join(legs)}{verified}", [
        gettext("message {id}: one envelope to {receivers}").format(
            id=body["message_id"], receivers=", ".join(record.get("receivers") or [])),
        *(gettext("{country}: {status}, its own signed receipt verified by the gateway").format(
            country=delivery["receiver"], status=delivery["status"]) for delivery in record.get("deliveries", [])),
        gettext("BB's receipt verified by AA itself: {verified}").format(
            verified=gettext("yes") if receipt.get("verified") else gettext("no")),
    ])


def _transit_uncovered(demo: Demo) -> Outcome:
    answer = _answer(demo.send({"document": _transit_declaration(demo, ("AA", "EE", "BB"), "ACB-2026-TR-004502")}))
    outcome = _rejected(answer)
    outcome.lines.insert(0, gettext("the route crosses EE, which has no agreement with AA; nothing is delivered to "
                                    "BB either"))
    return outcome


def _soap_texts(root: Any, local: str) -> list[str]:
    return [e.text or "" for e in root.iter() if isinstance(e.tag, str) and e.tag.rsplit("}", 1)[-1] == local]


def _ephyto_hub(demo: Demo) -> Outcome:
    import base64

    sample = "three-lines-attachment-languages.xml"
    number = "AA-EPHYTO-2026-004512"
    document = demo.signed(demo.sample("ephyto-sps-certificate", f"valid/{sample}"), "AA/nppo")
    report = demo.hub_call("AA", "ValidatePhytoXML",
                           "<hub:ePhytoXML>" + document.replace("&", "&amp;").replace("<", "&lt;") + "</hub:ePhytoXML>")
    severe = _soap_texts(report, "level").count("SEVERE")
    header = "".join(f"<ent:{k}>{v}</ent:{k}>" for k, v in (
        ("From", "AA"), ("To", "BB"), ("CertificateType", 851), ("CertificateStatus", 70),
        ("NPPOCertificateNumber", number),
        ("Content", base64.b64encode(document.encode("utf-8")).decode("ascii"))))
    answer = demo.hub_call("AA", "DeliverEnvelope", f"<hub:env>{header}</hub:env>")
    faults = _soap_texts(answer, "faultstring")
    if faults:
        return Outcome(faults[0].split(":", 1)[0],
                       [gettext("the hub interface answered a SOAP fault: {fault}").format(fault=faults[0])])
    hub_number = _soap_texts(answer, "hubDeliveryNumber")[0]
    message_id = f"ephyto:AA:{number}"
    deadline = time.monotonic() + 20
    tracking = "?"
    while time.monotonic() < deadline:
        tracked = demo.hub_call("AA", "GetEnvelopeTrackingInfo", f"<hub:hubTrackingNumber>{hub_number}"
                                "</hub:hubTrackingNumber>")
        tracking = (_soap_texts(tracked, "HUBTrackingInfo") or ["?"])[0]
        if tracking not in ("PendingDelivery", "?"):
            break
        time.sleep(0.2)
    received = demo.get(f"{demo.urls['BB']}/v1/inbox/{message_id}") if tracking != "PendingDelivery" else {}
    sender: dict[str, Any] = next((c for c in received.get("checks", []) if c["name"] == "sender-authentication"), {})
    relayed = [f["code"] for f in sender.get("findings", [])]
    return Outcome(f"{tracking} {received.get('verdict', '?')} {' '.join(relayed)}".strip(), [
        gettext("the real-shape certificate ({sample}: three lines, a PDF attachment, several languages), signed "
                "by AA's NPPO; the hub's validation report: {severe} SEVERE finding(s)").format(sample=sample,
                                                                                            severe=severe),
        gettext("DeliverEnvelope over mutual TLS as AA's NPPO: From AA, To BB, type 851, status 70, {number}").format(
            number=number),
        gettext("the hub interface answered hubDeliveryNumber {number}, PendingDelivery").format(number=hub_number),
        gettext("BB runs a ptx node: forwarded as message {id} in an envelope the gateway signs").format(
            id=message_id),
        gettext("BB's node checked it with its own trust: {verdict} (issuer {issuer}, {relayed})").format(
            verdict=received.get("verdict"), issuer=received.get("issuer"),
            relayed=", ".join(relayed) or gettext("not relayed")),
        gettext("AA's NPPO tracks it: HUBTrackingInfo {tracking}").format(tracking=tracking),
    ])


SCENARIOS: tuple[Scenario, ...] = (  # title, what happens and why: marked here (N_), translated where shown
    Scenario(1, N_("Certificate of origin from AA to BB"),
             N_("AA's chamber of commerce issues and signs a certificate of origin; AA's single window wraps "
                "it, signs the envelope and sends it through the gateway; BB checks it again and answers a "
                "signed receipt."),
             N_("Functional equivalence (CPTA Art. 5): the signed electronic document does what the paper one "
                "did, and the receipt is evidence that BB received exactly these bytes."),
             "ACKNOWLEDGED receipt-verified", _coo),
    Scenario(2, N_("Phytosanitary certificate"),
             N_("AA's plant-protection organisation (NPPO) issues a phytosanitary certificate, as in the IPPC "
                "ePhyto hub."),
             N_("International standards (Art. 9): the same exchange carries every document type in the "
                "catalogue."),
             "ACKNOWLEDGED receipt-verified", _phyto),
    Scenario(3, N_("One byte changed after signing"),
             N_("AA's node changes one character of the signed document before sending it."),
             N_("Integrity: any change after signing breaks the signature; nobody can alter a document in "
                "transit unnoticed."),
             "REJECTED SIG-DIGEST-MISMATCH", _tamper),
    Scenario(4, N_("A document that breaks its schema"),
             N_("The issue date lacks its time part, which the schema requires."),
             N_("Schema conformance: both sides agree on the structure, so a malformed document is caught "
                "with its line and path."),
             "REJECTED SCHEMA-VALUE-INVALID", _schema_invalid),
    Scenario(5, N_("A business rule is violated"),
             N_("A line's gross weight is below its net weight."),
             N_("Business rules (Schematron) catch what a schema cannot: numbers that do not add up."),
             "REJECTED COO-MASS-01", _rule),
    Scenario(6, N_("Issuer not authorised for the type"),
             N_("AA's plant-protection organisation signs a certificate of origin, which only the chamber of "
                "commerce may issue."),
             N_("Mutual recognition is per issuer and per document type (Art. 8): trust is specific, not "
                "blanket."),
             "REJECTED TRUST-ISSUER-NOT-AUTHORISED", _unauthorised),
    Scenario(7, N_("A transit declaration along its route"),
             N_("Landlocked AA's customs declares goods in transit to BB through CC; AA's single window sends it "
                "once, and the gateway delivers it to CC and to BB, each on its own."),
             N_("Mutual recognition along a corridor (Art. 8): every country on the route receives the declaration "
                "before the goods arrive, checks it with its own trust and answers its own signed receipt."),
             "ACKNOWLEDGED CC:ACKNOWLEDGED BB:ACKNOWLEDGED receipt-verified", _transit),
    Scenario(8, N_("A route through a country without an agreement"),
             N_("The same declaration routed through EE, with which AA has no agreement."),
             N_("Agreements are explicit for every flow: one country on the route that is not covered refuses the "
                "whole declaration, and the answer names it."),
             "REJECTED GW-NO-AGREEMENT", _transit_uncovered),
    Scenario(9, N_("Issuer revoked"),
             N_("AA revokes its customs authority's certificate (new CRL, trust list reissued), then that "
                "authority signs a customs declaration."),
             N_("Recognition is revocable: a country withdraws trust and its partners see it at the next "
                "document."),
             "REJECTED TRUST-CERT-REVOKED", _revoked),
    Scenario(10, N_("A third country nobody recognises"),
             N_("A chamber of commerce of country DD, which has no agreement with BB, signs the document."),
             N_("Transboundary trust is chosen explicitly: a valid signature from an unrecognised country is "
                "not enough."),
             "REJECTED TRUST-CHAIN-UNTRUSTED", _third_country),
    Scenario(11, N_("Identical resend"),
             N_("The first message's exact bytes are submitted again."),
             N_("Duplicates are caught: the same answer comes back and BB's application sees the document "
                "once."),
             "HTTP 200 same-answer delivered-once", _resend),
    Scenario(12, N_("Receiver offline"),
             N_("BB's single window is stopped while AA sends; then it comes back."),
             N_("Store and forward: an accepted message is never lost; the gateway retries until it is "
                "delivered."),
             "WAITING_FOR_RETRY then ACKNOWLEDGED receipt-verified", _offline),
    Scenario(13, N_("An ePhyto certificate through the hub interface"),
             N_("AA's NPPO system, built for the IPPC ePhyto hub, validates a real-shape SPS certificate with "
                "the hub's report form and delivers it with the hub's own SOAP call, identified by its TLS "
                "client certificate; BB runs a ptx single window, so the gateway forwards it there."),
             N_("Interoperability (Art. 5): a system built for an existing network joins without change; BB "
                "still checks the NPPO's signature with its own trust, and the gateway never signs in AA's "
                "name."),
             "Delivered RECEIVED NODE-SENDER-RELAYED", _ephyto_hub),
)

def matches(expected: str, actual: str) -> bool:
    """Every word of the expectation appears in the actual outcome, in order of importance (verdict first)."""
    words = actual.split()
    return bool(words) and all(word in words for word in expected.split()) and words[0] == expected.split()[0]


def temporary_root() -> Path:
    return Path(tempfile.mkdtemp(prefix="ptx-demo-"))


def remove(root: Path) -> None:
    shutil.rmtree(root, ignore_errors=True)


__all__ = ["SCENARIOS", "Demo", "Outcome", "Scenario", "matches", "remove", "temporary_root"]
