"""``ptx init``, ``ptx trust show|export|import|anchor|renew`` and ``ptx pki revoke``.

Every moment is explicit: ``--at`` / ``--as-of`` take an ISO 8601 instant with an offset; without it the
command acts now (the one place where the clock is read). Errors print ``ptx: CODE: message`` and exit 2.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from exchange._errors import Code, ExchangeError, InputError
from exchange._i18n import _, ngettext
from exchange.cli._app import EXIT_OK, EXIT_USAGE, app, error_text
from exchange.cli._console import console as make_console

if TYPE_CHECKING:
    from exchange._trustlist import TrustList

trust_app = typer.Typer(
    help="Trust lists: show, export and import them; print a country's trust anchor.", no_args_is_help=True
)
pki_app = typer.Typer(help="The workspace PKI: revoke an issuer.", no_args_is_help=True)
app.add_typer(trust_app, name="trust")
app.add_typer(pki_app, name="pki")

WorkspaceOption = Annotated[
    Path | None,
    typer.Option("--workspace", "-w", help="Workspace folder (default: $PTX_WORKSPACE or ./workspace)."),
]
AtOption = Annotated[
    str | None,
    typer.Option("--at", help="Act at this instant (ISO 8601 with offset, e.g. 2030-01-15T12:00:00Z); default now."),
]
class OutputFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


FormatOption = Annotated[OutputFormat, typer.Option("--format", "-f", help="Output format.")]


@contextlib.contextmanager
def cli_errors() -> Iterator[None]:
    """Print an :class:`~exchange.ExchangeError` as ``ptx: CODE: message`` on stderr and exit 2."""
    try:
        yield
    except ExchangeError as exc:
        print(error_text(exc), file=sys.stderr)
        raise typer.Exit(EXIT_USAGE) from exc


def parse_moment(text: str | None, *, option: str = "--at") -> datetime:
    """An explicit instant from the command line, or now (UTC) when none is given."""
    if text is None:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise InputError(f"{option} {text!r} is not an ISO 8601 instant", code=Code.INPUT_INVALID) from exc
    if moment.tzinfo is None:
        raise InputError(
            f"{option} {text!r} has no offset; add Z or +hh:mm (e.g. 2030-01-15T12:00:00Z)", code=Code.INPUT_INVALID
        )
    return moment.astimezone(UTC)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- ptx init ----------------------------------------------------------------------------------------------


@app.command()
def init(
    workspace: WorkspaceOption = None,
    countries: Annotated[
        str, typer.Option("--countries", help="Comma-separated ISO 3166 codes (user-assigned AA, BB ... by default).")
    ] = "AA,BB",
    agreements: Annotated[
        str | None,
        typer.Option("--agreements", help="Bilateral agreements as pairs, e.g. AA-BB,AA-CC (default: every pair)."),
    ] = None,
    key_type: Annotated[str, typer.Option("--key-type", help="ec-p256 (default), rsa-2048 or rsa-3072.")] = "ec-p256",
    force: Annotated[bool, typer.Option("--force", help="Regenerate everything, even a complete workspace.")] = False,
    at: AtOption = None,
    protect_keys: Annotated[bool, typer.Option(
        "--protect-keys", help="Write the private keys encrypted with a passphrase (PTX_KEY_PASSPHRASE, or typed "
                               "twice); the demo keeps them plain.",
    )] = False,
) -> None:
    """Create the demo workspace: each country's PKI and signed trust list, the agreements, the gateway."""
    from rich.markup import escape
    from rich.table import Table

    from exchange._pki import KeyType
    from exchange._workspace import Workspace, init_workspace

    with cli_errors():
        try:
            chosen_key = KeyType(key_type)
        except ValueError:
            raise InputError(
                f"--key-type must be one of {', '.join(k.value for k in KeyType)}", code=Code.INPUT_INVALID
            ) from None
        pairs = None
        if agreements is not None:
            pairs = []
            for item in agreements.split(","):
                parts = item.strip().split("-")
                if len(parts) != 2:
                    raise InputError(f"agreement {item!r}: write it as AA-BB", code=Code.INPUT_INVALID)
                pairs.append((parts[0], parts[1]))
        keys = None
        if protect_keys:
            from exchange._keystore import FileKeyStore
            from exchange.cli._keys import new_passphrase

            secret = new_passphrase()
            keys = FileKeyStore(passphrase=lambda: secret)
        result = init_workspace(
            workspace, moment=parse_moment(at), countries=countries.split(","), agreements=pairs,
            key_type=chosen_key, force=force, keys=keys,
        )
        console = make_console()
        console.print(("[green]" if result.changed else "[yellow]") + escape(_init_message(result)))
        if not result.changed:
            raise typer.Exit(EXIT_OK)
        opened = Workspace.open(result.path)
        table = Table(title=_("Issuers and what their country's trust list authorises them for"))
        for column in (_("country"), _("issuer"), "--as", _("document types")):
            table.add_column(column)
        for code, slug, authority in opened.issuers():
            table.add_row(code, authority.name, f"{code}/{slug}", ", ".join(authority.document_types))
        console.print(table)
        for agreement in opened.agreements_at(parse_moment(at)):
            flows = "; ".join(ngettext("{sender} -> {receiver}: {count} type", "{sender} -> {receiver}: {count} types",
                                       len(f.document_types)).format(sender=f.sender, receiver=f.receiver,
                                                                     count=len(f.document_types))
                              for f in agreement.flows)
            console.print(_("agreement [bold]{id}[/bold]: {flows}").format(id=agreement.id, flows=flows))
        keys_note = (_("private keys are written with mode 0600, encrypted") if protect_keys
                     else _("private keys are written with mode 0600"))
        console.print(
            keys_note + _("; next: ")
            + f"[bold]ptx sign FILE --as \"{opened.issuers()[0][2].name}\"[/bold], "
            f"[bold]ptx verify FILE --receiver {opened.countries[1]}[/bold], "
            f"[bold]ptx trust anchor {opened.countries[0]}[/bold]"
        )


