"""The demo workspace: every country's PKI, its signed trust list, the bilateral agreements, the gateway.

``ptx init`` writes (default folder ``./workspace`` or ``$PTX_WORKSPACE``)::

    workspace.yaml                  index: countries, files, key type, agreements (read with unknown keys refused)
    AA/pki/root.pem|.key|.crl       root CA (the anchor partners pin), its CRL
    AA/pki/issuing-ca.pem|.key|.crl issuing CA, its CRL
    AA/pki/trust-list-signer.pem|.key
    AA/authorities/<slug>.pem|.key  chamber-of-commerce, nppo, customs, single-window (the node); PEM = leaf + CA
    AA/tls/server.pem|.key, client.pem|.key
    AA/trust-list.xml               AA's signed trust list (what AA publishes)
    BB/...                          the same for every other country
    gateway/ca.pem|.key|.crl, signer.pem|.key, tls-server.pem|.key, tls-client.pem|.key
    agreements/AA-BB.yaml           a bilateral agreement (data, like an AS4 P-Mode)
    trust/CC.xml, CC-anchor.pem     third-party trust lists brought in with ``ptx trust import``
    parties/AA/, parties/BB/, parties/gateway/
                                    one folder per party: the same index and every public file (certificates,
                                    CRLs, trust lists, agreements, imported lists, added document types), and only
                                    that party's own private keys

The top folder is the demo's simulation of the whole network, for the trainer's commands (sign as any issuer,
revoke, renew, import). Each service is started on its party's folder alone (``ptx up``, ``ptx demo``, the
exercises), so no service can open another party's key: it is not there. :meth:`Workspace.publish` refreshes the
public material of every party folder after a change (``init``, ``revoke``, ``renew``, ``trust import``, ``schemas
add``), as each party would import its partners' public packages; it never copies a key between parties.

Private keys are written with mode 0600 and never printed. ``init`` is idempotent: on a complete workspace
with the same countries it changes nothing and says so; ``force=True`` regenerates.

An agreement names its parties, where each publishes its trust list and the SHA-256 of the anchor that list
must be signed under (exchanged out of band, as ICAO CSCAs are), the document types that flow in each
direction, and its period. :meth:`Workspace.trust_context` builds what a receiving country recognises: its
own trust list for everything it grants, and each partner's list for the types the agreements let flow from
that partner to it, within the agreement's period. Other countries' lists are known but not recognised.
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
    trust_list: str = Field(min_length=1, description="path of the party's published trust list")
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
    """Read an agreement file; unknown keys and bad values are refused with the key named."""
    return _load_model(Path(path), Agreement, "agreement")


class AuthorityRecord(_Model):
    name: str
    role: Literal["document-signer", "node"]
    document_types: tuple[str, ...]
    certificate: str
    key: str


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


class GatewayRecord(_Model):
    name: str
    ca: str
    ca_key: str
    ca_crl: str
    signer: str
    signer_key: str
    tls_server: str
    tls_server_key: str
    tls_client: str
    tls_client_key: str


class ImportedRecord(_Model):
    trust_list: str
    anchor: str
    anchor_sha256: str = Field(pattern=_SHA256)


class WorkspaceIndex(_Model):
    """``workspace.yaml``: what the workspace holds and where."""

    format: Literal[1] = 1
    created: AwareDatetime
    key_type: KeyType
    countries: dict[str, CountryRecord]
    gateway: GatewayRecord
    agreements: tuple[str, ...] = ()
    imported: dict[str, ImportedRecord] = Field(default_factory=dict)

    def files(self) -> list[str]:
        """Every file the index names (relative paths)."""
        names: list[str] = []
        for record in self.countries.values():
            names += [value for key, value in record.model_dump().items() if isinstance(value, str) and key != "name"
                      and key != "root_sha256"]
            for authority in record.authorities.values():
                names += [authority.certificate, authority.key]
        names += [value for key, value in self.gateway.model_dump().items() if key != "name"]
        names += list(self.agreements)
        for imported in self.imported.values():
            names += [imported.trust_list, imported.anchor]
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
        return [gateway.ca_key, gateway.signer_key, gateway.tls_server_key, gateway.tls_client_key]
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
            trust_lists={c: records[c].trust_list for c in (first, second)},
            anchors={c: records[c].root_sha256 for c in (first, second)},
            names={c: records[c].name for c in (first, second)},
            moment=moment,
        )
        relative = f"agreements/{agreement.id}.yaml"
        _write_atomic(root / relative, _dump_yaml(agreement, _AGREEMENT_HEADER))
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
    Workspace(root, index).publish()
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
    if target.is_file() and target.read_bytes() == data:
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    _write_atomic(target, data)
    if source.suffix == ".key":
        os.chmod(target, 0o600)


_INDEX_HEADER = (
    "# ptx workspace index, written by `ptx init`. Paths are relative to this folder.\n"
    "# Private keys (*.key) are demo material with mode 0600: never commit or share them.\n"
)
_AGREEMENT_HEADER = (
    "# Bilateral agreement on mutual recognition of electronic trade documents (data, like an AS4 P-Mode).\n"
    "# parties: where each publishes its trust list and the SHA-256 of the root it must be signed under.\n"
    "# flows: which document types each party accepts from the other. Unknown keys are refused.\n"
)


def demo_agreement(
    first: str,
    second: str,
    *,
    trust_lists: dict[str, str],
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
            AgreementParty(
                country=code, name=(names or {}).get(code), trust_list=trust_lists[code], anchor_sha256=anchors[code]
            )
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
    gateway.ca.write_key(root / record.ca_key, keys=keys)
    _write_cert(root, record.ca_crl, crl_pem(gateway.crl))
    _write_credential(root, gateway.signer, record.signer, record.signer_key, keys)
    _write_credential(root, gateway.tls_server, record.tls_server, record.tls_server_key, keys)
    _write_credential(root, gateway.tls_client, record.tls_client, record.tls_client_key, keys)
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
        """The certificate of ``code``'s single-window node: public material only (its key is not opened)."""
        record = self.country(code)
        node = next(authority for authority in record.authorities.values() if authority.role == Role.NODE.value)
        return load_certificate_file(self.file(node.certificate))[0]

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
        return self._credential(self.index.gateway.signer, self.index.gateway.signer_key)

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
        if code in self.index.imported:
            return self.file(self.index.imported[code].trust_list)
        return self.file(self.country(code).trust_list)

    def trust_list(self, code: str, *, moment: datetime, allow_expired: bool = False) -> TrustList:
        """A country's (or an imported) trust list, verified under the anchor the workspace holds for it."""
        code = code.upper()
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

    @property
    def agreements(self) -> tuple[Agreement, ...]:
        return tuple(load_agreement(self.file(relative)) for relative in self.index.agreements)

    def agreements_of(self, code: str) -> tuple[Agreement, ...]:
        return tuple(a for a in self.agreements if a.party(code.upper()) is not None)

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

    def stamps(self, paths: Iterable[Path]) -> tuple[tuple[str, int, int], ...]:
        """The state (path, mtime, size) of each file: what a reload point compares."""
        return self._stamps(paths)

    def context_inputs(self) -> list[Path]:
        """The files trust contexts are built from (trust lists, agreements, imported lists)."""
        return self._context_inputs()

    def build_trust_context(self, receiver: str | None, moment: datetime) -> TrustContext:
        """A new trust context of ``receiver`` (None: the workspace view) from the files as they are now, uncached
        (:meth:`trust_context` caches; a reload point that keeps its own snapshot builds with this)."""
        return self._build_context(receiver, moment)

    def _stamps(self, paths: Iterable[Path]) -> tuple[tuple[str, int, int], ...]:
        stamps = []
        for path in paths:
            try:
                stat = path.stat()
                stamps.append((str(path), stat.st_mtime_ns, stat.st_size))
            except OSError:
                stamps.append((str(path), -1, -1))
        return tuple(stamps)

    def _context_inputs(self) -> list[Path]:
        paths = [self.file(record.trust_list) for record in self.index.countries.values()]
        paths += [self.file(relative) for relative in self.index.agreements]
        paths += [self.file(record.trust_list) for record in self.index.imported.values()]
        return paths

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
        if receiver is None:
            for code in self.countries:
                recognitions.append(Recognition(
                    self._recognised(code, self._trust_list_path(code), whose,
                                     partial(self.trust_list, code, moment=moment, allow_expired=True)),
                    basis=f"workspace ({code})",
                ))
                recognised_countries.add(code)
        else:
            self.country(receiver)
            recognitions.append(Recognition(
                self._recognised(receiver, self._trust_list_path(receiver), whose,
                                 partial(self.trust_list, receiver, moment=moment, allow_expired=True)),
                basis=f"{receiver}'s own trust list",
            ))
            recognised_countries.add(receiver)
            for agreement in self.agreements_of(receiver):
                for party in agreement.parties:
                    if party.country == receiver:
                        continue
                    types = agreement.document_types(party.country, receiver)
                    if not types:
                        continue
                    trust_list = self._recognised(
                        party.country, self.file(party.trust_list), whose,
                        partial(load_trust_list_file, self.file(party.trust_list),
                                root_fingerprints=[party.anchor_sha256], moment=moment, country=party.country,
                                allow_expired=True),
                    )
                    recognitions.append(Recognition(
                        trust_list, document_types=types, valid_from=agreement.valid_from,
                        valid_until=agreement.valid_until, basis=f"agreement {agreement.id}",
                    ))
                    recognised_countries.add(party.country)
        known = []
        for code in (*self.countries, *self.index.imported):
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
        self.publish()
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
        self.publish()
        return trust_list

    # --- party folders -------------------------------------------------------------------------------------

    @property
    def parties(self) -> tuple[str, ...]:
        """Every party of the network: each country and the gateway."""
        return (*self.countries, GATEWAY_PARTY)

    def publish(self) -> None:
        """Refresh ``parties/<party>/`` for every party from this (network) folder: the index, every public file
        and the added document types; the party's own private keys once. Never another party's key; a key of
        another party found there is removed. A party folder's own state (stores, logs) is left alone."""
        if self.path.name != "" and self.path.parent.name == PARTIES_DIR:
            return  # this is a party's own folder: it publishes nothing to others
        keys = {party: set(private_files(self.index, party)) for party in self.parties}
        every_key = set().union(*keys.values())
        public = [name for name in self.index.files() if name not in every_key]
        for party in self.parties:
            folder = self.path / PARTIES_DIR / party
            for name in (*public, *keys[party]):
                _copy_if_changed(self.file(name), folder / name)
            for name in every_key - keys[party]:
                (folder / name).unlink(missing_ok=True)
            extra = self.path / "schemas"
            if extra.is_dir():
                shutil.copytree(extra, folder / "schemas", dirs_exist_ok=True)
            _copy_if_changed(self.path / INDEX_NAME, folder / INDEX_NAME)


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
    "init_workspace",
    "load_agreement",
]
