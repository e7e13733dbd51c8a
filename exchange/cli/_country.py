"""Separate trust domains: ``ptx country ...``, ``ptx agreement ...`` and ``ptx gateway init|export|admit|withdraw``.

Each command acts on one party's own folder (``--dir``, default ``$PTX_WORKSPACE`` or ``./workspace``) and on files
that crossed a border: public packages and agreements. Nothing here reads another party's folder, and no command
writes a private key anywhere but its own folder. A package is imported only under the anchor fingerprint given
out of band (``--anchor-sha256``); a refusal prints ``ptx: CODE: message`` and exits 2.

The two-laptop exercise (examples/15-two-laptops) walks through them in order.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer

from exchange._errors import Code, InputError
from exchange._i18n import _
from exchange.cli._app import app
from exchange.cli._gateway import gateway_app
from exchange.cli._pki import AtOption, cli_errors, parse_moment

country_app = typer.Typer(
    help="One country's own folder: create it, export its public package, import partners', decide whom it "
    "recognises, renew its node key.", no_args_is_help=True)
agreement_app = typer.Typer(help="Bilateral agreements signed by both countries: propose, sign, install, verify.",
                            no_args_is_help=True)
app.add_typer(country_app, name="country")
app.add_typer(agreement_app, name="agreement")

KeyTypeOption = Annotated[str, typer.Option("--key-type", help="ec-p256 (default), rsa-2048 or rsa-3072.")]
DirOption = Annotated[
    Path | None,
    typer.Option("--dir", "-d", help="The party's own folder (default: $PTX_WORKSPACE or ./workspace)."),
]
AnchorOption = Annotated[
    str,
    typer.Option("--anchor-sha256", help="The SHA-256 of the package's anchor, as the other party read it to you "
                                         "(spaces and colons are ignored)."),
]
OutOption = Annotated[Path | None, typer.Option("--out", "-o", help="Write here (default: print to stdout).")]
EndpointOption = Annotated[
    str | None, typer.Option("--endpoint", help="The base URL partners (or the gateway) reach this node at.")]


def _folder(directory: Path | None) -> Path:
    from exchange._workspace import default_workspace_dir

    return directory if directory is not None else default_workspace_dir()


def _open(directory: Path | None):  # type: ignore[no-untyped-def]
    from exchange._workspace import Workspace

    return Workspace.open(_folder(directory))


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}", code=Code.INPUT_INVALID) from exc


def _emit(data: bytes, out: Path | None) -> None:
    if out is None:
        typer.echo(data.decode("utf-8"), nl=False)
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(data)


def _say(text: str) -> None:
    typer.echo(text, err=True)


def _exported(data: bytes, out: Path | None, what: str, anchor_name: str, anchor: str) -> None:
    """Write a package and say, on stderr, the fingerprint its owner reads aloud."""
    from exchange._packages import anchor_fingerprint_text

    _emit(data, out)
    written = _("{what} written to {file}").format(what=what, file=out) if out else what
    _say(_("{written}; {anchor} SHA-256 to read aloud: {fingerprint}").format(
        written=written, anchor=anchor_name, fingerprint=anchor_fingerprint_text(anchor)))


def _types(text: str | None) -> tuple[str, ...] | None:
    if text is None:
        return None
    types = tuple(dict.fromkeys(item.strip() for item in text.split(",") if item.strip()))
    if not types:
        raise InputError("--types lists no document type", code=Code.INPUT_INVALID)
    return types


def _key_type(text: str):  # type: ignore[no-untyped-def]
    from exchange._pki import KeyType

    try:
        return KeyType(text)
    except ValueError as exc:
        raise InputError(f"--key-type must be one of {', '.join(k.value for k in KeyType)}",
                         code=Code.INPUT_INVALID) from exc


def _duration(text: str) -> timedelta:
    match = re.fullmatch(r"\s*(\d+)\s*([smhd])\s*", text)
    if match is None:
        raise InputError(f"{text!r} is not a duration like 90s, 10m, 2h or 7d", code=Code.INPUT_INVALID)
    unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[match.group(2)]
    return timedelta(**{unit: int(match.group(1))})


# --- ptx country ---------------------------------------------------------------------------------------------


@country_app.command("init")
def country_init(
    code: Annotated[str, typer.Argument(help="The country's two-letter code, e.g. CC.")],
    directory: DirOption = None,
    name: Annotated[str | None, typer.Option("--name", help="Display name (default: Country CC).")] = None,
    endpoint: EndpointOption = None,
    key_type: KeyTypeOption = "ec-p256",
    at: AtOption = None,
) -> None:
    """Create one country alone in its own folder: its PKI and keys, its signed trust list, no partner yet."""
    from exchange._packages import anchor_fingerprint_text
    from exchange._workspace import init_country

    with cli_errors():
        workspace = init_country(_folder(directory), code, moment=parse_moment(at), key_type=_key_type(key_type),
                                 name=name, endpoint=endpoint)
        country = workspace.own_country()
        typer.echo(_("country {country} created in {folder} (keys mode 0600, never leave this folder)").format(
            country=country, folder=workspace.path))
        typer.echo(_("anchor SHA-256 (read this to your partners): {fingerprint}").format(
            fingerprint=anchor_fingerprint_text(workspace.anchor_sha256(country))))


@country_app.command("export")
def country_export(directory: DirOption = None, endpoint: EndpointOption = None, out: OutOption = None,
                   at: AtOption = None) -> None:
    """Write this country's public package: signed trust list, node and TLS certificates, endpoint, name."""

    with cli_errors():
        workspace = _open(directory)
        country = workspace.own_country()
        data, anchor = workspace.export_package(country, moment=parse_moment(at), endpoint=endpoint)
        _exported(data, out, _("package of {country}").format(country=country), _("anchor"), anchor)