def _init_message(result: Any) -> str:
    """What ``ptx init`` did, in the current language (English: the workspace's own message)."""
    from exchange._i18n import current

    if current() == "en":
        return str(result.message)
    countries = ", ".join(result.countries)
    if not result.changed:
        return _("workspace {folder} is complete ({countries}); nothing changed (use --force to regenerate)").format(
            folder=result.path, countries=countries)
    return ngettext("workspace {folder} ready: {countries}, {count} agreement, gateway identity",
                    "workspace {folder} ready: {countries}, {count} agreements, gateway identity",
                    len(result.agreements)).format(folder=result.path, countries=countries,
                                                   count=len(result.agreements))


# --- ptx trust ---------------------------------------------------------------------------------------------


def _trust_list_dict(trust_list: TrustList, moment: datetime) -> dict[str, Any]:
    from exchange._pki import common_name, crl_number, fingerprint, revocations

    revoked = {entry.serial_number for crl in trust_list.crls for entry in revocations(crl)}
    return {
        "country": trust_list.country,
        "operator": trust_list.operator.name,
        "sequence_number": trust_list.sequence_number,
        "issued": iso(trust_list.issued_at),
        "next_update": iso(trust_list.next_update),
        "current": trust_list.is_current(moment),
        "signer": common_name(trust_list.signer.subject) if trust_list.signer is not None else None,
        "anchors": [{"subject": a.subject.rfc4514_string(), "sha256": fingerprint(a)} for a in trust_list.anchors],
        "issuers": [
            {
                "name": issuer.name,
                "role": issuer.role.value,
                "granted": list(issuer.granted_types(moment)),
                "authorisations": [
                    {
                        "document_type": a.document_type,
                        "history": [{"status": c.status.value, "since": iso(c.since)} for c in a.history],
                    }
                    for a in issuer.authorisations
                ],
                "serial": format(issuer.certificate.serial_number, "x") if issuer.certificate is not None else None,
                "revoked": issuer.certificate is not None and issuer.certificate.serial_number in revoked,
                "subject_key_identifier": issuer.subject_key_identifier.hex(),
            }
            for issuer in trust_list.issuers
        ],
        "crls": [
            {
                "issuer": common_name(crl.issuer),
                "number": crl_number(crl),
                "this_update": iso(crl.last_update_utc),
                "next_update": iso(crl.next_update_utc) if crl.next_update_utc is not None else None,
                "revoked": len(revocations(crl)),
            }
            for crl in trust_list.crls
        ],
    }


