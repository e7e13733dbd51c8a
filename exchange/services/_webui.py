"""What the web pages of the gateway and of the nodes share: templates, static files, XML views, certificates, SSE.

The pages are plain Jinja2 templates (autoescape on: every value is escaped, XML is shown as escaped text) plus
one small vanilla JavaScript file and one stylesheet, all served from the package: no CDN, no web fonts from
outside, no build step, nothing fetched from the network. Layout::

    exchange/services/webui/templates/    base.html (navigation, large-text toggle) and _macros.html
    exchange/services/webui/static/       app.css, app.js, favicon.svg
    gateway/ui/templates/        the gateway dashboard's pages
    exchange/node/ui/templates/  a single window's pages

:func:`xml_view` turns XML bytes into lines for a pretty-printed, escaped view in which each ``ds:Signature`` is
marked, and each line says which signature covers it; it parses through the one hardened entry point
(:func:`exchange._xml.parse_xml`). :func:`signature_view` verifies an enveloped signature
(:func:`exchange._dsig.verify_signature`) and describes its signer chain with each certificate's validity.
:func:`event_stream` is the server-sent-events loop the live pages use: it polls a cheap change token and sends
a snapshot whenever the token changes.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import jinja2
from cryptography import x509
from lxml import etree
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from exchange._algorithms import CanonicalizationMethod, DigestMethod, Namespace, SignatureMethod, Transform
from exchange._dsig import DEFAULT_POLICY, SignaturePolicy, verify_signature
from exchange._errors import XmlError
from exchange._findings import Finding
from exchange._i18n import (
    DEFAULT,
    HTML_LANG,
    LANGUAGES,
    code_message,
    current,
    from_accept_language,
    gettext,
    ngettext,
    normalise,
    pgettext,
    reset,
    status_label,
    use,
)
from exchange._pki import common_name, fingerprint
from exchange._xml import parse_xml

WEBUI_DIR = Path(__file__).parent / "webui"
STATIC_DIR = WEBUI_DIR / "static"

#: The only files ``/ui/static/{name}`` serves, with their media types (no path from a request reaches the disk).
STATIC_FILES: Mapping[str, str] = {
    "app.css": "text/css; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}

#: Headers every page carries: nothing from elsewhere may load, nothing may frame it.
SECURITY_HEADERS: Mapping[str, str] = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}

_SIGNATURE = Namespace.DS.tag("Signature")
_SIGNED_INFO = Namespace.DS.tag("SignedInfo")
_REFERENCE = Namespace.DS.tag("Reference")
_TRANSFORM = Namespace.DS.tag("Transform")
_C14N_METHOD = Namespace.DS.tag("CanonicalizationMethod")
_SIGNATURE_METHOD = Namespace.DS.tag("SignatureMethod")
_DIGEST_METHOD = Namespace.DS.tag("DigestMethod")
_X509_CERTIFICATE = Namespace.DS.tag("X509Certificate")
_XML_NS = "http://www.w3.org/XML/1998/namespace"


# --- templates and static files -----------------------------------------------------------------------------


def when(value: datetime | str | None) -> str:
    """A moment as people read it on a projector: ``2026-11-04 09:00:00 UTC``."""
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return str(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def short(value: str | None, length: int = 12) -> str:
    """The start of a long hash or id, with an ellipsis when cut."""
    if not value:
        return "—"
    return value if len(value) <= length else value[:length] + "…"


# --- the page's language ---------------------------------------------------------------------------------------

LANGUAGE_COOKIE = "ptx_lang"
_page_path: ContextVar[str] = ContextVar("ptx_page_path", default="")


def request_language(query_lang: str | None, cookie_lang: str | None, accept_language: str | None) -> str:
    """``?lang=``, then the ``ptx_lang`` cookie, then ``Accept-Language``, then English."""
    return normalise(query_lang) or normalise(cookie_lang) or from_accept_language(accept_language) or DEFAULT


class LanguageMiddleware:
    """Pure ASGI: makes the request's language current (a context variable, so concurrent requests do not mix)
    and remembers an explicit ``?lang=`` choice in a cookie. Applies to every path; only pages show text."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        query = tuple(parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True))
        asked = normalise(next((value for key, value in query if key == "lang"), None))
        headers = {key.decode("latin-1").lower(): value.decode("latin-1") for key, value in scope.get("headers", ())}
        cookie_lang = None
        if "cookie" in headers:
            jar: SimpleCookie = SimpleCookie()
            try:
                jar.load(headers["cookie"])
            except Exception:  # noqa: BLE001 - a malformed Cookie header only loses the remembered language
                jar = SimpleCookie()
            if LANGUAGE_COOKIE in jar:
                cookie_lang = jar[LANGUAGE_COOKIE].value
        language = request_language(asked, cookie_lang, headers.get("accept-language"))
        token = use(language)
        address = _page_path.set(scope.get("root_path", "") + scope["path"])

        async def send_with_cookie(message: Any) -> None:
            if message["type"] == "http.response.start" and asked:
                cookie = f"{LANGUAGE_COOKIE}={asked}; Path=/; Max-Age=31536000; SameSite=Lax; HttpOnly"
                message = {**message, "headers": [*message.get("headers", []),
                                                  (b"set-cookie", cookie.encode("latin-1"))]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_cookie if asked else send)
        finally:
            _page_path.reset(address)
            reset(token)


