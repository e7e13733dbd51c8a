"""``ptx sign``, ``ptx verify`` and ``ptx inspect``.

``ptx verify`` exits 0 when the document is valid, 1 when it is not, 2 on a usage or configuration error.
Trust comes from exactly one source: the workspace (as one receiving country with ``--receiver``, or the
workspace view in which each country's own list is recognised), or trust lists and anchors given on the
command line. A trust list is recognised only under an anchor given with ``--trust-anchor``; an anchor that
no given list declares is a bare anchor (any issuer under it, authorisation not checked).

Without trust options the workspace view of ``$PTX_WORKSPACE`` or ``./workspace`` is used: every country of the
workspace is trusted for what its own list grants. That stays the default (it is what a trainee types first,
and the examples rely on it), but it is never silent: the text output has a ``trust`` line and the JSON a
``trust`` object naming the source, the folder, the view (``workspace``, ``receiver`` or ``given``), each
recognised list (country, basis, the document types it is recognised for, or null for all it grants), the
lists known but not recognised, the bare anchors and whether revocation must be known. A valid verdict means
"valid under this trust", so the trust belongs next to it.
"""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from exchange._errors import Code, InputError
from exchange._i18n import N_, _, code_message, current, status_label
from exchange.cli._app import EXIT_INVALID, EXIT_OK, app
from exchange.cli._console import console as make_console
from exchange.cli._console import pad
from exchange.cli._pki import FormatOption, OutputFormat, WorkspaceOption, cli_errors, iso, parse_moment

if TYPE_CHECKING:
    from cryptography import x509
    from lxml import etree

    from exchange._trust import TrustContext
    from exchange._verify import VerificationResult


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}", code=Code.INPUT_UNREADABLE) from exc


# --- ptx sign ----------------------------------------------------------------------------------------------


@app.command()
def sign(
    file: Annotated[Path, typer.Argument(help="XML document to sign.")],
    as_issuer: Annotated[
        str | None,
        typer.Option("--as", help='Workspace issuer: "AA Chamber of Commerce" or AA/chamber-of-commerce.'),
    ] = None,
    workspace: WorkspaceOption = None,
    key: Annotated[Path | None, typer.Option("--key", help="Private key PEM (instead of --as).")] = None,
    cert: Annotated[Path | None, typer.Option("--cert", help="Signer certificate PEM (may include the chain).")] = None,
    chain: Annotated[Path | None, typer.Option("--chain", help="Intermediate certificates PEM for KeyInfo.")] = None,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Output file, '-' for stdout (default: NAME.signed.xml).")
    ] = None,
) -> None:
    """Sign a document: enveloped XML-DSig (exclusive C14N, SHA-256), KeyInfo with the signer's chain."""
    from exchange._dsig import sign_document
    from exchange._pki import Credential, common_name, load_certificate_file, load_private_key_file
    from exchange._workspace import Workspace

    with cli_errors():
        if as_issuer is not None and (key is not None or cert is not None or chain is not None):
            raise InputError("use either --as ISSUER or --key/--cert/--chain, not both", code=Code.INPUT_INVALID)
        if as_issuer is not None:
            credential = Workspace.open(workspace).signer(as_issuer)
        elif key is not None and cert is not None:
            certificates = load_certificate_file(cert)
            extra = load_certificate_file(chain) if chain is not None else ()
            credential = Credential(load_private_key_file(key), certificates[0], (*certificates[1:], *extra))
        else:
            raise InputError("say who signs: --as ISSUER, or --key KEY --cert CERT", code=Code.INPUT_INVALID)
        signed = sign_document(_read(file), credential.key, list(credential.signing_chain))
        if out is not None and str(out) == "-":
            sys.stdout.buffer.write(signed)
            sys.stdout.flush()
            return
        target = out or file.with_name(file.name.removesuffix(".xml") + ".signed.xml")
        target.write_bytes(signed)
        print(_("signed {file} as {signer} -> {target}").format(
            file=file, signer=common_name(credential.certificate.subject), target=target))


# --- ptx verify --------------------------------------------------------------------------------------------