@trust_app.command("show")
def trust_show(
    countries: Annotated[list[str] | None, typer.Argument(help="Countries to show (default: all).")] = None,
    workspace: WorkspaceOption = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="Judge currency at this instant.")] = None,
    output: FormatOption = OutputFormat.TEXT,
) -> None:
    """Show trust lists: anchors, issuers with their document types, CRLs. Each is verified first."""
    import json

    from rich.table import Table

    from exchange._workspace import Workspace

    with cli_errors():
        moment = parse_moment(as_of, option="--as-of")
        opened = Workspace.open(workspace)
        codes = [c.upper() for c in countries] if countries else [*opened.countries, *opened.index.imported]
        lists = [_trust_list_dict(opened.trust_list(code, moment=moment, allow_expired=True), moment) for code in codes]
        if output is OutputFormat.JSON:
            print(json.dumps({"moment": iso(moment), "trust_lists": lists}, indent=2))
            return
        console = make_console()
        for item in lists:
            state = "[green]" + _("current") + "[/green]" if item["current"] else "[red]" + _("EXPIRED") + "[/red]"
            console.print(
                f"[bold]{item['country']}[/bold] " + _(
                    "{operator} - sequence {sequence}, issued {issued}, next update {next_update} ({state}); "
                    "signature verified, signed by {signer}").format(
                    operator=item["operator"], sequence=item["sequence_number"], issued=item["issued"],
                    next_update=item["next_update"], state=state, signer=item["signer"])
            )
            for anchor in item["anchors"]:
                console.print("  " + _("anchor {subject}  sha256 {sha256}").format(subject=anchor["subject"],
                                                                                  sha256=anchor["sha256"]))
            table = Table()
            for column in (_("issuer"), _("role"), _("authorised now"), _("certificate")):
                table.add_column(column)
            for issuer in item["issuers"]:
                certificate = _("serial {serial}").format(serial=issuer["serial"]) + (
                    " [red]" + _("REVOKED") + "[/red]" if issuer["revoked"] else "")
                table.add_row(issuer["name"], issuer["role"], ", ".join(issuer["granted"]) or "-", certificate)
            console.print(table)
            for crl in item["crls"]:
                console.print("  " + _(
                    "CRL of {issuer}: number {number}, {this_update} -> {next_update}, {revoked} revoked").format(
                    issuer=crl["issuer"], number=crl["number"], this_update=crl["this_update"],
                    next_update=crl["next_update"], revoked=crl["revoked"]))


@trust_app.command("export")
def trust_export(
    country: Annotated[str, typer.Argument(help="Country whose signed trust list to export.")],
    workspace: WorkspaceOption = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write here instead of stdout.")] = None,
) -> None:
    """Write a country's signed trust list, byte for byte as published."""
    from exchange._workspace import Workspace

    with cli_errors():
        data = Workspace.open(workspace).trust_list_bytes(country)
        if out is None:
            sys.stdout.buffer.write(data)
            sys.stdout.flush()
        else:
            out.write_bytes(data)
            print(_("wrote {country}'s trust list to {file}").format(country=country.upper(), file=out), file=sys.stderr)


@trust_app.command("import")
def trust_import(
    file: Annotated[Path, typer.Argument(help="A signed trust list from another scheme.")],
    anchor: Annotated[
        Path, typer.Option("--anchor", help="PEM of the root the list must be signed under (obtained out of band).")
    ],
    workspace: WorkspaceOption = None,
    at: AtOption = None,
) -> None:
    """Verify a third party's trust list under the anchor you give and keep it in the workspace.

    An imported list is known, not recognised: documents chaining to it are reported as TRUST-NOT-RECOGNISED
    until an agreement names it.
    """
    from exchange._pki import fingerprint, load_certificate_file
    from exchange._workspace import Workspace

    with cli_errors():
        roots = load_certificate_file(anchor)
        try:
            data = file.read_bytes()
        except OSError as exc:
            raise InputError(f"cannot read {file}: {exc.strerror}", code=Code.INPUT_UNREADABLE) from exc
        opened = Workspace.open(workspace)
        trust_list = opened.import_trust_list(data, anchor=roots[0], moment=parse_moment(at))
        print(_("imported the trust list of {country} (sequence {sequence}, {issuers} issuers) under anchor sha256 "
                "{sha256}; it is not recognised until an agreement names it").format(
            country=trust_list.country, sequence=trust_list.sequence_number, issuers=len(trust_list.issuers),
            sha256=fingerprint(roots[0])))