@dataclass(frozen=True, slots=True)
class LanguageLink:
    code: str
    name: str
    href: str
    current: bool


def language_links() -> list[LanguageLink]:
    """The language switch: this page in each language, as a query-only relative link (``?lang=zh``, which the
    browser resolves against the page's own path): neither the path nor the query is echoed into the page, so a
    refusal or login page shows nothing of the URL asked for, and filters start afresh."""
    return [LanguageLink(code, name, f"?{urlencode([('lang', code)])}", code == current())
            for code, name in LANGUAGES.items()]


def finding_message(finding: Any) -> str:
    """A finding's code's message in the page's language; empty in English (the English message is shown)."""
    if current() == DEFAULT:
        return ""
    code = finding.get("code") if isinstance(finding, Mapping) else getattr(finding, "code", None)
    return code_message(code) if code else ""


def make_templates(folder: Path) -> jinja2.Environment:
    """A Jinja2 environment for one app's templates, falling back to the shared ones. Autoescape is always on."""
    environment = jinja2.Environment(
        loader=jinja2.ChoiceLoader([
            jinja2.FileSystemLoader(str(folder)),
            jinja2.FileSystemLoader(str(WEBUI_DIR / "templates")),
        ]),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
    )
    # the page's language is a context variable, so one environment serves concurrent requests in any language
    environment.install_gettext_callables(gettext, ngettext, newstyle=True, pgettext=pgettext)  # type: ignore[attr-defined]
    environment.globals.update(
        status_label=status_label, code_message=code_message, finding_message=finding_message,
        language_links=language_links, page_lang=lambda: HTML_LANG.get(current(), "en"), language=current,
    )
    environment.filters["when"] = when
    environment.filters["short"] = short
    environment.filters["pretty_json"] = lambda value: json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)
    return environment


def render_page(
    templates: jinja2.Environment, name: str, context: Mapping[str, Any], *, status_code: int = 200
) -> Response:
    """Render a template as an HTML response with the security headers."""
    body = templates.get_template(name).render(**context)
    return Response(body, status_code=status_code, media_type="text/html; charset=utf-8",
                    headers=dict(SECURITY_HEADERS))


