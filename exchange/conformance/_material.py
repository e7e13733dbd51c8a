"""What the tester holds, and the messages the kit makes from it with the project's own library.

The tester holds one country's folder (``ptx country init``, or ``workspace/parties/<CC>`` of ``ptx init``): its
PKI, its authorities and node key, and the public packages it imported (the partner under test, the gateway's
certificates). Nothing else is read. A node test also needs a *test gateway* identity the node under test
trusts (a folder made by ``ptx gateway init``: the kit signs deliveries with its key, as a gateway does); a
gateway test needs a second country folder of the tester's own, the receiver whose inbox the kit plays.

Every document, envelope, receipt and signature is made by the library functions the services use
(:func:`exchange.build_document`, :func:`exchange.sign_document`, :func:`exchange.build_envelope`,
:func:`exchange.sign_receipt`, :func:`exchange.sign_delivery`) and every answer is checked by the library's
verifiers (:func:`exchange.verify_receipt`, :func:`exchange.verify_rejection`, :func:`exchange.verify_delivery`):
one way to do one thing, no crypto of the kit's own.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509

from exchange import (
    RECEIPT_TYPE,
    Catalogue,
    Code,
    ConfigurationError,
    Credential,
    Party,
    ReceiptCheck,
    RejectionCheck,
    Validator,
    Workspace,
    WorkspaceParties,
    XmlLimits,
    build_document,
    build_envelope,
    default_catalogue,
    load_certificate_file,
    load_input,
    sign_document,
    verify_receipt,
    verify_rejection,
)

#: the trade document types the kit exchanges when the agreement lets them flow (not the exchange's own types)
_EXCHANGE_TYPES = frozenset({"envelope", "receipt", "rejection", "trust-list"})
#: a receiver id no agreement names
UNKNOWN_RECEIVER = "QQ"
#: the document type with a route (a transit declaration), for the scenarios with several receivers
ROUTE_TYPE = "customs-declaration"


def now() -> datetime:
    return datetime.now(UTC)


def tamper(document: bytes) -> bytes:
    """One letter of the signed content changed (the document stays well-formed): the digest no longer matches."""
    from exchange.node._outbox import tamper as change_one_letter

    return change_one_letter(document)


@dataclass(frozen=True)
class Country:
    """One country folder of the tester's: its keys, its authorities and what it imported."""

    workspace: Workspace
    code: str
    parties: WorkspaceParties

    @classmethod
    def open(cls, folder: Path) -> Country:
        workspace = Workspace.open(folder)
        code = workspace.own_country()
        return cls(workspace=workspace, code=code, parties=WorkspaceParties(workspace, code))

    @property
    def node(self) -> Credential:
        return self.workspace.node(self.code)

    @property
    def party(self) -> Party:
        return Party(self.code, name=self.workspace.country(self.code).name)

    def issuers(self) -> dict[str, tuple[str, ...]]:
        """The document-signing authorities of this country and the types each may sign."""
        return {slug: tuple(record.document_types) for slug, record in self.workspace.country(self.code)
                .authorities.items() if record.role == "document-signer"}

    def issuer_for(self, type_id: str, *, avoid: str | None = None) -> str | None:
        return next((slug for slug, types in self.issuers().items() if type_id in types and slug != avoid), None)

    def issuer_not_for(self, type_id: str) -> str | None:
        return next((slug for slug, types in self.issuers().items() if type_id not in types), None)

    def gateway_certificate(self) -> x509.Certificate:
        """The gateway's signing certificate, from the gateway package this folder joined."""
        record = self.workspace.gateway_record
        return load_certificate_file(self.workspace.file(record.signer))[0]

    def flow_types(self, receiver: str, catalogue: Catalogue, moment: datetime) -> tuple[str, ...]:
        """The trade document types an agreement in force lets flow from this country to ``receiver``, that the
        catalogue has a sample input for. Not a type sent by a country on a route to the others (a transit progress
        event): its sample is another country's report, which the tester's country cannot send."""
        view = self.parties.view(moment=moment)
        types = []
        for doc_type in catalogue:
            if doc_type.id in _EXCHANGE_TYPES or not (doc_type.folder / "input.yaml").is_file():
                continue
            if doc_type.route_sender == "member":
                continue
            if view.agreements_for(self.code, receiver, doc_type.id):
                types.append(doc_type.id)
        return tuple(types)

    def agreement_ref(self, receiver: str, type_id: str, moment: datetime) -> str | None:
        allowing = self.parties.view(moment=moment).agreements_for(self.code, receiver, type_id)
        return allowing[0] if allowing else None