@country_app.command("import")
def country_import(package: Annotated[Path, typer.Argument(help="A partner's package file.")],
                   anchor_sha256: AnchorOption, directory: DirOption = None, at: AtOption = None) -> None:
    """Import a partner's public package, verified under the fingerprint the partner gave you out of band.
    An older package than the one held is refused (PACKAGE-ROLLBACK); a newer one replaces it."""
    with cli_errors():
        workspace = _open(directory)
        result = workspace.import_package(_read(package), anchor_sha256=anchor_sha256, moment=parse_moment(at))
        typer.echo(_("{country} ({name}) imported: package sequence {sequence}, trust list sequence {trust_sequence}; "
                     "recognise it with {command}").format(
            country=result.country, name=result.manifest.name, sequence=result.manifest.sequence,
            trust_sequence=result.trust_list.sequence_number,
            command=f"`ptx country recognise {result.country} --types ...`"))


@country_app.command("join")
def country_join(package: Annotated[Path, typer.Argument(help="The gateway's package file.")],
                 anchor_sha256: AnchorOption, directory: DirOption = None, at: AtOption = None) -> None:
    """Take the gateway's public certificates (its CA, signer and TLS), verified under its CA's fingerprint."""
    with cli_errors():
        workspace = _open(directory)
        result = workspace.join_gateway(_read(package), anchor_sha256=anchor_sha256, moment=parse_moment(at))
        typer.echo(_("joined {name}").format(name=result.manifest.name))


@country_app.command("recognise")
def country_recognise(
    partner: Annotated[str, typer.Argument(help="The partner's country code.")],
    types: Annotated[str | None, typer.Option(
        "--types", help="Comma-separated document types recognised from it (default: every type the agreements "
                        "installed here let flow from it)")] = None,
    directory: DirOption = None, at: AtOption = None,
) -> None:
    """Recognise a partner's issuers for these document types, from now on (this country's own decision)."""
    with cli_errors():
        workspace = _open(directory)
        moment = parse_moment(at)
        own = workspace.own_country()
        chosen = _types(types)
        if chosen is None:
            chosen = tuple(sorted({doc_type for agreement in workspace.agreements_of(own, moment)
                                   for doc_type in agreement.document_types(partner.upper(), own)}))
            if not chosen:
                raise InputError(f"no agreement installed here lets anything flow from {partner.upper()} to {own}: "
                                 "install the agreement first, or name --types", code=Code.INPUT_INVALID)
        workspace.set_recognition(partner, chosen, moment=moment)
        typer.echo(_("{own} recognises {partner} for {types}").format(own=own, partner=partner.upper(),
                                                                      types=", ".join(chosen)))


