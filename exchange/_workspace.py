"""Party folders: a country's PKI and keys, or the gateway's, and the public material each imported.

One index (``workspace.yaml``, unknown keys refused) describes a folder of one of three kinds:

* **a country's own folder** (``ptx country init``): its PKI and keys, its signed trust list, its recognition
  decisions (``recognition.yaml``), and what it imported: partners' packages (``partners/<CC>/``), the gateway's
  public certificates (``gateway/*.pem``), signed agreements (``agreements/<id>.json``);
* **the gateway's folder** (``ptx gateway init``): the gateway's CA, signer and TLS keys, the directory of admitted
  countries (their packages, ``partners/<CC>/``) and the agreements;
* **the demo network** (``ptx init``, default ``./workspace`` or ``$PTX_WORKSPACE``): every country's PKI and the
  gateway's, for the trainer's commands (sign as any issuer, revoke, renew, import), plus one folder per party
  under ``parties/``, built the way the parties would build theirs: each country's own PKI and keys, then the
  gateway's package and every partner's package imported under the anchor the network holds for it, and the
  agreements verified. :meth:`Workspace.publish` refreshes them after a change as newer packages; it never copies a
  key between parties. Each service is started on its party's folder alone.

Layout of a country's PKI (the same in the network folder and in the country's own)::

    AA/pki/root.pem|.key|.crl       root CA (the anchor partners pin), its CRL
    AA/pki/issuing-ca.pem|.key|.crl issuing CA, its CRL
    AA/pki/trust-list-signer.pem|.key   signs the trust list, the country's package and its agreements
    AA/authorities/<slug>.pem|.key  chamber-of-commerce, nppo, customs, single-window (the node); PEM = leaf + CA
    AA/tls/server.pem|.key, client.pem|.key
    AA/trust-list.xml               AA's signed trust list (what AA publishes)
    packages/AA.json                AA's last exported public package (:mod:`exchange._packages`)
    trust/CC.xml, CC-anchor.pem     third-party trust lists brought in with ``ptx trust import`` (known only)

Private keys are written with mode 0600 and never printed. ``init`` is idempotent: on a complete workspace
with the same countries it changes nothing and says so; ``force=True`` regenerates.

An agreement is a JWS signed by both countries' trust-list signers over its terms: its parties with the SHA-256 of
each one's anchor (exchanged out of band, as ICAO CSCAs are), the document types that flow in each direction, and
its period. Every folder verifies it under the anchors it holds (:meth:`Workspace.read_agreement`); one that does
not verify does not count. :meth:`Workspace.trust_context` builds what a receiving country recognises: its own trust
list for everything it grants, and each partner's list for the types the agreements let flow from that partner to
it, within the agreement's period, narrowed by the country's own recognition decisions where its folder has them
(a country's own folder always does; the network folder and the gateway's view of a receiver use the agreements).
Other countries' lists are known but not recognised.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, Literal

import yaml
from cryptography import x509
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, model_validator

from exchange._errors import Code, ConfigurationError, InputError, TrustError
from exchange._keystore import KeyStore
from exchange._pki import (
    BACKDATE,
    DEMO_AUTHORITIES,
    CountryPki,
    Credential,
    KeyType,
    Role,
    build_country_pki,
    build_gateway_pki,
    crl_number,
    crl_pem,
    demo_country,
    fingerprint,
    load_certificate_file,
    load_crl,
    load_private_key_file,
    pem,
    renew_crl,
    revocations,
    revoke,
    utc,
)
from exchange._signed import AGREEMENT_CODES, PACKAGE_CODES, countersign, dumps, parse, sign, verify_member
from exchange._trust import Recognition, TrustContext
from exchange._trustlist import (
    DEFAULT_LIST_LIFETIME,
    TrustList,
    check_succession,
    load_trust_list,
    load_trust_list_file,
)

INDEX_NAME = "workspace.yaml"
DEFAULT_COUNTRIES = ("AA", "BB")
AGREEMENT_LIFETIME = timedelta(days=5 * 365)
_COUNTRY = r"^[A-Z]{2}$"
_SHA256 = r"^[0-9a-f]{64}$"
_TYPE_ID = r"^[a-z0-9][a-z0-9-]{1,62}$"
#: What flows in each direction under a demo agreement: every type the demo authorities issue, the
#: envelope the single window wraps them in and the receipt that answers.
DEMO_FLOW_TYPES: tuple[str, ...] = tuple(
    dict.fromkeys(doc_type for _, _, types, _ in DEMO_AUTHORITIES for doc_type in types)
)


def default_workspace_dir() -> Path:
    """``$PTX_WORKSPACE`` or ``./workspace``."""
    return Path(os.environ.get("PTX_WORKSPACE", "workspace"))


log = logging.getLogger("exchange.workspace")

# --- agreement and index models (YAML, unknown keys refused) ------------------------------------------------


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class AgreementParty(_Model):
    """A party to an agreement: where it publishes its trust list and the anchor that list is signed under."""

    country: str = Field(pattern=_COUNTRY)
    name: str | None = None
    anchor_sha256: str = Field(pattern=_SHA256, description="SHA-256 of the party's root certificate (DER)")


class AgreementFlow(_Model):
    """Document types that may flow from one party to the other."""

    sender: str = Field(alias="from", pattern=_COUNTRY)
    receiver: str = Field(alias="to", pattern=_COUNTRY)
    document_types: tuple[str, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _check(self) -> AgreementFlow:
        if self.sender == self.receiver:
            raise ValueError("a flow goes from one party to another")
        for doc_type in self.document_types:
            if not re.match(_TYPE_ID, doc_type):
                raise ValueError(f"document type {doc_type!r} is not a catalogue id")
        return self


class Agreement(_Model):
    """A bilateral agreement on mutual recognition: data, like an AS4 P-Mode."""

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
    title: str
    parties: tuple[AgreementParty, ...] = Field(min_length=2, max_length=2)
    flows: tuple[AgreementFlow, ...] = Field(min_length=1)
    valid_from: AwareDatetime
    valid_until: AwareDatetime | None = None

    @model_validator(mode="after")
    def _check(self) -> Agreement:
        countries = [party.country for party in self.parties]
        if len(set(countries)) != len(countries):
            raise ValueError("the parties must be two different countries")
        for flow in self.flows:
            if flow.sender not in countries or flow.receiver not in countries:
                raise ValueError(f"flow {flow.sender} -> {flow.receiver} names a country that is not a party")
        if self.valid_until is not None and self.valid_until <= self.valid_from:
            raise ValueError("valid_until must be after valid_from")
        return self

    def party(self, country: str) -> AgreementParty | None:
        return next((party for party in self.parties if party.country == country), None)

    def document_types(self, sender: str, receiver: str) -> frozenset[str]:
        """The types that may flow from ``sender`` to ``receiver`` (empty when none)."""
        return frozenset(
            doc_type
            for flow in self.flows
            if flow.sender == sender and flow.receiver == receiver
            for doc_type in flow.document_types
        )

    def in_force(self, moment: datetime) -> bool:
        moment = utc(moment)
        return self.valid_from <= moment and (self.valid_until is None or moment <= self.valid_until)

    def allows(self, sender: str, receiver: str, document_type: str, *, moment: datetime) -> bool:
        """True when the agreement is in force and lets ``document_type`` flow from sender to receiver."""
        return self.in_force(moment) and document_type in self.document_types(sender, receiver)


def load_agreement(path: str | os.PathLike[str]) -> Agreement:
    """Read an agreement's terms from a YAML file (not a signed agreement: see :meth:`Workspace.read_agreement`);
    unknown keys and bad values are refused with the key named."""
    return _load_model(Path(path), Agreement, "agreement")


def agreement_terms(payload: bytes) -> Agreement:
    """The terms a signed agreement carries (its payload, YAML): AGREEMENT-INVALID when they are not valid."""
    try:
        raw = yaml.safe_load(payload.decode("utf-8"))
        return Agreement.model_validate(raw)
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        raise TrustError(f"the agreement's terms are not YAML ({exc})", code=Code.AGREEMENT_INVALID) from exc
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or '(top)'}: {error['msg']}" for error in exc.errors()
        )
        raise TrustError(f"the agreement's terms are not valid: {problems}", code=Code.AGREEMENT_INVALID) from exc


class RecognitionEntry(_Model):
    """One partner a country recognises: for which document types and which period (its own decision)."""

    country: str = Field(pattern=_COUNTRY)
    document_types: tuple[str, ...] = Field(min_length=1)
    valid_from: AwareDatetime | None = None
    valid_until: AwareDatetime | None = None


class RecognitionFile(_Model):
    """``recognition.yaml`` of a country's folder: whom it recognises. Within this, an agreement in force must let
    the type flow as well (the agreement lets a flow pass the gateway; recognition is the receiver's decision)."""

    recognises: tuple[RecognitionEntry, ...] = ()

    def entry(self, country: str) -> RecognitionEntry | None:
        return next((entry for entry in self.recognises if entry.country == country), None)


class AuthorityRecord(_Model):
    name: str
    role: Literal["document-signer", "node"]
    document_types: tuple[str, ...]
    certificate: str
    key: str


class NodeRecord(_Model):
    """A node certificate kept after a renewal: envelopes it signed are accepted until ``retires_at``."""

    certificate: str
    retires_at: AwareDatetime | None = None


class CountryRecord(_Model):
    name: str
    root: str
    root_key: str
    root_crl: str
    root_sha256: str = Field(pattern=_SHA256)
    issuing_ca: str
    issuing_ca_key: str
    issuing_ca_crl: str
    trust_list_signer: str
    trust_list_signer_key: str
    trust_list: str
    authorities: dict[str, AuthorityRecord]
    tls_server: str
    tls_server_key: str
    tls_client: str
    tls_client_key: str
    #: earlier node certificates still in their overlap period (``ptx country renew-node``)
    retired_nodes: tuple[NodeRecord, ...] = ()
    #: the country's own recognition decisions (its folder's ``recognition.yaml``); None: the agreements decide
    recognition: str | None = None
    endpoint: str | None = None
    #: the last public package exported (``ptx country export``)
    package: str | None = None


class GatewayRecord(_Model):
    """The gateway's material: with its keys in its own folder, certificates only in a country's folder."""

    name: str
    ca: str
    ca_crl: str
    signer: str
    tls_server: str
    tls_client: str
    ca_key: str | None = None
    signer_key: str | None = None
    tls_server_key: str | None = None
    tls_client_key: str | None = None
    endpoint: str | None = None
    package: str | None = None

    def public(self) -> GatewayRecord:
        return self.model_copy(update={"ca_key": None, "signer_key": None, "tls_server_key": None,
                                       "tls_client_key": None, "package": None})


class PartnerRecord(_Model):
    """A partner as its public package describes it (``ptx country import``, ``ptx gateway admit``)."""

    name: str
    package: str
    sequence: int
    anchor: str
    anchor_sha256: str = Field(pattern=_SHA256)
    trust_list: str
    nodes: tuple[NodeRecord, ...] = Field(min_length=1)
    tls_client: str | None = None
    tls_server: str | None = None
    endpoint: str | None = None


class ImportedRecord(_Model):
    trust_list: str
    anchor: str
    anchor_sha256: str = Field(pattern=_SHA256)


class WorkspaceIndex(_Model):
    """``workspace.yaml``: what the workspace holds and where."""

    format: Literal[1] = 1
    created: AwareDatetime
    key_type: KeyType
    #: the countries whose PKI (and keys) this folder holds: all of them in the network folder, one in a country's
    countries: dict[str, CountryRecord] = Field(default_factory=dict)
    #: the gateway: with its keys in the gateway's folder, its public certificates in a country's
    gateway: GatewayRecord | None = None
    agreements: tuple[str, ...] = ()
    imported: dict[str, ImportedRecord] = Field(default_factory=dict)
    #: partners known from their public packages (a country's partners; the gateway's directory)
    partners: dict[str, PartnerRecord] = Field(default_factory=dict)

    def files(self) -> list[str]:
        """Every file the index names (relative paths)."""
        names: list[str] = []
        skip = {"name", "root_sha256", "endpoint"}
        for record in self.countries.values():
            names += [value for key, value in record.model_dump().items() if isinstance(value, str)
                      and key not in skip]
            for authority in record.authorities.values():
                names += [authority.certificate, authority.key]
            names += [node.certificate for node in record.retired_nodes]
        if self.gateway is not None:
            names += [value for key, value in self.gateway.model_dump().items()
                      if isinstance(value, str) and key not in skip]
        names += list(self.agreements)
        for imported in self.imported.values():
            names += [imported.trust_list, imported.anchor]
        for partner in self.partners.values():
            names += [partner.package, partner.anchor, partner.trust_list, *(node.certificate for node in partner.nodes)]
            names += [name for name in (partner.tls_client, partner.tls_server) if name is not None]
        return names


def _load_model(path: Path, model: type[Any], what: str) -> Any:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigurationError(f"cannot read {what} {path}: {exc.strerror}", code=Code.CONFIG_INVALID) from exc
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"{path}: not valid YAML ({exc})", code=Code.CONFIG_INVALID) from exc
    if not isinstance(raw, dict):
        raise ConfigurationError(f"{path}: expected a mapping of keys", code=Code.CONFIG_INVALID)
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or '(top)'}: {error['msg']}" for error in exc.errors()
        )
        raise ConfigurationError(f"{path}: {problems}", code=Code.CONFIG_INVALID) from exc