class Material:
    """The tester's country and the messages it makes. Immutable after construction; safe to share."""

    def __init__(self, country: Country, *, catalogue: Catalogue | None = None) -> None:
        self.country = country
        self.catalogue = catalogue or default_catalogue()
        self.validator = Validator(self.catalogue)
        self.limits = XmlLimits()

    def document(self, type_id: str, issuer: str) -> bytes:
        """The catalogue's sample input for ``type_id``, built, validated and signed by ``issuer`` (a slug)."""
        doc_type = self.catalogue.get(type_id)
        built = build_document(doc_type, load_input(doc_type.folder / "input.yaml"))
        if built.report is None or not built.report.valid:
            raise ConfigurationError(f"the sample input of {type_id} does not build a valid document",
                                     code=Code.CONFIG_INVALID)
        signer = self.country.workspace.authority(self.country.code, issuer)
        return sign_document(built.xml, signer.key, signer.signing_chain)

    def envelope(
        self,
        document: bytes,
        *,
        type_id: str,
        receiver: str | tuple[str, ...],
        message_id: str | None = None,
        signer: Credential | None = None,
        sign: bool = True,
        created: datetime | None = None,
    ) -> tuple[str, bytes]:
        """(message id, envelope bytes) around ``document`` from the tester's country to ``receiver`` (or to each of
        several, in order: a transit route), signed by the tester's node (or ``signer``), unsigned when ``sign`` is
        False."""
        doc_type = self.catalogue.get(type_id)
        moment = created or now()
        message_id = message_id or f"ptx-kit-{uuid.uuid4()}"
        receivers = (receiver,) if isinstance(receiver, str) else receiver
        built = build_envelope(
            document, sender=self.country.party, receiver=[Party(r) for r in receivers], document_type=type_id,
            type_version=doc_type.version, standard=doc_type.namespace, message_id=message_id,
            agreement_ref=self.country.agreement_ref(receivers[0], type_id, moment) if len(receivers) == 1 else None,
            created=moment,
        )
        if not sign:
            return message_id, built
        credential = signer or self.country.node
        return message_id, sign_document(built, credential.key, credential.signing_chain)

    def route_document(self, route: tuple[str, ...], issuer: str) -> bytes:
        """The catalogue's transit declaration sample (itinerary AA, CC, BB) with ``route`` as its itinerary: the
        tester's country first, then the route's countries, the offices and countries renamed to match; signed by
        ``issuer``."""
        text = (self.catalogue.get(ROUTE_TYPE).folder / "samples/valid/transit-route.xml").read_text(encoding="utf-8")
        if len(route) == 2:  # no transit country: drop CC's office and its place on the route
            text = re.sub(r"\s*<TransitCustomsOffice>\s*<ID>CC000210</ID>.*?</TransitCustomsOffice>", "", text,
                          flags=re.S)
            text = re.sub(r"\s*<RouteCountry><ID>CC</ID>.*?</RouteCountry>", "", text)
        places = {"AA": route[0], "BB": route[-1], **({"CC": route[1]} if len(route) > 2 else {})}
        for sample in places:  # placeholders first, so a code of the route may be one of the sample's
            text = re.sub(rf"<(ID|CountryID|OriginCountryID|NationalityCountryID)>{sample}(0\d*)?</",
                          rf"<\1>@{sample}@\2</", text)
        for sample, code in places.items():
            text = text.replace(f"@{sample}@", code)
        text = text.replace("ACB-2026-TR-004417", f"KIT-TR-{uuid.uuid4().hex[:10]}")
        signer = self.country.workspace.authority(self.country.code, issuer)
        return sign_document(text.encode("utf-8"), signer.key, signer.signing_chain)

    def check_receipt(self, body: bytes, *, envelope: bytes, message_id: str, receiver: str) -> ReceiptCheck:
        """The library's receipt verifier with the tester's own view of ``receiver`` (its package)."""
        view = self.country.parties.view(moment=now())
        registered = view.node_certificate(receiver)
        if registered is None:
            raise ConfigurationError(f"{self.country.workspace.path} holds no package of {receiver!r}: import it "
                                     "first (ptx country import)", code=Code.CONFIG_INVALID)
        return verify_receipt(
            body, envelope=envelope, message_id=message_id, receiver=receiver, receiver_node=registered,
            trust=view.trust_for(self.country.code), validator=self.validator,
            receipt_type=self.catalogue.get(RECEIPT_TYPE), limits=self.limits,
        )

    def check_rejection(self, body: bytes, *, submitted: bytes, message_id: str) -> RejectionCheck:
        """The library's rejection report verifier, under the gateway certificate the tester's folder holds."""
        return verify_rejection(
            body, submitted=submitted, message_id=message_id, gateway=self.country.gateway_certificate(),
            validator=self.validator, rejection_type=self.catalogue.get("rejection"), limits=self.limits,
        )