@country_app.command("withdraw")
def country_withdraw(partner: Annotated[str, typer.Argument(help="The partner's country code.")],
                     directory: DirOption = None, at: AtOption = None) -> None:
    """Withdraw the recognition of a partner: its documents are refused from the next message on."""
    with cli_errors():
        workspace = _open(directory)
        workspace.set_recognition(partner, None, moment=parse_moment(at))
        typer.echo(_("{own} no longer recognises {partner}").format(own=workspace.own_country(),
                                                                    partner=partner.upper()))


@country_app.command("partners")
def country_partners(directory: DirOption = None) -> None:
    """The partners this folder holds packages of, and what it recognises of each."""
    from exchange._packages import anchor_fingerprint_text

    with cli_errors():
        workspace = _open(directory)
        own = list(workspace.index.countries)
        decided = workspace.recognition(own[0]) if len(own) == 1 else None
        for code, record in workspace.index.partners.items():
            entry = decided.entry(code) if decided is not None else None
            recognised = ", ".join(entry.document_types) if entry is not None else _("not recognised")
            typer.echo(f"{code}  {record.name}  " + _("package {sequence}  endpoint {endpoint}").format(
                sequence=record.sequence, endpoint=record.endpoint or "-") + "\n    "
                + _("anchor {fingerprint}").format(fingerprint=anchor_fingerprint_text(record.anchor_sha256))
                + "\n    " + _("recognised: {types}").format(types=recognised))


@country_app.command("renew-node")
def country_renew_node(
    overlap: Annotated[str, typer.Option("--overlap", help="How long the old key stays accepted, e.g. 10m, 7d.")],
    directory: DirOption = None, at: AtOption = None,
) -> None:
    """A new node key and certificate; the old one is accepted until the overlap ends. Export the package again
    and restart the node to sign with the new key."""
    with cli_errors():
        workspace = _open(directory)
        code = workspace.own_country() if len(workspace.index.countries) == 1 else None
        if code is None:
            raise InputError("run this in one country's folder", code=Code.INPUT_INVALID)
        moment = parse_moment(at)
        span = _duration(overlap)
        certificate = workspace.renew_node(code, moment=moment, overlap=span)
        typer.echo(_("{country}'s node has a new key (certificate serial {serial}); the old one retires at {moment}. "
                     "Next: `ptx country export`, give the package to the gateway and your partners, restart the "
                     "node").format(country=code, serial=f"{certificate.serial_number:x}",
                                    moment=(moment + span).isoformat()))


# --- ptx agreement ---------------------------------------------------------------------------------------------


@agreement_app.command("propose")
def agreement_propose(
    partner: Annotated[str, typer.Argument(help="The other party's country code.")],
    types: Annotated[str | None, typer.Option("--types", help="Comma-separated types flowing both ways "
                                                                "(default: every demo type).")] = None,
    days: Annotated[int, typer.Option("--days", help="How long the agreement is in force.")] = 5 * 365,
    directory: DirOption = None, out: OutOption = None, at: AtOption = None,
) -> None:
    """Write an agreement with a partner, signed by this country; the partner countersigns it."""
    from exchange._workspace import DEMO_FLOW_TYPES

    with cli_errors():
        workspace = _open(directory)
        data = workspace.propose_agreement(partner, moment=parse_moment(at),
                                           document_types=_types(types) or DEMO_FLOW_TYPES,
                                           lifetime=timedelta(days=days))
        _emit(data, out)
        _say(_("agreement signed by {own}; {partner} countersigns it with `ptx agreement sign FILE`").format(
            own=workspace.own_country(), partner=partner.upper()))


@agreement_app.command("sign")
def agreement_sign(agreement: Annotated[Path, typer.Argument(help="The agreement the other party signed.")],
                   directory: DirOption = None, out: OutOption = None, at: AtOption = None) -> None:
    """Countersign an agreement (the other party's signature is verified first) and install it here."""
    with cli_errors():
        workspace = _open(directory)
        moment = parse_moment(at)
        data = workspace.countersign_agreement(_read(agreement), moment=moment)
        installed = workspace.install_agreement(data, moment=moment)
        _emit(data, out if out is not None else agreement)
        _say(_("agreement {id} signed by both parties and installed in {folder}; give {file} to the other party "
               "and to the gateway (`ptx agreement install`)").format(id=installed.id, folder=workspace.path,
                                                                     file=out or agreement))