def static_response(name: str) -> Response:
    """One of :data:`STATIC_FILES`, or 404. Names come from a fixed list: no request path reaches the disk."""
    media_type = STATIC_FILES.get(name)
    if media_type is None:
        return Response("not found", status_code=404, media_type="text/plain")
    return Response((STATIC_DIR / name).read_bytes(), media_type=media_type,
                    headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"})


# --- XML, pretty-printed with the signatures marked ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class XmlSegment:
    """A piece of a line; ``kind`` is its CSS class (``tag``, ``attr``, ``value``, ``text``, ``punct``, ...)."""

    kind: str
    text: str


@dataclass(frozen=True, slots=True)
class XmlLine:
    """One line of the view. ``source_line`` is the line in the original bytes (for findings that name one);
    ``signature`` is the index of the ``ds:Signature`` the line is part of; ``covered_by`` lists the signatures
    whose digest covers the line (comments are never covered: exclusive C14N without comments drops them)."""

    depth: int
    segments: tuple[XmlSegment, ...]
    source_line: int | None = None
    signature: int | None = None
    covered_by: tuple[int, ...] = ()
    comment: bool = False


@dataclass(frozen=True, slots=True)
class SignatureSummary:
    """What one ``ds:Signature`` says about itself (read from the XML, not yet verified)."""

    index: int
    path: str
    references: tuple[str, ...]
    transforms: tuple[str, ...]
    canonicalization: str
    signature_method: str
    digest_method: str
    certificates: int
    covers: str


@dataclass(frozen=True, slots=True)
class XmlView:
    """A document ready to show: its lines, its signatures, or why it could not be read."""

    lines: tuple[XmlLine, ...]
    signatures: tuple[SignatureSummary, ...] = ()
    error: str | None = None
    size: int = 0
    cut: int = 0  # lines left out past the limit


def _algorithm_name(uri: str | None, *enums: type[Any]) -> str:
    if not uri:
        return "—"
    for enum in enums:
        try:
            return str(enum(uri).name).replace("_", "-")
        except ValueError:
            continue
    return uri


def _qualified(name: str, nsmap: Mapping[str | None, str]) -> str:
    """``prefix:local`` for a Clark name, using the prefixes in scope."""
    if not name.startswith("{"):
        return name
    uri, local = name[1:].split("}", 1)
    if uri == _XML_NS:
        return f"xml:{local}"
    prefix = next((p for p, u in nsmap.items() if u == uri and p is not None), None)
    if prefix is None and nsmap.get(None) == uri:
        return local
    return f"{prefix}:{local}" if prefix else local


def _shorten(text: str, limit: int) -> tuple[str, bool]:
    collapsed = " ".join(text.split()) if "\n" in text else text.strip()
    if len(collapsed) <= limit:
        return collapsed, False
    return collapsed[:limit], True


def _element_path(element: etree._Element) -> str:
    parts = []
    node: etree._Element | None = element
    while node is not None:
        tag = node.tag
        if isinstance(tag, str):
            parts.append(_qualified(tag, node.nsmap))
        node = node.getparent()
    return "/" + "/".join(reversed(parts))


def _summarise(index: int, signature: etree._Element) -> SignatureSummary:
    signed_info = signature.find(_SIGNED_INFO)
    references = tuple(ref.get("URI", "(none)") for ref in signature.iter(_REFERENCE))
    transforms = tuple(_algorithm_name(t.get("Algorithm"), Transform) for t in signature.iter(_TRANSFORM))
    c14n = signed_info.find(_C14N_METHOD) if signed_info is not None else None
    method = signed_info.find(_SIGNATURE_METHOD) if signed_info is not None else None
    digest = next(signature.iter(_DIGEST_METHOD), None)
    parent = signature.getparent()
    owner = _qualified(parent.tag, parent.nsmap) if parent is not None and isinstance(parent.tag, str) else "?"
    if references == ("",) and "ENVELOPED" in transforms:
        covers = gettext("the whole document ({owner} and everything in it) except this signature").format(
            owner=owner)
    elif references == ("",):
        covers = gettext("the whole document (Reference URI=\"\")")
    else:
        covers = gettext("references {references} (outside the profile: refused)").format(
            references=", ".join(repr(r) for r in references))
    return SignatureSummary(
        index=index,
        path=_element_path(signature),
        references=references,
        transforms=transforms,
        canonicalization=_algorithm_name(c14n.get("Algorithm") if c14n is not None else None, CanonicalizationMethod),
        signature_method=_algorithm_name(method.get("Algorithm") if method is not None else None, SignatureMethod),
        digest_method=_algorithm_name(digest.get("Algorithm") if digest is not None else None, DigestMethod),
        certificates=sum(1 for _ in signature.iter(_X509_CERTIFICATE)),
        covers=covers,
    )


class _Printer:
    """Walks a tree once and produces :class:`XmlLine` s (per call, never shared)."""

    def __init__(self, root: etree._Element, *, max_text: int, max_lines: int) -> None:
        self.max_text = max_text
        self.max_lines = max_lines
        self.lines: list[XmlLine] = []
        self.cut = 0
        signatures = [element for element in root.iter(_SIGNATURE)]
        self.signature_index = {element: number for number, element in enumerate(signatures, start=1)}
        # a signature with Reference URI="" covers the whole document it sits in, except itself
        self.whole_document = tuple(
            self.signature_index[element] for element in signatures
            if tuple(ref.get("URI") for ref in element.iter(_REFERENCE)) == ("",)
        )
        self.summaries = tuple(_summarise(self.signature_index[element], element) for element in signatures)

    def add(self, line: XmlLine) -> None:
        if len(self.lines) >= self.max_lines:
            self.cut += 1
            return
        self.lines.append(line)

    def covered(self, signature: int | None) -> tuple[int, ...]:
        return tuple(number for number in self.whole_document if number != signature)

    def text(self, value: str) -> list[XmlSegment]:
        shown, was_cut = _shorten(value, self.max_text)
        segments = [XmlSegment("text", shown)]
        if was_cut:
            segments.append(XmlSegment("cut", f"… [{len(value.strip()):,} characters]"))
        return segments

    def start_tag(self, element: etree._Element, parent_nsmap: Mapping[str | None, str], *, close: str) -> list[XmlSegment]:
        nsmap = element.nsmap
        segments = [XmlSegment("punct", "<"), XmlSegment("tag", _qualified(str(element.tag), nsmap))]
        for prefix, uri in nsmap.items():
            if parent_nsmap.get(prefix) != uri:
                segments.append(XmlSegment("ns", f" xmlns{':' + prefix if prefix else ''}="))
                segments.append(XmlSegment("value", f'"{uri}"'))
        for name, value in element.attrib.items():
            shown, was_cut = _shorten(str(value), self.max_text)
            segments.append(XmlSegment("attr", f" {_qualified(str(name), nsmap)}="))
            segments.append(XmlSegment("value", f'"{shown}{"…" if was_cut else ""}"'))
        segments.append(XmlSegment("punct", close))
        return segments

    def walk(self, element: etree._Element, depth: int, parent_nsmap: Mapping[str | None, str],
             signature: int | None) -> None:
        signature = self.signature_index.get(element, signature)
        covered = self.covered(signature)
        source = element.sourceline if isinstance(element.sourceline, int) else None
        children = list(element)
        text = element.text or ""
        name = _qualified(str(element.tag), element.nsmap)
        if not children:
            if text.strip():
                segments = self.start_tag(element, parent_nsmap, close=">") + self.text(text) + [
                    XmlSegment("punct", "</"), XmlSegment("tag", name), XmlSegment("punct", ">")]
            else:
                segments = self.start_tag(element, parent_nsmap, close="/>")
            self.add(XmlLine(depth, tuple(segments), source, signature, covered))
            return
        self.add(XmlLine(depth, tuple(self.start_tag(element, parent_nsmap, close=">")), source, signature, covered))
        if text.strip():
            self.add(XmlLine(depth + 1, tuple(self.text(text)), None, signature, covered))
        for child in children:
            if isinstance(child, etree._Comment):
                self.add(XmlLine(depth + 1, (XmlSegment("comment", f"<!--{child.text or ''}-->"),),
                                 child.sourceline, signature, (), comment=True))
            elif isinstance(child, etree._ProcessingInstruction):
                self.add(XmlLine(depth + 1, (XmlSegment("comment", f"<?{child.target} {child.text or ''}?>"),),
                                 child.sourceline, signature, covered))
            elif isinstance(child.tag, str):
                self.walk(child, depth + 1, element.nsmap, signature)
            tail = child.tail or ""
            if tail.strip():
                self.add(XmlLine(depth + 1, tuple(self.text(tail)), None, signature, covered))
        self.add(XmlLine(depth, (XmlSegment("punct", "</"), XmlSegment("tag", name), XmlSegment("punct", ">")),
                         None, signature, covered))


def xml_view(data: bytes, *, max_text: int = 96, max_lines: int = 4000) -> XmlView:
    """Pretty-print ``data`` for people: one element per line, long text cut, signatures marked.

    Parsing goes through the hardened entry point; a refusal is shown as its code, not raised.
    """
    try:
        tree = parse_xml(data)
    except XmlError as exc:
        return XmlView(lines=(), error=f"{exc.code.value}: {exc.message}", size=len(data))
    root = tree.getroot()
    printer = _Printer(root, max_text=max_text, max_lines=max_lines)
    printer.walk(root, 0, {}, None)
    return XmlView(lines=tuple(printer.lines), signatures=printer.summaries, size=len(data), cut=printer.cut)


# --- certificates and signatures ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CertificateView:
    """One certificate of a signer chain as a person reads it, with its validity at a given moment."""

    name: str
    subject: str
    issuer: str
    serial: str
    not_before: datetime
    not_after: datetime
    sha256: str
    is_ca: bool
    state: str  # "valid", "expired" or "not yet valid" at ``moment``
    moment: datetime

    @property
    def valid(self) -> bool:
        return self.state == "valid"


def certificate_view(certificate: x509.Certificate, moment: datetime) -> CertificateView:
    not_before, not_after = certificate.not_valid_before_utc, certificate.not_valid_after_utc
    if moment < not_before:
        state = "not yet valid"
    elif moment > not_after:
        state = "expired"
    else:
        state = "valid"
    try:
        is_ca = bool(certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        is_ca = False
    return CertificateView(
        name=common_name(certificate.subject),
        subject=certificate.subject.rfc4514_string(),
        issuer=certificate.issuer.rfc4514_string(),
        serial=format(certificate.serial_number, "x"),
        not_before=not_before,
        not_after=not_after,
        sha256=fingerprint(certificate),
        is_ca=is_ca,
        state=state,
        moment=moment,
    )


@dataclass(frozen=True, slots=True)
class SignatureView:
    """A verified (or refused) enveloped signature: the verdict, its codes, and the chain from KeyInfo.

    The chain is *not* trusted because it is shown: trust is the issuer-trust check's decision.
    """

    label: str
    valid: bool
    findings: tuple[Finding, ...]
    chain: tuple[CertificateView, ...]
    signature_method: str
    digest_method: str
    signed_content: bytes | None = field(default=None, repr=False)

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(finding.code for finding in self.findings)


def signature_view(
    data: bytes, *, label: str, moment: datetime, policy: SignaturePolicy = DEFAULT_POLICY
) -> SignatureView:
    """Verify the enveloped signature of ``data`` (strict profile) and describe the signer chain at ``moment``."""
    check = verify_signature(data, policy=policy)
    return SignatureView(
        label=label,
        valid=check.valid,
        findings=check.findings,
        chain=tuple(certificate_view(certificate, moment) for certificate in check.chain),
        signature_method=_algorithm_name(check.signature_method.value if check.signature_method else None,
                                         SignatureMethod),
        digest_method=_algorithm_name(check.digest_method.value if check.digest_method else None, DigestMethod),
        signed_content=check.signed_content,
    )


# --- server-sent events -------------------------------------------------------------------------------------

#: How long one event stream stays open (seconds). The browser reconnects at once (``retry``) and gets a fresh
#: snapshot, so pages do not notice; a server asked to stop waits for open streams, and this bounds that wait.
STREAM_SECONDS = 15.0


def sse(event: str, data: Any) -> str:
    """One server-sent event whose data is JSON on a single line."""
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'), ensure_ascii=False)}\n\n"


async def event_stream(
    request: Request,
    *,
    token: Callable[[], Awaitable[Any]],
    snapshot: Callable[[], Awaitable[Mapping[str, Any]]],
    interval: float,
    seconds: float,
    keep_alive: float = 15.0,
) -> AsyncIterator[str]:
    """Send a ``snapshot`` event at once, then again whenever ``token()`` changes; stop after ``seconds``.

    The browser's ``EventSource`` reconnects by itself when a stream ends (``retry`` says after how long), so a
    bounded stream costs nothing and a lost connection heals. A comment line keeps idle proxies from closing it.
    """
    yield "retry: 500\n\n"
    deadline = time.monotonic() + seconds
    last: Any = object()
    sent = time.monotonic()
    while True:
        current = await token()
        if current != last:
            last = current
            body = dict(await snapshot())
            body["token"] = current if isinstance(current, str) else json.dumps(current, default=str)
            yield sse("snapshot", body)
            sent = time.monotonic()
        elif time.monotonic() - sent >= keep_alive:
            yield ": keep-alive\n\n"
            sent = time.monotonic()
        if time.monotonic() >= deadline or await request.is_disconnected():
            return
        await asyncio.sleep(interval)


def event_response(stream: AsyncIterator[str]) -> StreamingResponse:
    return StreamingResponse(
        stream, media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no", "X-Content-Type-Options": "nosniff"},
    )


def same_origin(request: Request) -> bool:
    """Whether a state-changing form post comes from this app's own pages.

    Browsers that send ``Sec-Fetch-Site`` are believed (``same-origin``, or ``none`` for a user's own action);
    otherwise the ``Origin`` header must name this host. A post without either (a script, curl) is allowed:
    the risk guarded against is another web page making the browser post here.
    """
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        return site in ("same-origin", "none")
    origin = request.headers.get("origin")
    if origin is None:
        return True
    host = request.headers.get("host", "").lower()
    return origin.split("://", 1)[-1].rstrip("/").lower() == host


def pick(options: Sequence[str], value: str | None) -> str | None:
    """``value`` when it is one of ``options`` (filters from a query string), else None."""
    return value if value in options else None


__all__ = [
    "STATIC_FILES",
    "STREAM_SECONDS",
    "CertificateView",
    "SignatureSummary",
    "SignatureView",
    "XmlLine",
    "XmlSegment",
    "XmlView",
    "certificate_view",
    "event_response",
    "event_stream",
    "make_templates",
    "pick",
    "render_page",
    "same_origin",
    "short",
    "signature_view",
    "sse",
    "static_response",
    "when",
    "xml_view",
]