@dataclass(frozen=True)
class Made:
    """A message the kit made: its id, its bytes, and what it is (for the report)."""

    message_id: str
    envelope: bytes
    what: str


class Messages:
    """The messages the scenarios send, the same for a node and a gateway: valid ones, and each kind of fault."""

    TYPE = "certificate-of-origin"
    #: another type the same issuer may sign: the envelope names it over a certificate of origin
    OTHER_TYPE = "commercial-invoice"

    def __init__(self, material: Material, receiver: str, *, revoked_issuer: str | None = None) -> None:
        self.material = material
        self.country = material.country
        self.receiver = receiver
        self.revoked_issuer = revoked_issuer

    def issuer(self, type_id: str) -> str:
        issuer = self.country.issuer_for(type_id, avoid=self.revoked_issuer)
        if issuer is None:
            from exchange.conformance._play import not_applicable

            raise not_applicable(f"{self.country.code} has no issuer for {type_id} (other than the revoked one)")
        return issuer

    def valid(self, type_id: str = TYPE, *, message_id: str | None = None, created: datetime | None = None) -> Made:
        document = self.material.document(type_id, self.issuer(type_id))
        made_id, envelope = self.material.envelope(document, type_id=type_id, receiver=self.receiver,
                                                   message_id=message_id, created=created)
        return Made(made_id, envelope, f"valid {type_id}")

    def fault(self, kind: str) -> Made:
        """The message of one kind of fault (``tampered``, ``unauthorised``, ``revoked``, ``unknown-receiver``,
        ``unsigned``, ``wrong-signer``, ``payload-mismatch``); a kind the tester's material cannot make is not
        applicable."""
        from exchange.conformance._play import fail, not_applicable

        type_id, receiver, signer, sign = self.TYPE, self.receiver, None, True
        if kind == "unauthorised":
            issuer = self.country.issuer_not_for(type_id)
            if issuer is None:
                raise not_applicable(f"every issuer of {self.country.code} may sign {type_id}")
            what = f"{type_id} signed by {issuer}, not authorised for it"
        elif kind == "revoked":
            if self.revoked_issuer is None:
                raise not_applicable("no revoked issuer named (--revoked-issuer): revoke one of your issuers, "
                                     "publish your new package to the system under test, and name it")
            types = self.country.issuers().get(self.revoked_issuer)
            if not types:
                raise fail(f"{self.country.code} has no document-signing issuer {self.revoked_issuer!r}")
            issuer, type_id = self.revoked_issuer, types[0]
            what = f"{type_id} signed by the revoked {issuer}"
        else:
            issuer = self.issuer(type_id)
            what = {"tampered": f"{type_id} changed after signing", "unsigned": "envelope without the node's signature",
                    "wrong-signer": f"envelope signed by {issuer}, not by the node key",
                    "unknown-receiver": f"{type_id} addressed to {UNKNOWN_RECEIVER}",
                    "payload-mismatch": f"{type_id} in an envelope that names it {self.OTHER_TYPE}"}[kind]
        document = self.material.document(type_id, issuer)
        if kind == "tampered":
            document = tamper(document)
        elif kind == "unknown-receiver":
            receiver = UNKNOWN_RECEIVER
        elif kind == "wrong-signer":
            signer = self.country.workspace.authority(self.country.code, issuer)
        elif kind == "unsigned":
            sign = False
        named = self.OTHER_TYPE if kind == "payload-mismatch" else type_id  # the type the envelope names
        message_id, envelope = self.material.envelope(document, type_id=named, receiver=receiver, signer=signer,
                                                      sign=sign)
        return Made(message_id, envelope, what)

    def several_without_route(self) -> Made:
        """A certificate of origin (a type without a route) in an envelope to the receiver and one more country."""
        document = self.material.document(self.TYPE, self.issuer(self.TYPE))
        message_id, envelope = self.material.envelope(document, type_id=self.TYPE,
                                                      receiver=(self.receiver, UNKNOWN_RECEIVER))
        return Made(message_id, envelope, f"{self.TYPE} to {self.receiver} and {UNKNOWN_RECEIVER}, with no route")

    def route(self, *after: str) -> Made:
        """A transit declaration of the tester's customs whose route is the tester's country then ``after``, in an
        envelope to every country after the origin."""
        document = self.material.route_document((self.country.code, *after), self.issuer(ROUTE_TYPE))
        message_id, envelope = self.material.envelope(document, type_id=ROUTE_TYPE, receiver=tuple(after))
        return Made(message_id, envelope, f"{ROUTE_TYPE} with route {' -> '.join((self.country.code, *after))}")


__all__ = ["ROUTE_TYPE", "UNKNOWN_RECEIVER", "Country", "Made", "Material", "Messages", "now", "tamper"]