@trust_app.command("anchor")
def trust_anchor(
    country: Annotated[str, typer.Argument(help="Country whose root certificate to print.")],
    workspace: WorkspaceOption = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write here instead of stdout.")] = None,
) -> None:
    """Print a country's trust anchor (root CA certificate) as PEM, e.g. for xmlsec1 --trusted-pem."""
    from exchange._pki import fingerprint, pem
    from exchange._workspace import Workspace

    with cli_errors():
        root = Workspace.open(workspace).root(country)
        data = pem([root])
        if out is None:
            sys.stdout.write(data.decode("ascii"))
        else:
            out.write_bytes(data)
        print(_("{country} anchor sha256 {sha256}").format(country=country.upper(), sha256=fingerprint(root)),
              file=sys.stderr)


@trust_app.command("renew")
def trust_renew(
    country: Annotated[str, typer.Argument(help="Country whose CRLs and trust list to reissue.")],
    workspace: WorkspaceOption = None,
    at: AtOption = None,
) -> None:
    """Reissue a country's CRLs and trust list with fresh dates (sequence number + 1)."""
    from exchange._workspace import Workspace

    with cli_errors():
        sequence = Workspace.open(workspace).renew(country, moment=parse_moment(at))
        print(_("{country}'s CRLs and trust list reissued: sequence {sequence}").format(country=country.upper(),
                                                                                      sequence=sequence))


# --- ptx pki revoke ---------------------------------------------------------------------------------------

_REASONS = {
    "unspecified": "unspecified",
    "key-compromise": "key_compromise",
    "ca-compromise": "ca_compromise",
    "affiliation-changed": "affiliation_changed",
    "superseded": "superseded",
    "cessation-of-operation": "cessation_of_operation",
    "certificate-hold": "certificate_hold",
    "privilege-withdrawn": "privilege_withdrawn",
}


@pki_app.command("revoke")
def pki_revoke(
    issuer: Annotated[str, typer.Argument(help='Issuer name ("AA Chamber of Commerce") or COUNTRY/slug.')],
    reason: Annotated[
        str | None, typer.Option("--reason", help="CRL reason: " + ", ".join(_REASONS) + ".")
    ] = None,
    workspace: WorkspaceOption = None,
    at: AtOption = None,
) -> None:
    """Revoke an issuer's certificate: reissue its CA's CRL and its country's trust list (sequence + 1).

    The next verification of that issuer's documents fails with TRUST-CERT-REVOKED.
    """
    from cryptography import x509

    from exchange._workspace import Workspace

    with cli_errors():
        flag = None
        if reason is not None:
            if reason not in _REASONS:
                raise InputError(f"--reason must be one of {', '.join(_REASONS)}", code=Code.INPUT_INVALID)
            flag = x509.ReasonFlags[_REASONS[reason]]
        result = Workspace.open(workspace).revoke(issuer, moment=parse_moment(at), reason=flag)
        if not result.changed:
            print(_("{issuer} was already revoked on {moment}; nothing changed").format(
                issuer=result.issuer, moment=iso(result.revoked_at)))
            return
        print(
            _("revoked {issuer} (serial {serial}) at {moment}").format(
                issuer=result.issuer, serial=f"{result.serial_number:x}", moment=iso(result.revoked_at))
            + (_(", reason {reason}").format(reason=reason) if reason else "")
            + _("; CRL number {number}; {country} trust list sequence {sequence}").format(
                number=result.crl_number, country=result.country, sequence=result.trust_list_sequence)
        )


__all__ = ["OutputFormat", "cli_errors", "iso", "parse_moment"]