def describe_trust(context: TrustContext, *, folder: Path | None, receiver: str | None) -> dict[str, Any]:
    """What a verification trusted, JSON-ready: from the workspace at ``folder`` (as ``receiver``, or the
    workspace view), or, with ``folder`` None, what the command line gave."""
    from exchange._pki import fingerprint

    def when(moment: datetime | None) -> str | None:
        return iso(moment) if moment is not None else None

    return {
        "source": "workspace" if folder is not None else "command line",
        "folder": str(folder) if folder is not None else None,
        "view": "given" if folder is None else ("receiver" if receiver is not None else "workspace"),
        "receiver": receiver,
        "recognised": [
            {
                "country": recognition.trust_list.country,
                "basis": recognition.basis,
                "document_types": sorted(recognition.document_types) if recognition.document_types is not None
                else None,
                "sequence_number": recognition.trust_list.sequence_number,
                "valid_from": when(recognition.valid_from),
                "valid_until": when(recognition.valid_until),
            }
            for recognition in context.recognitions
        ],
        "known": sorted({trust_list.country for trust_list in context.known}),
        "anchors": [
            {"subject": anchor.subject.rfc4514_string(), "sha256": fingerprint(anchor)} for anchor in context.anchors
        ],
        "crls": len(context.crls),
        "require_revocation": context.require_revocation,
    }


def _trust_line(trust: dict[str, Any]) -> str:
    """One line for the text output: where the trust came from and whom it recognises."""
    def recognised(item: dict[str, Any]) -> str:
        types = item["document_types"]
        if types is None:
            return str(item["country"])
        return _("{country} for {types} ({basis})").format(country=item["country"], types=", ".join(types),
                                                           basis=item["basis"])

    countries = ", ".join(recognised(item) for item in trust["recognised"]) or _("no trust list")
    if trust["view"] == "workspace":
        text = _("workspace {folder}: every country's own trust list: {countries}").format(
            folder=trust["folder"], countries=countries)
    elif trust["view"] == "receiver":
        text = _("workspace {folder} as {receiver}: {countries}").format(
            folder=trust["folder"], receiver=trust["receiver"], countries=countries)
    else:
        text = _("command line: {countries}").format(countries=countries)
    if trust["anchors"]:
        text += _("; bare anchors (authorisation not checked): {anchors}").format(
            anchors=", ".join(a["subject"] for a in trust["anchors"]))
    if not trust["require_revocation"]:
        text += _("; revocation may be unknown (--allow-unknown-revocation)")
    return text


def _trust_from_options(
    *,
    workspace: Path | None,
    receiver: str | None,
    trust_lists: list[Path],
    anchors: list[Path],
    crls: list[Path],
    allow_unknown_revocation: bool,
    moment: datetime,
) -> tuple[TrustContext, Path | None]:
    """The trust context the options ask for, and the workspace folder it came from (None: the command line)."""
    from exchange._pki import load_certificate_file, load_crl
    from exchange._trust import Recognition, TrustContext
    from exchange._trustlist import load_trust_list_file
    from exchange._workspace import Workspace

    explicit = bool(trust_lists or anchors)
    if explicit and (workspace is not None or receiver is not None):
        raise InputError(
            "trust comes from one place: --workspace/--receiver, or --trust-list/--trust-anchor", code=Code.INPUT_INVALID
        )
    if not explicit:
        if crls:
            raise InputError("--crl goes with --trust-anchor; the workspace brings its own CRLs", code=Code.INPUT_INVALID)
        opened = Workspace.open(workspace)
        context = opened.trust_context(receiver, moment=moment)
        if allow_unknown_revocation:
            from dataclasses import replace

            context = replace(context, require_revocation=False)
        return context, opened.path.resolve()
    roots: list[x509.Certificate] = []
    for path in anchors:
        roots.extend(load_certificate_file(path))
    if trust_lists and not roots:
        raise InputError(
            "a trust list is recognised only under an anchor you give: add --trust-anchor ROOT.pem",
            code=Code.INPUT_INVALID,
        )
    recognitions = []
    for path in trust_lists:
        trust_list = load_trust_list_file(path, roots=roots, moment=moment, allow_expired=True)
        recognitions.append(Recognition(trust_list, basis=f"trust list {path.name}"))
    declared = {anchor for recognition in recognitions for anchor in recognition.trust_list.anchors}
    loaded_crls = tuple(load_crl(_read(path), source=str(path)) for path in crls)
    return TrustContext(
        moment=moment,
        recognitions=tuple(recognitions),
        anchors=tuple(root for root in roots if root not in declared),
        crls=loaded_crls,
        require_revocation=not allow_unknown_revocation,
    ), None