def _dump_yaml(model: BaseModel, header: str = "") -> bytes:
    body = yaml.safe_dump(model.model_dump(mode="json", by_alias=True), sort_keys=False, allow_unicode=True)
    return (header + body).encode("utf-8")


def _write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` in one step, so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


# --- results -----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InitResult:
    """What :func:`init_workspace` did."""

    path: Path
    changed: bool
    countries: tuple[str, ...]
    agreements: tuple[str, ...]
    message: str


@dataclass(frozen=True, slots=True)
class RevocationResult:
    """What :meth:`Workspace.revoke` did."""

    country: str
    issuer: str
    serial_number: int
    revoked_at: datetime
    reason: x509.ReasonFlags | None
    crl_number: int
    trust_list_sequence: int
    changed: bool


# --- init --------------------------------------------------------------------------------------------------


def _country_files(code: str, slugs: Iterable[str]) -> dict[str, Any]:
    pki, tls = f"{code}/pki", f"{code}/tls"
    return {
        "root": f"{pki}/root.pem", "root_key": f"{pki}/root.key", "root_crl": f"{pki}/root.crl",
        "issuing_ca": f"{pki}/issuing-ca.pem", "issuing_ca_key": f"{pki}/issuing-ca.key",
        "issuing_ca_crl": f"{pki}/issuing-ca.crl",
        "trust_list_signer": f"{pki}/trust-list-signer.pem", "trust_list_signer_key": f"{pki}/trust-list-signer.key",
        "trust_list": f"{code}/trust-list.xml",
        "tls_server": f"{tls}/server.pem", "tls_server_key": f"{tls}/server.key",
        "tls_client": f"{tls}/client.pem", "tls_client_key": f"{tls}/client.key",
        "authorities": {slug: (f"{code}/authorities/{slug}.pem", f"{code}/authorities/{slug}.key") for slug in slugs},
    }


def _parse_countries(countries: Iterable[str]) -> tuple[str, ...]:
    codes = tuple(dict.fromkeys(code.strip().upper() for code in countries if code.strip()))
    if len(codes) < 2:
        raise InputError("a workspace needs at least two countries (e.g. AA,BB)", code=Code.INPUT_INVALID)
    for code in codes:
        if not re.match(_COUNTRY, code):
            raise InputError(f"country code {code!r}: two letters (ISO 3166-1 alpha-2)", code=Code.INPUT_INVALID)
    return codes


def _parse_pairs(pairs: Iterable[tuple[str, str]] | None, codes: Sequence[str]) -> tuple[tuple[str, str], ...]:
    if pairs is None:
        return tuple((a, b) for index, a in enumerate(codes) for b in codes[index + 1:])
    result = []
    for first, second in pairs:
        a, b = first.strip().upper(), second.strip().upper()
        if a not in codes or b not in codes or a == b:
            raise InputError(
                f"agreement {a}-{b}: both parties must be different countries of the workspace ({', '.join(codes)})",
                code=Code.INPUT_INVALID,
            )
        result.append((a, b))
    return tuple(dict.fromkeys(result))


PARTIES_DIR = "parties"
GATEWAY_PARTY = "gateway"


def party_folder(root: str | os.PathLike[str], party: str) -> Path:
    """The folder a service of ``party`` (a country code or ``gateway``) runs on: ``root/parties/<party>`` when the
    workspace has party folders, else ``root`` itself (a party's own folder, or an older workspace)."""
    folder = Path(root) / PARTIES_DIR / (party if party == GATEWAY_PARTY else party.upper())
    return folder if (folder / INDEX_NAME).is_file() else Path(root)


def private_files(index: WorkspaceIndex, party: str) -> list[str]:
    """The private key files of ``party`` named by the index (relative paths)."""
    if party == GATEWAY_PARTY:
        gateway = index.gateway
        if gateway is None:
            return []
        return [key for key in (gateway.ca_key, gateway.signer_key, gateway.tls_server_key, gateway.tls_client_key)
                if key is not None]
    record = index.countries[party]
    return [record.root_key, record.issuing_ca_key, record.trust_list_signer_key, record.tls_server_key,
            record.tls_client_key, *(authority.key for authority in record.authorities.values())]


def init_workspace(
    path: str | os.PathLike[str] | None = None,
    *,
    moment: datetime,
    countries: Sequence[str] = DEFAULT_COUNTRIES,
    agreements: Sequence[tuple[str, str]] | None = None,
    key_type: KeyType = KeyType.EC_P256,
    force: bool = False,
    keys: KeyStore | None = None,
) -> InitResult:
    """Create the demo workspace (see the module docstring) at ``moment``; private keys go through ``keys``
    (default: plain files, mode 0600; ``ptx init --protect-keys`` passes one that encrypts).

    ``agreements`` lists the pairs of countries that sign a bilateral agreement (default: every pair).
    On an existing complete workspace with the same countries nothing changes unless ``force``.
    """
    moment = utc(moment)
    root = Path(path) if path is not None else default_workspace_dir()
    codes = _parse_countries(countries)
    pairs = _parse_pairs(agreements, codes)
    index_path = root / INDEX_NAME
    previous: WorkspaceIndex | None = None
    if index_path.exists():
        try:
            previous = _load_model(index_path, WorkspaceIndex, "workspace index")
        except ConfigurationError:
            if not force:
                raise
            previous = None  # a broken index is replaced; the folders of the requested countries are regenerated
        if previous is not None and not force:
            existing = tuple(previous.countries)
            if set(existing) != set(codes):
                raise ConfigurationError(
                    f"{root} already holds a workspace for {', '.join(existing)}; "
                    f"`ptx init --force` regenerates it for {', '.join(codes)}",
                    code=Code.CONFIG_INVALID,
                )
            missing = [name for name in previous.files() if not (root / name).is_file()]
            if missing:
                raise ConfigurationError(
                    f"{root} is incomplete (missing {', '.join(missing[:3])}{' ...' if len(missing) > 3 else ''}); "
                    "`ptx init --force` regenerates it",
                    code=Code.CONFIG_INVALID,
                )
            return InitResult(
                root, False, existing, previous.agreements,
                f"workspace {root} is complete ({', '.join(existing)}); nothing changed (use --force to regenerate)",
            )
    owned = [root / code for code in codes] + [root / "gateway", root / "agreements", root / PARTIES_DIR]
    if previous is not None:
        owned += [root / code for code in previous.countries]
    if not force:
        clashing = [str(p) for p in owned if p.exists()]
        if clashing:
            raise ConfigurationError(
                f"{', '.join(clashing)} already exist but {index_path} does not (an interrupted init?); "
                "`ptx init --force` regenerates the workspace",
                code=Code.CONFIG_INVALID,
            )
    else:
        for folder in dict.fromkeys(owned):
            if folder.is_dir() and not folder.is_symlink():
                shutil.rmtree(folder)
        index_path.unlink(missing_ok=True)

    root.mkdir(parents=True, exist_ok=True)
    records: dict[str, CountryRecord] = {}
    pkis: dict[str, CountryPki] = {}
    for code in codes:
        pki = build_country_pki(demo_country(code, key_type=key_type), moment=moment)
        pkis[code] = pki
        records[code] = _write_country(root, pki, moment, keys)
    gateway = _write_gateway(root, moment, key_type, keys)
    agreement_files = []
    for first, second in pairs:
        agreement = demo_agreement(
            pkis[first].code, pkis[second].code,
            anchors={c: records[c].root_sha256 for c in (first, second)},
            names={c: records[c].name for c in (first, second)},
            moment=moment,
        )
        signed = sign_agreement_terms(agreement, pkis[first].trust_list_signer, country=first)
        signed = countersign(parse(dumps(signed), kind=AGREEMENT_KIND, codes=AGREEMENT_CODES),
                             pkis[second].trust_list_signer, country=second)
        relative = f"agreements/{agreement.id}.json"
        _write_atomic(root / relative, dumps(signed))
        agreement_files.append(relative)
    imported = {
        code: record
        for code, record in (previous.imported.items() if previous is not None else ())
        if code not in codes and (root / record.trust_list).is_file() and (root / record.anchor).is_file()
    }
    index = WorkspaceIndex(
        created=moment, key_type=key_type, countries=records, gateway=gateway,
        agreements=tuple(agreement_files), imported=imported,
    )
    _write_atomic(index_path, _dump_yaml(index, _INDEX_HEADER))
    Workspace(root, index).publish(moment)
    from exchange._operator import ensure_operator_token  # the gateway operator's credential, in its folder

    ensure_operator_token(party_folder(root, GATEWAY_PARTY))
    verb = "regenerated" if previous is not None else "created"
    return InitResult(
        root, True, codes, tuple(agreement_files),
        f"workspace {root} {verb}: {', '.join(codes)}, {len(agreement_files)} agreement(s), gateway identity",
    )


def _copy_if_changed(source: Path, target: Path) -> None:
    """Copy ``source`` to ``target`` atomically (keeping a key's 0600 mode) unless it holds the same bytes."""
    data = source.read_bytes()
    if target.is_file():
        held = target.read_bytes()
        if held == data:
            return
        if source.suffix == ".key" and b"ENCRYPTED PRIVATE KEY" in held[:64] and b"ENCRYPTED" not in data[:64]:
            # the party protected its keys in its own folder (`ptx keys protect`): a plain copy never replaces
            # them; a key the network renewed must be protected there again (`ptx keys status` shows which)
            if _same_public_key(source, target):
                return
            log.warning("%s holds an encrypted key for another key pair than %s; left as it is: protect the network "
                        "folder, or copy and protect the new key in the party's folder", target, source)
            return
    target.parent.mkdir(parents=True, exist_ok=True)
    _write_atomic(target, data)
    if source.suffix == ".key":
        os.chmod(target, 0o600)


def _same_public_key(plain: Path, encrypted: Path) -> bool:
    """Whether the certificate beside ``encrypted`` is for the key in ``plain`` (no passphrase needed)."""
    certificate = encrypted.with_suffix(".pem")
    try:
        key = load_private_key_file(plain)
        return bool(certificate.is_file() and load_certificate_file(certificate)[0].public_key() == key.public_key())
    except (TrustError, ConfigurationError, OSError):
        return False


_INDEX_HEADER = (
    "# ptx workspace index, written by `ptx init`. Paths are relative to this folder.\n"
    "# Private keys (*.key) are demo material with mode 0600: never commit or share them.\n"
)
_AGREEMENT_HEADER = (
    "# Bilateral agreement on mutual recognition of electronic trade documents (data, like an AS4 P-Mode).\n"
    "# parties: each country and the SHA-256 of the root its trust list and its signature chain to.\n"
    "# flows: which document types each party accepts from the other. Unknown keys are refused.\n"
)


AGREEMENT_KIND = "ptx-agreement+json"


def sign_agreement_terms(agreement: Agreement, signer: Credential, *, country: str) -> dict[str, Any]:
    """A signed agreement with ``country``'s signature: its terms (YAML, as written for people) are the payload."""
    return sign(_dump_yaml(agreement, _AGREEMENT_HEADER), signer, country=country, kind=AGREEMENT_KIND)


def demo_agreement(
    first: str,
    second: str,
    *,
    anchors: dict[str, str],
    moment: datetime,
    names: dict[str, str] | None = None,
    document_types: Sequence[str] = DEMO_FLOW_TYPES,
) -> Agreement:
    """The demo agreement between two countries: every demo type flows both ways for five years."""
    return Agreement(
        id=f"{first}-{second}",
        title=f"Mutual recognition of electronic trade documents between {first} and {second}",
        parties=tuple(
            AgreementParty(country=code, name=(names or {}).get(code), anchor_sha256=anchors[code])
            for code in (first, second)
        ),
        flows=tuple(
            AgreementFlow.model_validate({"from": sender, "to": receiver, "document_types": tuple(document_types)})
            for sender, receiver in ((first, second), (second, first))
        ),
        valid_from=moment - BACKDATE,
        valid_until=moment + AGREEMENT_LIFETIME,
    )


def _write_cert(root: Path, relative: str, data: bytes) -> str:
    target = root / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    return relative


def _write_credential(
    root: Path, credential: Credential, cert_relative: str, key_relative: str, keys: KeyStore | None = None
) -> None:
    credential.write(root / key_relative, root / cert_relative, keys=keys)


def _write_country(root: Path, pki: CountryPki, moment: datetime, keys: KeyStore | None = None) -> CountryRecord:
    files = _country_files(pki.code, pki.authorities)
    _write_cert(root, files["root"], pki.root.certificate_pem())
    pki.root.write_key(root / files["root_key"], keys=keys)
    _write_cert(root, files["root_crl"], crl_pem(pki.root_crl))
    _write_credential(root, pki.issuing_ca, files["issuing_ca"], files["issuing_ca_key"], keys)
    _write_cert(root, files["issuing_ca_crl"], crl_pem(pki.issuing_ca_crl))
    _write_credential(root, pki.trust_list_signer, files["trust_list_signer"], files["trust_list_signer_key"], keys)
    _write_credential(root, pki.tls_server, files["tls_server"], files["tls_server_key"], keys)
    _write_credential(root, pki.tls_client, files["tls_client"], files["tls_client_key"], keys)
    authorities = {}
    for spec in pki.spec.authorities:
        cert_relative, key_relative = files["authorities"][spec.slug]
        _write_credential(root, pki.authorities[spec.slug], cert_relative, key_relative, keys)
        authorities[spec.slug] = AuthorityRecord(
            name=spec.name, role=spec.role.value, document_types=spec.document_types,  # type: ignore[arg-type]
            certificate=cert_relative, key=key_relative,
        )
    trust_list = TrustList.from_pki(pki, sequence_number=1, issued_at=moment, granted_since=moment - BACKDATE)
    _write_atomic(root / files["trust_list"], trust_list.sign(pki.trust_list_signer))
    plain = {key: value for key, value in files.items() if key != "authorities"}
    return CountryRecord(
        name=pki.spec.name, root_sha256=fingerprint(pki.root.certificate), authorities=authorities, **plain
    )


def _write_gateway(root: Path, moment: datetime, key_type: KeyType, keys: KeyStore | None = None) -> GatewayRecord:
    gateway = build_gateway_pki(moment=moment, key_type=key_type)
    record = GatewayRecord(
        name="PTX Gateway",
        ca="gateway/ca.pem", ca_key="gateway/ca.key", ca_crl="gateway/ca.crl",
        signer="gateway/signer.pem", signer_key="gateway/signer.key",
        tls_server="gateway/tls-server.pem", tls_server_key="gateway/tls-server.key",
        tls_client="gateway/tls-client.pem", tls_client_key="gateway/tls-client.key",
    )
    _write_cert(root, record.ca, gateway.ca.certificate_pem())
    gateway.ca.write_key(root / "gateway/ca.key", keys=keys)
    _write_cert(root, record.ca_crl, crl_pem(gateway.crl))
    _write_credential(root, gateway.signer, record.signer, "gateway/signer.key", keys)
    _write_credential(root, gateway.tls_server, record.tls_server, "gateway/tls-server.key", keys)
    _write_credential(root, gateway.tls_client, record.tls_client, "gateway/tls-client.key", keys)
    return record


# --- the workspace ---------------------------------------------------------------------------------------


class Workspace:
    """An initialised workspace: read its material, build trust contexts, revoke and republish.

    Safe to share between threads: it holds the index and a memo of trust contexts keyed by the state of
    the files they were built from, so a revocation written by another process is seen on the next call.
    """

    def __init__(self, path: Path, index: WorkspaceIndex) -> None:
        self.path = path
        self.index = index
        self._contexts: dict[str, tuple[tuple[tuple[str, int, int], ...], TrustContext]] = {}
        self._agreements: tuple[tuple[tuple[str, int, int], ...], datetime,
                                tuple[tuple[Agreement, ...], tuple[TrustError, ...]]] | None = None

    @classmethod
    def open(cls, path: str | os.PathLike[str] | None = None) -> Workspace:
        root = Path(path) if path is not None else default_workspace_dir()
        index_path = root / INDEX_NAME
        if not index_path.is_file():
            raise ConfigurationError(
                f"no workspace at {root} (no {INDEX_NAME}); run `ptx init` first", code=Code.CONFIG_INVALID
            )
        return cls(root, _load_model(index_path, WorkspaceIndex, "workspace index"))

    # --- reading material ------------------------------------------------------------------------------

    @property
    def countries(self) -> tuple[str, ...]:
        return tuple(self.index.countries)

    def file(self, relative: str) -> Path:
        return self.path / relative

    def country(self, code: str) -> CountryRecord:
        record = self.index.countries.get(code.upper())
        if record is None:
            raise InputError(
                f"the workspace has no country {code!r} (it has {', '.join(self.countries)})", code=Code.INPUT_INVALID
            )
        return record

    def root(self, code: str) -> x509.Certificate:
        return load_certificate_file(self.file(self.country(code).root))[0]

    def _credential(self, cert_relative: str, key_relative: str) -> Credential:
        certificates = load_certificate_file(self.file(cert_relative))
        key = load_private_key_file(self.file(key_relative))
        return Credential(key, certificates[0], tuple(certificates[1:]))

    def authority(self, code: str, slug: str) -> Credential:
        record = self.country(code).authorities.get(slug)
        if record is None:
            raise InputError(f"{code} has no authority {slug!r}", code=Code.INPUT_INVALID)
        return self._credential(record.certificate, record.key)

    def node(self, code: str) -> Credential:
        record = self.country(code)
        slug = next(slug for slug, authority in record.authorities.items() if authority.role == Role.NODE.value)
        return self.authority(code, slug)

    def authority_certificate(self, code: str, slug: str) -> x509.Certificate:
        """The certificate of one of ``code``'s authorities: public material only (its key is not opened)."""
        record = self.country(code).authorities.get(slug)
        if record is None:
            raise InputError(f"{code} has no authority {slug!r}", code=Code.INPUT_INVALID)
        return load_certificate_file(self.file(record.certificate))[0]

    def node_certificate(self, code: str) -> x509.Certificate:
        """The current certificate of ``code``'s single-window node (own or a partner's): public material only."""
        return next(certificate for certificate, retires in self.node_certificates(code) if retires is None)

    def node_certificates(self, code: str) -> tuple[tuple[x509.Certificate, datetime | None], ...]:
        """Every node certificate of ``code`` (own or a partner's) with the moment it retires (None: current)."""
        code = code.upper()
        partner = self.index.partners.get(code)
        if partner is not None and code not in self.index.countries:
            return tuple((load_certificate_file(self.file(node.certificate))[0], node.retires_at)
                         for node in partner.nodes)
        record = self.country(code)
        node = next(authority for authority in record.authorities.values() if authority.role == Role.NODE.value)
        current = load_certificate_file(self.file(node.certificate))[0]
        return ((current, None), *((load_certificate_file(self.file(old.certificate))[0], old.retires_at)
                                   for old in record.retired_nodes))

    def node_files(self, code: str) -> list[Path]:
        """The files :meth:`node_certificates` reads (what a reload point watches)."""
        code = code.upper()
        partner = self.index.partners.get(code)
        if partner is not None and code not in self.index.countries:
            return [self.file(node.certificate) for node in partner.nodes]
        record = self.country(code)
        return [self.file(authority.certificate) for authority in record.authorities.values()
                if authority.role == Role.NODE.value] + [self.file(old.certificate) for old in record.retired_nodes]

    # --- members: own countries and partners known from their packages -----------------------------------

    @property
    def members(self) -> tuple[str, ...]:
        """Every country this folder knows public material of: its own, then its partners."""
        return (*self.index.countries, *(code for code in self.index.partners if code not in self.index.countries))

    def member_name(self, code: str) -> str:
        code = code.upper()
        if code in self.index.countries:
            return self.index.countries[code].name
        partner = self.index.partners.get(code)
        if partner is None:
            raise InputError(f"{code} is neither this folder's country nor an imported partner "
                             f"(known: {', '.join(self.members) or 'none'})", code=Code.INPUT_INVALID)
        return partner.name

    def anchor_sha256(self, code: str) -> str:
        code = code.upper()
        if code in self.index.countries:
            return self.index.countries[code].root_sha256
        partner = self.index.partners.get(code)
        if partner is None:
            raise InputError(f"{code} is not known here", code=Code.INPUT_INVALID)
        return partner.anchor_sha256

    def endpoint(self, code: str) -> str | None:
        code = code.upper()
        if code in self.index.countries:
            return self.index.countries[code].endpoint
        partner = self.index.partners.get(code)
        return partner.endpoint if partner is not None else None

    def tls_client_file(self, code: str) -> Path | None:
        code = code.upper()
        if code in self.index.countries:
            return self.file(self.index.countries[code].tls_client)
        partner = self.index.partners.get(code)
        return self.file(partner.tls_client) if partner is not None and partner.tls_client else None

    def anchor_file(self, code: str) -> Path:
        code = code.upper()
        if code in self.index.countries:
            return self.file(self.index.countries[code].root)
        partner = self.index.partners.get(code)
        if partner is None:
            raise InputError(f"{code} is not known here", code=Code.INPUT_INVALID)
        return self.file(partner.anchor)

    @property
    def gateway_record(self) -> GatewayRecord:
        if self.index.gateway is None:
            raise ConfigurationError(
                f"{self.path} knows no gateway yet: import the gateway's public package with `ptx country join`",
                code=Code.CONFIG_INVALID,
            )
        return self.index.gateway

    def root_ca(self, code: str) -> Credential:
        record = self.country(code)
        return self._credential(record.root, record.root_key)

    def issuing_ca(self, code: str) -> Credential:
        record = self.country(code)
        return self._credential(record.issuing_ca, record.issuing_ca_key)

    def trust_list_signer(self, code: str) -> Credential:
        record = self.country(code)
        return self._credential(record.trust_list_signer, record.trust_list_signer_key)

    def gateway_signer(self) -> Credential:
        record = self.gateway_record
        if record.signer_key is None:
            raise ConfigurationError(f"{self.path} holds the gateway's certificates only, not its signing key",
                                     code=Code.CONFIG_INVALID)
        return self._credential(record.signer, record.signer_key)

    def crl(self, relative: str) -> x509.CertificateRevocationList:
        path = self.file(relative)
        try:
            return load_crl(path.read_bytes(), source=str(path))
        except OSError as exc:
            raise ConfigurationError(f"cannot read {path}: {exc.strerror}", code=Code.CONFIG_INVALID) from exc

    def trust_list_bytes(self, code: str) -> bytes:
        path = self._trust_list_path(code)
        try:
            return path.read_bytes()
        except OSError as exc:
            raise ConfigurationError(f"cannot read {path}: {exc.strerror}", code=Code.CONFIG_INVALID) from exc

    def _trust_list_path(self, code: str) -> Path:
        code = code.upper()
        if code in self.index.partners and code not in self.index.countries:
            return self.file(self.index.partners[code].trust_list)
        if code in self.index.imported:
            return self.file(self.index.imported[code].trust_list)
        return self.file(self.country(code).trust_list)

    def trust_list(self, code: str, *, moment: datetime, allow_expired: bool = False) -> TrustList:
        """A country's (or an imported) trust list, verified under the anchor the workspace holds for it."""
        code = code.upper()
        partner = self.index.partners.get(code)
        if partner is not None and code not in self.index.countries:
            return load_trust_list_file(
                self.file(partner.trust_list), root_fingerprints=[partner.anchor_sha256], moment=moment, country=code,
                allow_expired=allow_expired,
            )
        if code in self.index.imported:
            record = self.index.imported[code]
            return load_trust_list_file(
                self.file(record.trust_list), root_fingerprints=[record.anchor_sha256], moment=moment, country=code,
                allow_expired=allow_expired,
            )
        record_c = self.country(code)
        return load_trust_list_file(
            self.file(record_c.trust_list), root_fingerprints=[record_c.root_sha256], moment=moment, country=code,
            allow_expired=allow_expired,
        )

    def agreements_at(self, moment: datetime) -> tuple[Agreement, ...]:
        """The agreements of this folder whose signatures verify at ``moment`` (a refused one is logged and left
        out)."""
        return self.verified_agreements(moment)[0]

    def agreements_of(self, code: str, moment: datetime) -> tuple[Agreement, ...]:
        return tuple(a for a in self.agreements_at(moment) if a.party(code.upper()) is not None)

    def verified_agreements(self, moment: datetime) -> tuple[tuple[Agreement, ...], tuple[TrustError, ...]]:
        """Every agreement of the folder verified at ``moment`` (:meth:`read_agreement`), and the refusals (each
        logged once). Remembered while the agreements, the trust lists and the index are unchanged, for moments
        within a minute of the one they were verified at."""
        stamps = self._stamps(self._context_inputs())
        memo = self._agreements
        if memo is not None and memo[0] == stamps and abs(moment - memo[1]) < timedelta(minutes=1):
            return memo[2]
        accepted: list[Agreement] = []
        refused: list[TrustError] = []
        for relative in self.index.agreements:
            path = self.file(relative)
            try:
                accepted.append(self.read_agreement(path.read_bytes(), moment=moment))
            except OSError as exc:
                refused.append(TrustError(f"cannot read agreement {path}: {exc.strerror}", code=Code.AGREEMENT_INVALID))
            except TrustError as exc:
                refused.append(TrustError(f"agreement {path} is refused: {exc}", code=exc.code))
        for error in refused:  # a party's unusable trust list is logged where it is read, with its file
            if error.code.value.startswith("AGREEMENT-"):
                log.error("%s", error, extra={"code": error.code.value, "folder": str(self.path)})
        result = (tuple(accepted), tuple(refused))
        self._agreements = (stamps, moment, result)
        return result

    def read_agreement(self, data: bytes, *, moment: datetime, require: Iterable[str] | None = None) -> Agreement:
        """Verify a signed agreement here: each party must be a member of this folder under the anchor the agreement
        names, and must have signed it with its trust-list signer (``require``: only these parties' signatures are
        checked, for an agreement still being signed). AGREEMENT-* codes on refusal."""
        document = parse(data, kind=AGREEMENT_KIND, codes=AGREEMENT_CODES)
        agreement = agreement_terms(document.payload)
        parties = [party.country for party in agreement.parties]
        strangers = [country for country in document.countries() if country not in parties]
        if strangers:
            raise TrustError(f"agreement {agreement.id} is signed by {', '.join(strangers)}, not a party to it",
                             code=Code.AGREEMENT_INVALID)
        wanted = set(parties if require is None else (code.upper() for code in require))
        for party in agreement.parties:
            if party.country not in self.members:
                raise TrustError(
                    f"agreement {agreement.id} names {party.country}, whose public package this folder does not hold",
                    code=Code.AGREEMENT_PARTY_UNKNOWN)
            if self.anchor_sha256(party.country) != party.anchor_sha256:
                raise TrustError(
                    f"agreement {agreement.id} pins another anchor for {party.country} than the one this folder holds",
                    code=Code.AGREEMENT_PARTY_UNKNOWN)
            if party.country in wanted:
                trust_list = self._recognised(
                    party.country, self._trust_list_path(party.country), f"agreement {agreement.id}",
                    partial(self.trust_list, party.country, moment=moment, allow_expired=True))
                verify_member(document, party.country, trust_list, moment=moment, codes=AGREEMENT_CODES)
        return agreement

    # --- issuers ---------------------------------------------------------------------------------------

    def issuers(self) -> list[tuple[str, str, AuthorityRecord]]:
        return [
            (code, slug, authority)
            for code, record in self.index.countries.items()
            for slug, authority in record.authorities.items()
        ]

    def resolve_issuer(self, text: str) -> tuple[str, str]:
        """``"AA Chamber of Commerce"``, ``"AA/chamber-of-commerce"`` or a slug unique in the workspace."""
        wanted = text.strip()
        folded = wanted.casefold()
        matches = []
        for code, slug, authority in self.issuers():
            if folded in (authority.name.casefold(), f"{code}/{slug}".casefold(), slug.casefold()):
                matches.append((code, slug))
        if len(matches) == 1:
            return matches[0]
        known = ", ".join(f"{authority.name!r} ({code}/{slug})" for code, slug, authority in self.issuers())
        if matches:
            raise InputError(
                f"{wanted!r} names more than one issuer; say which: "
                + ", ".join(f"{code}/{slug}" for code, slug in matches),
                code=Code.INPUT_INVALID,
            )
        raise InputError(f"no issuer {wanted!r} in the workspace; known: {known}", code=Code.INPUT_INVALID)

    def signer(self, text: str) -> Credential:
        code, slug = self.resolve_issuer(text)
        return self.authority(code, slug)

    # --- trust contexts --------------------------------------------------------------------------------

    def stamps(self, paths: Iterable[str | Path]) -> tuple[tuple[str, int, int], ...]:
        """The state (path, mtime, size) of each file: what a reload point compares."""
        return self._stamps(paths)

    def context_inputs(self) -> list[Path]:
        """The files trust contexts are built from (trust lists, agreements, imported lists)."""
        return self._context_inputs()

    def build_trust_context(self, receiver: str | None, moment: datetime) -> TrustContext:
        """A new trust context of ``receiver`` (None: the workspace view) from the files as they are now, uncached
        (:meth:`trust_context` caches; a reload point that keeps its own snapshot builds with this)."""
        return self._build_context(receiver, moment)

    def _stamps(self, paths: Iterable[str | Path]) -> tuple[tuple[str, int, int], ...]:
        stamps = []
        for path in paths:
            try:
                stat = os.stat(path)
                stamps.append((str(path), stat.st_mtime_ns, stat.st_size))
            except OSError:
                stamps.append((str(path), -1, -1))
        return tuple(stamps)

    def _context_inputs(self) -> list[Path]:
        paths = [self.path / INDEX_NAME]
        paths += [self.file(record.trust_list) for record in self.index.countries.values()]
        paths += [self.file(record.recognition) for record in self.index.countries.values() if record.recognition]
        paths += [self.file(relative) for relative in self.index.agreements]
        paths += [self.file(record.trust_list) for record in self.index.imported.values()]
        paths += [self.file(record.trust_list) for record in self.index.partners.values()]
        return paths

    def recognition(self, code: str) -> RecognitionFile | None:
        """``code``'s own recognition decisions, or None when its folder leaves recognition to the agreements."""
        record = self.country(code)
        if record.recognition is None:
            return None
        path = self.file(record.recognition)
        if not path.is_file():
            return RecognitionFile()
        model: RecognitionFile = _load_model(path, RecognitionFile, "recognition")
        return model

    def trust_context(self, receiver: str | None = None, *, moment: datetime) -> TrustContext:
        """What ``receiver`` recognises at ``moment`` (see the module docstring).

        With ``receiver=None``: the workspace view, in which every country's own trust list is recognised
        for what it grants (useful to check a document from any country of the workspace).
        Built once per state of the files and re-timed with :meth:`TrustContext.at`. Trust lists past their
        NextUpdate are kept so that each evaluation reports TRUST-LIST-EXPIRED; a list whose signature
        does not verify is a configuration fault (:class:`TrustError`, TRUST-LIST-SIGNATURE).
        """
        key = receiver.upper() if receiver is not None else ""
        stamps = self._stamps(self._context_inputs())
        cached = self._contexts.get(key)
        if cached is not None and cached[0] == stamps:
            return cached[1].at(moment)
        context = self._build_context(key or None, moment)
        self._contexts[key] = (stamps, context)
        return context

    @staticmethod
    def _recognised(country: str, path: Path, whose: str, load: Callable[[], TrustList]) -> TrustList:
        """``load()``; a list that cannot be used is logged with its country and file before the error goes on
        (the error itself says only what is wrong, and an operator needs to know which file)."""
        try:
            return load()
        except (TrustError, ConfigurationError) as exc:
            log.error("trust list of %s (%s) is unusable, so %s's trust cannot be built: %s", country, path, whose,
                      exc, extra={"code": exc.code.value, "country": country, "path": str(path)})
            raise

    def _build_context(self, receiver: str | None, moment: datetime) -> TrustContext:
        recognitions: list[Recognition] = []
        recognised_countries: set[str] = set()
        whose = receiver or "the workspace"

        def own_list(code: str, basis: str) -> None:
            recognitions.append(Recognition(
                self._recognised(code, self._trust_list_path(code), whose,
                                 partial(self.trust_list, code, moment=moment, allow_expired=True)),
                basis=basis,
            ))
            recognised_countries.add(code)

        if receiver is None:
            for code in self.members:
                own_list(code, f"workspace ({code})")
        else:
            if receiver not in self.members:
                raise InputError(f"{receiver} is not known here (known: {', '.join(self.members)})",
                                 code=Code.INPUT_INVALID)
            own_list(receiver, f"{receiver}'s own trust list")
            decided = self.recognition(receiver) if receiver in self.index.countries else None
            agreements, refused = self.verified_agreements(moment)
            for error in refused:
                if not error.code.value.startswith("AGREEMENT-"):
                    raise error  # a party's trust list is unusable: a configuration fault, not a bad agreement
            for agreement in agreements:
                if agreement.party(receiver) is None:
                    continue
                for party in agreement.parties:
                    if party.country == receiver:
                        continue
                    types = agreement.document_types(party.country, receiver)
                    valid_from, valid_until = agreement.valid_from, agreement.valid_until
                    basis = f"agreement {agreement.id}"
                    if decided is not None:  # the receiver's own decision narrows what the agreement allows
                        entry = decided.entry(party.country)
                        if entry is None:
                            continue
                        types = types & frozenset(entry.document_types)
                        valid_from = max(valid_from, entry.valid_from or valid_from)
                        valid_until = min((moment_ for moment_ in (valid_until, entry.valid_until)
                                           if moment_ is not None), default=None)
                        basis = f"{receiver}'s recognition under agreement {agreement.id}"
                    if not types:
                        continue
                    trust_list = self._recognised(
                        party.country, self._trust_list_path(party.country), whose,
                        partial(self.trust_list, party.country, moment=moment, allow_expired=True),
                    )
                    recognitions.append(Recognition(
                        trust_list, document_types=types, valid_from=valid_from, valid_until=valid_until, basis=basis,
                    ))
                    recognised_countries.add(party.country)
        known = []
        for code in (*self.members, *self.index.imported):
            if code in recognised_countries:
                continue
            try:
                known.append(self.trust_list(code, moment=moment, allow_expired=True))
            except (TrustError, ConfigurationError) as exc:
                # A list this receiver does not recognise only sharpens messages (TRUST-NOT-RECOGNISED), so a bad
                # one does not stop the receiver's trust; but it is a broken file an operator must hear about.
                log.warning(
                    "trust list of %s left out of %s's trust: %s", code, receiver or "the workspace", exc,
                    extra={"code": exc.code.value, "country": code, "receiver": receiver,
                           "path": str(self._trust_list_path(code))},
                )
        return TrustContext(moment=moment, recognitions=tuple(recognitions), known=tuple(known))

    # --- revocation and republishing -------------------------------------------------------------------

    def revoke(
        self, issuer: str, *, moment: datetime, reason: x509.ReasonFlags | None = None
    ) -> RevocationResult:
        """Revoke an authority's certificate: new CRL from its issuing CA, trust list reissued (sequence + 1)."""
        moment = utc(moment)
        code, slug = self.resolve_issuer(issuer)
        record = self.country(code)
        credential = self.authority(code, slug)
        issuing = self.issuing_ca(code)
        current = self.crl(record.issuing_ca_crl)
        name = record.authorities[slug].name
        already = next(
            (entry for entry in revocations(current) if entry.serial_number == credential.certificate.serial_number),
            None,
        )
        if already is not None:
            trust_list = self.trust_list(code, moment=moment, allow_expired=True)
            return RevocationResult(
                code, name, credential.certificate.serial_number, already.revoked_at, already.reason,
                crl_number(current), trust_list.sequence_number, changed=False,
            )
        new_crl = revoke(current, issuing, credential.certificate, moment=moment, reason=reason)
        sequence = self._republish(code, moment, issuing_crl=new_crl)
        return RevocationResult(
            code, name, credential.certificate.serial_number, moment, reason, crl_number(new_crl), sequence,
            changed=True,
        )

    def renew(self, code: str, *, moment: datetime) -> int:
        """Reissue a country's CRLs and trust list with fresh dates; returns the new sequence number."""
        code = code.upper()
        issuing = self.issuing_ca(code)
        return self._republish(
            code, utc(moment),
            issuing_crl=renew_crl(self.crl(self.country(code).issuing_ca_crl), issuing, moment=utc(moment)),
        )

    def _republish(self, code: str, moment: datetime, *, issuing_crl: x509.CertificateRevocationList) -> int:
        record = self.country(code)
        root_ca = self.root_ca(code)
        root_crl = renew_crl(self.crl(record.root_crl), root_ca, moment=moment)
        current = self.trust_list(code, moment=moment, allow_expired=True)
        reissued = current.reissued(
            issued_at=moment, next_update=moment + DEFAULT_LIST_LIFETIME, crls=(root_crl, issuing_crl)
        )
        signed = reissued.sign(self.trust_list_signer(code))
        _write_atomic(self.file(record.root_crl), crl_pem(root_crl))
        _write_atomic(self.file(record.issuing_ca_crl), crl_pem(issuing_crl))
        _write_atomic(self.file(record.trust_list), signed)
        self.publish(moment)
        return reissued.sequence_number

    # --- third-party trust lists -----------------------------------------------------------------------

    def import_trust_list(self, data: bytes, *, anchor: x509.Certificate, moment: datetime) -> TrustList:
        """Verify a third party's trust list under ``anchor`` and keep it in ``trust/`` (known, not recognised
        until an agreement names it)."""
        trust_list = load_trust_list(data, roots=[anchor], moment=moment)
        code = trust_list.country
        if code in self.index.imported:  # no rollback: an older list than the one held is refused
            held = self.trust_list(code, moment=moment, allow_expired=True)
            check_succession(held, trust_list)
        if code in self.index.countries:
            raise ConfigurationError(
                f"{code} is a country of this workspace with its own PKI; its list is not imported",
                code=Code.CONFIG_INVALID,
            )
        list_relative, anchor_relative = f"trust/{code}.xml", f"trust/{code}-anchor.pem"
        _write_atomic(self.file(list_relative), data)
        _write_atomic(self.file(anchor_relative), pem([anchor]))
        imported = dict(self.index.imported)
        imported[code] = ImportedRecord(
            trust_list=list_relative, anchor=anchor_relative, anchor_sha256=fingerprint(anchor)
        )
        self.index = self.index.model_copy(update={"imported": imported})
        _write_atomic(self.path / INDEX_NAME, _dump_yaml(self.index, _INDEX_HEADER))
        self.publish(moment)
        return trust_list

    # --- public packages: export, import, admit ----------------------------------------------------------

    def _write_index(self) -> None:
        _write_atomic(self.path / INDEX_NAME, _dump_yaml(self.index, _INDEX_HEADER))

    def export_package(self, code: str, *, moment: datetime, endpoint: str | None = None) -> tuple[bytes, str]:
        """``code``'s public package (bytes) and its anchor's SHA-256: signed by its trust-list signer, with a
        sequence one above the last export when the content changed (the same bytes again when it did not)."""
        from exchange._packages import build_country_package, read_country_package

        moment = utc(moment)
        code = code.upper()
        record = self.country(code)
        if endpoint is not None:
            record = record.model_copy(update={"endpoint": endpoint})
        nodes = tuple((certificate, retires) for certificate, retires in self.node_certificates(code)
                      if retires is None or retires > moment)
        tls_client = load_certificate_file(self.file(record.tls_client))[0]
        tls_server = load_certificate_file(self.file(record.tls_server))[0]
        previous = None
        if record.package is not None and self.file(record.package).is_file():
            data = self.file(record.package).read_bytes()
            previous = read_country_package(data, anchor_sha256=record.root_sha256,
                                            moment=_issued_at(data, moment))
        sequence = previous.manifest.sequence + 1 if previous is not None else 1
        manifest, data = build_country_package(
            country=code, name=record.name, sequence=sequence, moment=moment, anchor=self.root(code),
            trust_list=self.trust_list_bytes(code), nodes=nodes, tls_client=tls_client, tls_server=tls_server,
            endpoint=record.endpoint, signer=self.trust_list_signer(code),
        )
        if previous is not None and previous.manifest.same_content(manifest):
            return previous.data, record.root_sha256
        relative = f"packages/{code}.json"
        _write_atomic(self.file(relative), data)
        countries = dict(self.index.countries)
        countries[code] = record.model_copy(update={"package": relative})
        self.index = self.index.model_copy(update={"countries": countries})
        self._write_index()
        return data, record.root_sha256

    def held_package(self, code: str) -> Any:
        """The package held for partner ``code`` (verified as of when it was issued), or None."""
        from exchange._packages import read_country_package

        record = self.index.partners.get(code.upper())
        if record is None or not self.file(record.package).is_file():
            return None
        data = self.file(record.package).read_bytes()
        return read_country_package(data, anchor_sha256=record.anchor_sha256,
                                    moment=_issued_at(data, self.index.created))

    def import_package(self, data: bytes, *, anchor_sha256: str, moment: datetime, actor: str = "ptx") -> Any:
        """Verify a partner's public package under the anchor fingerprint given out of band and keep it: a
        country importing a partner, or the gateway admitting a party. An older package than the one held is
        refused (PACKAGE-ROLLBACK); a newer one replaces it. Every import is appended to ``audit/imports.jsonl``.
        Returns the :class:`exchange._packages.CountryPackage` (``changed`` False when it was already held)."""
        from exchange._packages import digest, read_country_package

        moment = utc(moment)
        try:
            held = self.held_package_of(data)
        except TrustError:
            held = None
        package = read_country_package(data, anchor_sha256=anchor_sha256, moment=moment, held=held)
        code = package.country
        if code in self.index.countries:
            raise ConfigurationError(f"{code} is this folder's own country; its package is not imported here",
                                     code=Code.CONFIG_INVALID)
        if held is not None and held.data == package.data:
            return package
        folder = f"partners/{code}"
        _write_atomic(self.file(f"{folder}/package.json"), package.data)
        _write_atomic(self.file(f"{folder}/anchor.pem"), pem([package.anchor]))
        _write_atomic(self.file(f"{folder}/trust-list.xml"), package.trust_list.signed_xml or b"")
        nodes = []
        for position, (certificate, retires) in enumerate(package.nodes, start=1):
            relative = f"{folder}/node-{position}.pem"
            _write_atomic(self.file(relative), pem([certificate]))
            nodes.append(NodeRecord(certificate=relative, retires_at=retires))
        tls = {}
        for what in ("tls_client", "tls_server"):
            text = getattr(package.manifest, what)
            if text is not None:
                relative = f"{folder}/{what.replace('_', '-')}.pem"
                _write_atomic(self.file(relative), text.encode("ascii"))
                tls[what] = relative
        partners = dict(self.index.partners)
        partners[code] = PartnerRecord(
            name=package.manifest.name, package=f"{folder}/package.json", sequence=package.manifest.sequence,
            anchor=f"{folder}/anchor.pem", anchor_sha256=package.anchor_sha256, trust_list=f"{folder}/trust-list.xml",
            nodes=tuple(nodes), endpoint=package.manifest.endpoint, **tls,
        )
        self.index = self.index.model_copy(update={"partners": partners})
        self._write_index()
        self.audit_import({
            "at": moment.isoformat(), "actor": actor, "event": "package-imported", "country": code,
            "sequence": package.manifest.sequence,
            "previous_sequence": held.manifest.sequence if held is not None else None,
            "trust_list_sequence": package.trust_list.sequence_number, "anchor_sha256": package.anchor_sha256,
            "package_sha256": digest(package.data), "endpoint": package.manifest.endpoint,
            "nodes": [fingerprint(certificate) for certificate, _ in package.nodes],
        })
        return package

    def held_package_of(self, data: bytes) -> Any:
        """The package held for the country ``data`` claims to be from (None when none is held)."""
        import json as _json

        from exchange._packages import COUNTRY_PACKAGE, CountryManifest

        try:
            document = parse(data, kind=COUNTRY_PACKAGE, codes=PACKAGE_CODES)  # structure only
            country = CountryManifest.model_validate(_json.loads(document.payload)).country
        except (TrustError, ValidationError, ValueError):
            return None
        return self.held_package(country)

    def withdraw_partner(self, code: str, *, moment: datetime, actor: str = "ptx") -> bool:
        """Forget partner ``code`` (its package and files); agreements naming it stop verifying here."""
        code = code.upper()
        if code not in self.index.partners:
            return False
        partners = dict(self.index.partners)
        del partners[code]
        self.index = self.index.model_copy(update={"partners": partners})
        self._write_index()
        shutil.rmtree(self.file(f"partners/{code}"), ignore_errors=True)
        self.audit_import({"at": utc(moment).isoformat(), "actor": actor, "event": "partner-withdrawn",
                           "country": code})
        return True

    def audit_import(self, entry: dict[str, Any]) -> None:
        """Append one line to the folder's import audit (``audit/imports.jsonl``)."""
        import json as _json

        path = self.file("audit/imports.jsonl")
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as handle:
            handle.write(_json.dumps(entry, sort_keys=True) + "\n")
        log.info("%s %s", entry.get("event"), entry.get("country"), extra={"audit": entry})

    def export_gateway_package(self, *, moment: datetime, endpoint: str | None = None) -> tuple[bytes, str]:
        """The gateway's public package and its CA's SHA-256 (the gateway's folder or the network folder)."""
        from exchange._packages import build_gateway_package

        record = self.gateway_record
        ca = load_certificate_file(self.file(record.ca))[0]
        data = build_gateway_package(
            name=record.name, moment=moment, ca=ca, ca_crl=self.file(record.ca_crl).read_bytes(),
            signer=self.gateway_signer(), tls_server=load_certificate_file(self.file(record.tls_server))[0],
            tls_client=load_certificate_file(self.file(record.tls_client))[0], endpoint=endpoint or record.endpoint,
        )
        return data, fingerprint(ca)

    def join_gateway(self, data: bytes, *, anchor_sha256: str, moment: datetime, actor: str = "ptx") -> Any:
        """Keep the gateway's public certificates (a country's folder), verified under the CA fingerprint given."""
        from exchange._packages import digest, read_gateway_package

        package = read_gateway_package(data, anchor_sha256=anchor_sha256, moment=moment)
        if self.index.gateway is not None and self.index.gateway.ca_key is not None:
            raise ConfigurationError("this is the gateway's own folder", code=Code.CONFIG_INVALID)
        manifest = package.manifest
        files = {"ca": manifest.ca, "ca_crl": manifest.ca_crl, "signer": manifest.signer,
                 "tls_server": manifest.tls_server, "tls_client": manifest.tls_client}
        names = {"ca": "gateway/ca.pem", "ca_crl": "gateway/ca.crl", "signer": "gateway/signer.pem",
                 "tls_server": "gateway/tls-server.pem", "tls_client": "gateway/tls-client.pem"}
        for key, text in files.items():
            _copy_bytes(self.file(names[key]), text.encode("ascii"))
        record = GatewayRecord(name=manifest.name, endpoint=manifest.endpoint, **names)
        if record != self.index.gateway:
            self.index = self.index.model_copy(update={"gateway": record})
            self._write_index()
            self.audit_import({"at": utc(moment).isoformat(), "actor": actor, "event": "gateway-joined",
                               "country": None, "anchor_sha256": fingerprint(package.ca),
                               "package_sha256": digest(package.data)})
        return package

    # --- node key renewal with an overlap ----------------------------------------------------------------

    def renew_node(self, code: str, *, moment: datetime, overlap: timedelta) -> x509.Certificate:
        """A new key and certificate for ``code``'s node (same name, same issuing CA); the old certificate is
        kept, retiring at ``moment + overlap``: until then envelopes signed with either key are accepted by
        whoever imports the next package, after it only the new key's. The trust list is reissued with both
        certificates listed (sequence + 1), so the next export carries them. The node process signs with the
        new key once restarted."""
        from exchange._pki import SIGNER_LIFETIME, issue_certificate
        from exchange._pki import generate_key as new_key
        from exchange._trustlist import IssuerEntry

        moment = utc(moment)
        if overlap < timedelta(0):
            raise InputError("the overlap cannot be negative", code=Code.INPUT_INVALID)
        code = code.upper()
        record = self.country(code)
        slug, authority = next((slug, authority) for slug, authority in record.authorities.items()
                               if authority.role == Role.NODE.value)
        old = self.authority(code, slug)
        issuing = self.issuing_ca(code)
        key = new_key(self.index.key_type)
        usage = old.certificate.extensions.get_extension_for_class(x509.KeyUsage).value
        bits = [name for name in ("digital_signature", "content_commitment", "key_encipherment",
                                  "data_encipherment", "key_agreement") if getattr(usage, name)]
        certificate = issue_certificate(
            subject=old.certificate.subject, public_key=key.public_key(), issuer=issuing, role=Role.NODE,
            not_before=moment - BACKDATE, not_after=moment - BACKDATE + SIGNER_LIFETIME, key_usage_bits=bits,
        )
        retired = f"{code}/authorities/{slug}-{old.certificate.serial_number:x}.pem"
        _write_atomic(self.file(retired), pem([old.certificate, *old.chain]))
        renewed = Credential(key, certificate, old.chain)
        renewed.write(self.file(authority.key), self.file(authority.certificate))
        current = self.trust_list(code, moment=moment, allow_expired=True)
        entries = list(current.issuers)
        position = next(index for index, entry in enumerate(entries) if entry.matches(old.certificate))
        entries.insert(position, IssuerEntry.for_credential(
            certificate, authority.document_types, since=moment - BACKDATE, role=Role.NODE, name=authority.name))
        reissued = current.reissued(issued_at=moment, next_update=moment + DEFAULT_LIST_LIFETIME,
                                    issuers=tuple(entries))
        _write_atomic(self.file(record.trust_list), reissued.sign(self.trust_list_signer(code)))
        kept = tuple(node for node in record.retired_nodes if node.retires_at is None or node.retires_at > moment)
        countries = dict(self.index.countries)
        countries[code] = record.model_copy(update={
            "retired_nodes": (*kept, NodeRecord(certificate=retired, retires_at=moment + overlap))})
        self.index = self.index.model_copy(update={"countries": countries})
        self._write_index()
        self.publish(moment)
        return certificate

    # --- recognition and agreements of a country's own folder ------------------------------------------

    def own_country(self) -> str:
        """The one country whose keys this folder holds (a country's folder)."""
        if len(self.index.countries) != 1:
            raise ConfigurationError(
                f"{self.path} holds {len(self.index.countries)} countries' keys; run this in one country's folder "
                "(for the demo: workspace/parties/<CC>)", code=Code.CONFIG_INVALID)
        return next(iter(self.index.countries))

    def set_recognition(self, partner: str, document_types: Sequence[str] | None, *, moment: datetime,
                        valid_until: datetime | None = None, actor: str = "ptx") -> RecognitionFile:
        """Recognise ``partner`` for ``document_types`` (None: withdraw the recognition), in force at once."""
        code = self.own_country()
        partner = partner.upper()
        record = self.country(code)
        relative = record.recognition or "recognition.yaml"
        current = self.recognition(code) or RecognitionFile()
        entries = [entry for entry in current.recognises if entry.country != partner]
        if document_types is not None:
            if partner not in self.index.partners:
                raise InputError(f"{partner} is not a partner of {code}: import its package first "
                                 "(`ptx country import`)", code=Code.INPUT_INVALID)
            entries.append(RecognitionEntry(country=partner, document_types=tuple(document_types),
                                            valid_from=utc(moment), valid_until=valid_until))
        updated = RecognitionFile(recognises=tuple(entries))
        _write_atomic(self.file(relative), _dump_yaml(updated, _RECOGNITION_HEADER))
        if record.recognition != relative:
            countries = dict(self.index.countries)
            countries[code] = record.model_copy(update={"recognition": relative})
            self.index = self.index.model_copy(update={"countries": countries})
            self._write_index()
        self.audit_import({"at": utc(moment).isoformat(), "actor": actor, "country": partner,
                           "event": "recognised" if document_types is not None else "recognition-withdrawn",
                           "document_types": list(document_types or ())})
        return updated

    def propose_agreement(self, partner: str, *, moment: datetime, document_types: Sequence[str] = DEMO_FLOW_TYPES,
                          lifetime: timedelta = AGREEMENT_LIFETIME) -> bytes:
        """An agreement between this folder's country and ``partner``, signed by this country only."""
        code = self.own_country()
        partner = partner.upper()
        if partner not in self.members:
            raise InputError(f"{partner} is not a partner here: import its package first", code=Code.INPUT_INVALID)
        first, second = sorted((code, partner))
        agreement = demo_agreement(
            first, second, anchors={c: self.anchor_sha256(c) for c in (first, second)},
            names={c: self.member_name(c) for c in (first, second)}, moment=utc(moment),
            document_types=document_types,
        )
        agreement = agreement.model_copy(update={"valid_from": utc(moment), "valid_until": utc(moment) + lifetime})
        return dumps(sign_agreement_terms(agreement, self.trust_list_signer(code), country=code))

    def countersign_agreement(self, data: bytes, *, moment: datetime) -> bytes:
        """Add this folder's country's signature to an agreement the other party signed (verified first)."""
        code = self.own_country()
        document = parse(data, kind=AGREEMENT_KIND, codes=AGREEMENT_CODES)
        agreement = agreement_terms(document.payload)
        if agreement.party(code) is None:
            raise InputError(f"agreement {agreement.id} is not one {code} is a party to", code=Code.INPUT_INVALID)
        others = [party.country for party in agreement.parties if party.country != code]
        self.read_agreement(data, moment=moment, require=others)
        return dumps(countersign(document, self.trust_list_signer(code), country=code))

    def install_agreement(self, data: bytes, *, moment: datetime, actor: str = "ptx") -> Agreement:
        """Verify an agreement signed by both parties and keep it (a country's folder or the gateway's)."""
        from exchange._packages import digest

        agreement = self.read_agreement(data, moment=moment)
        relative = f"agreements/{agreement.id}.json"
        _write_atomic(self.file(relative), data)
        if relative not in self.index.agreements:
            self.index = self.index.model_copy(update={"agreements": (*self.index.agreements, relative)})
            self._write_index()
        self.audit_import({"at": utc(moment).isoformat(), "actor": actor, "event": "agreement-installed",
                           "country": None, "agreement": agreement.id, "sha256": digest(data)})
        return agreement

    # --- party folders -------------------------------------------------------------------------------------

    @property
    def is_network(self) -> bool:
        """The demo's simulation of the whole network (``ptx init``): every country's keys and the gateway's."""
        gateway = self.index.gateway
        return (len(self.index.countries) >= 2 and gateway is not None and gateway.ca_key is not None
                and self.path.parent.name != PARTIES_DIR)

    @property
    def parties(self) -> tuple[str, ...]:
        """Every party of the network: each country and the gateway."""
        return (*self.countries, GATEWAY_PARTY)

    def publish(self, moment: datetime) -> None:
        """Build or refresh ``parties/<party>/`` for every party from this (network) folder, the way the parties
        would on their own machines: each country's folder gets its own PKI and keys, then imports the gateway's
        package and every partner's package (verified under the anchor the network folder holds for it) and the
        agreements it is a party to (verified); the gateway's folder gets its own keys and admits every country.
        No key ever moves between parties; a key of another party found there (an older layout) is removed. A
        party folder's own state (stores, logs, recognition decisions, partners imported by hand) is left alone."""
        if not self.is_network:
            return  # a party's own folder: it publishes nothing to others (it exports its package)
        moment = utc(moment)
        packages = {code: self.export_package(code, moment=moment) for code in self.countries}
        gateway_package, gateway_anchor = self.export_gateway_package(moment=moment)
        keys = {party: set(private_files(self.index, party)) for party in self.parties}
        every_key = set().union(*keys.values())
        agreements = {relative: self.file(relative).read_bytes() for relative in self.index.agreements}
        for party in self.parties:
            folder = self.path / PARTIES_DIR / party
            existing = _existing_index(folder)
            gateway = self.gateway_record if party == GATEWAY_PARTY else self.gateway_record.public()
            own = self.index.countries[party] if party != GATEWAY_PARTY else None
            names = [*keys[party], *(value for key, value in gateway.model_dump().items()
                                     if isinstance(value, str) and key not in {"name", "endpoint"}
                                     and party == GATEWAY_PARTY)]
            if own is not None:
                own_index = WorkspaceIndex(created=self.index.created, key_type=self.index.key_type,
                                           countries={party: own})
                names += own_index.files()
            for name in dict.fromkeys(names):
                _copy_if_changed(self.file(name), folder / name)
            for name in every_key - keys[party]:
                (folder / name).unlink(missing_ok=True)
            for imported in self.index.imported.values():
                _copy_if_changed(self.file(imported.trust_list), folder / imported.trust_list)
                _copy_if_changed(self.file(imported.anchor), folder / imported.anchor)
            extra = self.path / "schemas"
            if extra.is_dir():
                shutil.copytree(extra, folder / "schemas", dirs_exist_ok=True)
            countries = {}
            if own is not None:
                kept = existing.countries.get(party) if existing is not None else None
                countries[party] = own.model_copy(update={
                    "recognition": "recognition.yaml",
                    "package": kept.package if kept is not None else None,
                    "retired_nodes": own.retired_nodes,
                })
            index = WorkspaceIndex(
                created=self.index.created, key_type=self.index.key_type, countries=countries,
                gateway=gateway if party == GATEWAY_PARTY else (existing.gateway if existing else None),
                agreements=tuple(a for a in existing.agreements if a.endswith(".json")) if existing else (),
                imported=self.index.imported,
                partners=existing.partners if existing is not None else {},
            )
            _write_atomic(folder / INDEX_NAME, _dump_yaml(index, _INDEX_HEADER))
            member = Workspace(folder, index)
            if party != GATEWAY_PARTY:
                member.join_gateway(gateway_package, anchor_sha256=gateway_anchor, moment=moment, actor="ptx init")
            for code, (data, anchor) in packages.items():
                if code != party:
                    member.import_package(data, anchor_sha256=anchor, moment=moment, actor="ptx init")
            for relative, data in agreements.items():
                terms = agreement_terms(parse(data, kind=AGREEMENT_KIND, codes=AGREEMENT_CODES).payload)
                if party == GATEWAY_PARTY or terms.party(party) is not None:
                    held = folder / relative
                    if not held.is_file() or held.read_bytes() != data:
                        member.install_agreement(data, moment=moment, actor="ptx init")
            if own is not None and not (folder / "recognition.yaml").is_file():
                decided = [
                    RecognitionEntry(country=other.country, document_types=tuple(sorted(
                        agreement.document_types(other.country, party))))
                    for agreement in member.verified_agreements(moment)[0] if agreement.party(party) is not None
                    for other in agreement.parties
                    if other.country != party and agreement.document_types(other.country, party)
                ]
                _write_atomic(folder / "recognition.yaml",
                              _dump_yaml(RecognitionFile(recognises=tuple(decided)), _RECOGNITION_HEADER))


def _issued_at(data: bytes, default: datetime) -> datetime:
    """A package's own issue time (to re-verify a held package as of when it was issued)."""
    import json as _json

    try:
        document = parse(data, kind="ptx-country-package+json", codes=PACKAGE_CODES)
        return datetime.fromisoformat(_json.loads(document.payload)["issued_at"])
    except (TrustError, ValueError, KeyError, TypeError):
        return default


def _existing_index(folder: Path) -> WorkspaceIndex | None:
    try:
        index: WorkspaceIndex = _load_model(folder / INDEX_NAME, WorkspaceIndex, "workspace index")
        return index
    except ConfigurationError:
        return None


def _copy_bytes(target: Path, data: bytes) -> None:
    if target.is_file() and target.read_bytes() == data:
        return
    _write_atomic(target, data)


_RECOGNITION_HEADER = (
    "# Whom this country recognises, for which document types and until when: its own decision\n"
    "# (`ptx country recognise` / `ptx country withdraw`). An agreement in force must let the type flow as well.\n"
)


def init_country(
    path: str | os.PathLike[str], code: str, *, moment: datetime, key_type: KeyType = KeyType.EC_P256,
    name: str | None = None, endpoint: str | None = None,
) -> Workspace:
    """One country alone, in its own folder: its PKI and keys, its signed trust list, no partner yet."""
    moment = utc(moment)
    code = code.strip().upper()
    if not re.match(_COUNTRY, code):
        raise InputError(f"country code {code!r}: two letters (ISO 3166-1 alpha-2)", code=Code.INPUT_INVALID)
    root = Path(path)
    if (root / INDEX_NAME).exists():
        raise ConfigurationError(f"{root} already holds a folder ({INDEX_NAME}); choose another",
                                 code=Code.CONFIG_INVALID)
    root.mkdir(parents=True, exist_ok=True)
    pki = build_country_pki(demo_country(code, key_type=key_type, name=name), moment=moment)
    record = _write_country(root, pki, moment).model_copy(update={"recognition": "recognition.yaml",
                                                                   "endpoint": endpoint})
    _write_atomic(root / "recognition.yaml", _dump_yaml(RecognitionFile(), _RECOGNITION_HEADER))
    index = WorkspaceIndex(created=moment, key_type=key_type, countries={code: record})
    _write_atomic(root / INDEX_NAME, _dump_yaml(index, _INDEX_HEADER))
    return Workspace(root, index)


def init_gateway(path: str | os.PathLike[str], *, moment: datetime, key_type: KeyType = KeyType.EC_P256,
                 endpoint: str | None = None) -> Workspace:
    """The gateway alone, in its own folder: its CA, signer and TLS keys, an empty directory."""
    root = Path(path)
    if (root / INDEX_NAME).exists():
        raise ConfigurationError(f"{root} already holds a folder ({INDEX_NAME}); choose another",
                                 code=Code.CONFIG_INVALID)
    root.mkdir(parents=True, exist_ok=True)
    record = _write_gateway(root, utc(moment), key_type).model_copy(update={"endpoint": endpoint})
    index = WorkspaceIndex(created=utc(moment), key_type=key_type, gateway=record)
    _write_atomic(root / INDEX_NAME, _dump_yaml(index, _INDEX_HEADER))
    return Workspace(root, index)


__all__ = [
    "GATEWAY_PARTY",
    "PARTIES_DIR",
    "party_folder",
    "private_files",
    "DEFAULT_COUNTRIES",
    "DEMO_FLOW_TYPES",
    "INDEX_NAME",
    "Agreement",
    "AgreementFlow",
    "AgreementParty",
    "InitResult",
    "RevocationResult",
    "Workspace",
    "WorkspaceIndex",
    "default_workspace_dir",
    "demo_agreement",
    "init_country",
    "init_gateway",
    "init_workspace",
    "load_agreement",
    "agreement_terms",
    "RecognitionFile",
]