@agreement_app.command("install")
def agreement_install(agreement: Annotated[Path, typer.Argument(help="An agreement signed by both parties.")],
                      directory: DirOption = None, at: AtOption = None) -> None:
    """Verify an agreement signed by both parties and keep it in this folder (a country's or the gateway's)."""
    with cli_errors():
        installed = _open(directory).install_agreement(_read(agreement), moment=parse_moment(at))
        typer.echo(_("agreement {id} installed").format(id=installed.id))


@agreement_app.command("verify")
def agreement_verify(agreement: Annotated[Path, typer.Argument(help="A signed agreement.")],
                     directory: DirOption = None, at: AtOption = None) -> None:
    """Check an agreement's signatures against the anchors this folder holds (exit 2 with the code if refused)."""
    with cli_errors():
        terms = _open(directory).read_agreement(_read(agreement), moment=parse_moment(at))
        typer.echo(_("agreement {id} verifies: signed by {parties}").format(
            id=terms.id, parties=_(" and ").join(party.country for party in terms.parties)))


# --- ptx gateway init | export | admit | withdraw ---------------------------------------------------------------


@gateway_app.command("init")
def gateway_init(directory: DirOption = None, endpoint: EndpointOption = None,
                 key_type: KeyTypeOption = "ec-p256",
                 at: AtOption = None) -> None:
    """Create the gateway alone in its own folder: its CA, signer and TLS keys, an empty directory."""
    from exchange._packages import anchor_fingerprint_text
    from exchange._pki import fingerprint, load_certificate_file
    from exchange._workspace import init_gateway

    with cli_errors():
        workspace = init_gateway(_folder(directory), moment=parse_moment(at), key_type=_key_type(key_type),
                                 endpoint=endpoint)
        ca = load_certificate_file(workspace.file(workspace.gateway_record.ca))[0]
        typer.echo(_("gateway created in {folder}; CA SHA-256: {fingerprint}").format(
            folder=workspace.path, fingerprint=anchor_fingerprint_text(fingerprint(ca))))


@gateway_app.command("export")
def gateway_export(directory: DirOption = None, endpoint: EndpointOption = None, out: OutOption = None,
                   at: AtOption = None) -> None:
    """Write the gateway's public package (its CA, signer and TLS certificates) for the countries to join."""

    with cli_errors():
        data, anchor = _open(directory).export_gateway_package(moment=parse_moment(at), endpoint=endpoint)
        _exported(data, out, _("gateway package"), "CA", anchor)


@gateway_app.command("admit")
def gateway_admit(package: Annotated[Path, typer.Argument(help="A country's package file.")],
                  anchor_sha256: AnchorOption, directory: DirOption = None, at: AtOption = None) -> None:
    """Admit a country to the gateway's directory from its public package (a running gateway sees it on the next
    message). An older package than the one held is refused (PACKAGE-ROLLBACK)."""
    with cli_errors():
        result = _open(directory).import_package(_read(package), anchor_sha256=anchor_sha256,
                                                 moment=parse_moment(at), actor="ptx gateway admit")
        typer.echo(_("{country} admitted (package sequence {sequence}, endpoint {endpoint})").format(
            country=result.country, sequence=result.manifest.sequence,
            endpoint=result.manifest.endpoint or _("none: give the gateway --node")))


@gateway_app.command("withdraw")
def gateway_withdraw(country: Annotated[str, typer.Argument(help="The country to remove from the directory.")],
                     directory: DirOption = None, at: AtOption = None) -> None:
    """Remove a country from the gateway's directory: its envelopes are refused from the next message on."""
    with cli_errors():
        removed = _open(directory).withdraw_partner(country, moment=parse_moment(at), actor="ptx gateway withdraw")
        typer.echo((_("{country} withdrawn") if removed else _("{country} was not in the directory")).format(
            country=country.upper()))