def _print_result(result: VerificationResult, source: Path, trust: dict[str, Any]) -> None:
    from rich.table import Table

    from exchange._algorithms import DigestMethod, SignatureMethod
    from exchange._pki import common_name

    console = make_console()
    colour = "green" if result.valid else "red"
    verdict = result.verdict.value.upper()
    if current() != "en":
        verdict += f" ({status_label(result.verdict.value)})"
    console.print(f"[bold {colour}]{verdict}[/bold {colour}] {source}")
    from rich.cells import cell_len

    labels = {"document type": _("document type"), "signer": _("signer"), "moment": _("moment"),
              "trust": _("trust"), "algorithms": _("algorithms"), "chain": _("chain")}
    width = max(cell_len(label) + 2 for label in labels.values())

    def line(key: str, value: str) -> str:
        return f"  {pad(labels[key], width)}{value}"

    console.print(line("document type", result.document_type or _("(unknown)")))
    signer = result.signer_name or _("(none)")
    if result.scheme:
        signer = _("{signer} of {scheme}").format(signer=signer, scheme=result.scheme)
    console.print(line("signer", signer))
    console.print(line("moment", iso(result.moment)))
    console.print(line("trust", _trust_line(trust)), soft_wrap=True)
    if trust["view"] == "workspace":
        console.print(" " * (width + 2) + _("(--receiver CC verifies as one country; --trust-list/--trust-anchor "
                                            "trust only what you give)"), soft_wrap=True)
    if result.signature_method:
        method = SignatureMethod.from_uri(result.signature_method)
        digest = DigestMethod.from_uri(result.digest_method)
        console.print(line("algorithms", _("{signature}, digest {digest}").format(
            signature=method.name if method else result.signature_method,
            digest=digest.name if digest else result.digest_method)))
    for position, certificate in enumerate(result.chain):
        label = "chain" if position == 0 else ""
        console.print(
            f"  {pad(labels[label] if label else '', width - 1)} {common_name(certificate.subject)} "
            f"[{iso(certificate.not_valid_before_utc)} .. {iso(certificate.not_valid_after_utc)}]"
        )
    if result.findings:
        table = Table(show_header=True)
        for column, header in (("code", _("code")), ("severity", _("severity")), ("check", _("check")),
                               ("message", _("message"))):
            table.add_column(header, overflow="fold", no_wrap=column in ("code", "check"))
        for finding in result.findings:
            message = finding.message
            if current() != "en" and code_message(finding.code):
                message = f"{code_message(finding.code)} ({message})"  # the code's message, the English detail beside
            table.add_row(finding.code, status_label(finding.severity), finding.check, message)
        console.print(table)


@app.command()
def verify(
    file: Annotated[Path, typer.Argument(help="Signed XML document.")],
    workspace: WorkspaceOption = None,
    receiver: Annotated[
        str | None, typer.Option("--receiver", help="Verify as this workspace country (its agreements decide).")
    ] = None,
    trust_list: Annotated[
        list[Path] | None, typer.Option("--trust-list", help="A signed trust list to recognise (repeatable).")
    ] = None,
    trust_anchor: Annotated[
        list[Path] | None,
        typer.Option("--trust-anchor", help="Root certificate PEM: signs a given trust list, or a bare anchor."),
    ] = None,
    crl: Annotated[list[Path] | None, typer.Option("--crl", help="CRL for bare anchors (repeatable).")] = None,
    allow_unknown_revocation: Annotated[
        bool, typer.Option("--allow-unknown-revocation", help="Accept signers whose revocation cannot be checked.")
    ] = False,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Moment of evaluation (ISO 8601 with offset); default now.")
    ] = None,
    document_type: Annotated[str | None, typer.Option("--type", help="Document type id (default: detected).")] = None,
    output: FormatOption = OutputFormat.TEXT,
) -> None:
    """Verify a signed document's signature and the trust in its signer; exit 0 valid, 1 invalid, 2 usage."""
    import json

    from exchange._verify import verify_document

    with cli_errors():
        moment = parse_moment(as_of, option="--as-of")
        context, folder = _trust_from_options(
            workspace=workspace, receiver=receiver, trust_lists=list(trust_list or ()),
            anchors=list(trust_anchor or ()), crls=list(crl or ()),
            allow_unknown_revocation=allow_unknown_revocation, moment=moment,
        )
        trust = describe_trust(context, folder=folder, receiver=receiver.upper() if receiver else None)
        result = verify_document(_read(file), trust=context, document_type=document_type)
    if output is OutputFormat.JSON:
        print(json.dumps({**result.to_dict(), "trust": trust}, indent=2, ensure_ascii=False))
    else:
        _print_result(result, file, trust)
    raise typer.Exit(EXIT_OK if result.valid else EXIT_INVALID)


# --- ptx inspect -------------------------------------------------------------------------------------------


def _certificate_info(certificate: x509.Certificate, moment: datetime) -> dict[str, Any]:
    from cryptography import x509 as x509_module

    from exchange._pki import common_name, fingerprint

    if moment < certificate.not_valid_before_utc:
        state = N_("not yet valid")
    elif moment > certificate.not_valid_after_utc:
        state = N_("expired")
    else:
        state = N_("valid")
    try:
        usage = certificate.extensions.get_extension_for_class(x509_module.KeyUsage).value
        bits = [name for name in ("digital_signature", "content_commitment", "key_encipherment", "key_cert_sign",
                                  "crl_sign") if getattr(usage, name)]
    except x509_module.ExtensionNotFound:
        bits = []
    try:
        ca = certificate.extensions.get_extension_for_class(x509_module.BasicConstraints).value.ca
    except x509_module.ExtensionNotFound:
        ca = False
    return {
        "subject": certificate.subject.rfc4514_string(),
        "name": common_name(certificate.subject),
        "issuer": certificate.issuer.rfc4514_string(),
        "self_signed": certificate.issuer == certificate.subject,
        "ca": ca,
        "serial": format(certificate.serial_number, "x"),
        "not_before": iso(certificate.not_valid_before_utc),
        "not_after": iso(certificate.not_valid_after_utc),
        "validity_at_moment": state,
        "key_usage": bits,
        "sha256": fingerprint(certificate),
    }


def _signature_info(signature: etree._Element, root: etree._Element) -> dict[str, Any]:
    from exchange._algorithms import Namespace

    ds = Namespace.DS

    def algorithm(path: str) -> str | None:
        element = signature.find(path)
        return element.get("Algorithm") if element is not None else None

    references = []
    for reference in signature.iter(ds.tag("Reference")):
        digest_method = reference.find(ds.tag("DigestMethod"))
        references.append({
            "uri": reference.get("URI"),
            "transforms": [t.get("Algorithm") for t in reference.iter(ds.tag("Transform"))],
            "digest_method": digest_method.get("Algorithm") if digest_method is not None else None,
        })
    parent = signature.getparent()
    enveloped = parent is root and signature is list(root.iterchildren("*"))[-1]
    # (template, values): English in the JSON, the template translated in the text (the "_shown" keys)
    position = (N_("last child of the root (enveloped)"), {}) if enveloped else (
        N_("inside {parent} (nested content, not the document's own signature)"),
        {"parent": parent.tag if parent is not None else "?"})
    covered: list[tuple[str, dict[str, str]]] = []
    for reference in references:
        if reference["uri"] == "":
            covered.append((N_("the whole document except this signature element"), {}))
        else:
            covered.append((N_("reference {uri} (outside the profile: refused on verification)"),
                            {"uri": repr(reference["uri"])}))
    return {
        "position": position[0].format(**position[1]),
        "_shown_position": _(position[0]).format(**position[1]),
        "_shown_covers": [_(template).format(**values) for template, values in covered],
        "canonicalization": algorithm(f"{ds.tag('SignedInfo')}/{ds.tag('CanonicalizationMethod')}"),
        "signature_method": algorithm(f"{ds.tag('SignedInfo')}/{ds.tag('SignatureMethod')}"),
        "references": references,
        "covers": [template.format(**values) for template, values in covered],
    }


@app.command()
def inspect(
    file: Annotated[Path, typer.Argument(help="XML document to describe.")],
    as_of: Annotated[str | None, typer.Option("--as-of", help="Judge certificate validity at this instant.")] = None,
    output: FormatOption = OutputFormat.TEXT,
) -> None:
    """Describe a document: its type, its signatures and algorithms, the signer chain in KeyInfo, what is covered.

    The signature is checked cryptographically; trust is not evaluated (that is ``ptx verify``).
    """
    import json

    from exchange._algorithms import Namespace
    from exchange._catalogue import default_catalogue
    from exchange._dsig import verify_signature
    from exchange._xml import parse_xml

    with cli_errors():
        moment = parse_moment(as_of, option="--as-of")
        data = _read(file)
        tree = parse_xml(data)
        root = tree.getroot()
        root_tag = root.tag if isinstance(root.tag, str) else ""
        found = default_catalogue().detect(root_tag)
        signatures = [_signature_info(s, root) for s in root.iter(Namespace.DS.tag("Signature"))]
        check = verify_signature(data, policy=_lenient_count_policy(len(signatures)))
        report: dict[str, Any] = {
            "file": str(file),
            "root": root_tag,
            "document_type": found.id if found is not None else None,
            "signatures": signatures,
            "signature_check": {
                "valid": check.valid,
                "findings": [finding.to_dict() for finding in check.findings],
            },
            "keyinfo_chain": [_certificate_info(c, moment) for c in check.chain],
            "moment": iso(moment),
            "trust": "not evaluated here; use `ptx verify`",
        }
    if output is OutputFormat.JSON:
        report["signatures"] = [{key: value for key, value in signature.items() if not key.startswith("_shown")}
                                for signature in signatures]
        print(json.dumps(report, indent=2, ensure_ascii=False))
        return
    console = make_console()
    console.print(_("[bold]{file}[/bold]: root {root}, document type {type}").format(
        file=file, root=root_tag, type=report["document_type"] or _("(unknown)")))
    if not signatures:
        console.print("  " + _("no signature"))
    for number, signature in enumerate(signatures, start=1):
        console.print("  " + _("signature {number}: {position}").format(number=number,
                                                                   position=signature["_shown_position"]))
        console.print("    " + _("canonicalization {method}").format(method=signature["canonicalization"]))
        console.print("    " + _("signature method {method}").format(method=signature["signature_method"]))
        for reference in signature["references"]:
            console.print("    " + _("reference URI={uri} digest {method}").format(
                uri=repr(reference["uri"]), method=reference["digest_method"]))
            for transform in reference["transforms"]:
                console.print("      " + _("transform {transform}").format(transform=transform))
        for covered in signature["_shown_covers"]:
            console.print("    " + _("covers {element}").format(element=covered))
    state = "[green]" + _("valid") + "[/green]" if check.valid else "[red]" + _("not valid") + "[/red]"
    console.print("  " + _("cryptographic check: {state}").format(state=state))
    for finding in check.findings:
        message = finding.message
        if current() != "en" and code_message(finding.code):
            message = f"{code_message(finding.code)} ({message})"
        console.print(f"    {finding.code}: {message}")
    if report["keyinfo_chain"]:
        console.print("  " + _("KeyInfo chain (untrusted until `ptx verify`; validity at {moment}):").format(
            moment=iso(moment)))
    for info in report["keyinfo_chain"]:
        validity = _(info["validity_at_moment"])  # marked with N_ in _certificate_info
        flags = ", ".join(filter(None, [_("self-signed") if info["self_signed"] else "", "CA" if info["ca"] else ""]))
        console.print(
            f"    {info['name']} ({validity}) {info['not_before']} .. {info['not_after']}"
            + (f" [{flags}]" if flags else "")
        )
        console.print("      " + _("issuer {issuer}; key usage {usage}").format(
            issuer=info["issuer"], usage=", ".join(info["key_usage"]) or "-"))
        console.print(f"      sha256 {info['sha256']}")


def _lenient_count_policy(count: int) -> Any:
    """The default policy, except that nested signatures (an envelope's payload) do not count against it."""
    from exchange._dsig import DEFAULT_POLICY, SignaturePolicy

    if count <= DEFAULT_POLICY.max_signatures:
        return DEFAULT_POLICY
    return SignaturePolicy(max_signatures=min(max(count, 1), 16))


__all__: list[str] = []
