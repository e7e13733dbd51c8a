"""What the web pages share: the XML view with signatures marked, signer chains, events, same-origin posts."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from starlette.requests import Request

from exchange._catalogue import default_catalogue
from exchange._dsig import sign_document
from exchange._pki import common_name
from exchange._workspace import Workspace, init_workspace
from exchange.services._webui import (
    STATIC_FILES,
    certificate_view,
    event_stream,
    make_templates,
    same_origin,
    signature_view,
    sse,
    static_response,
    when,
    xml_view,
)

CREATED = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    path = tmp_path_factory.mktemp("webui") / "workspace"
    init_workspace(path, moment=CREATED)
    return Workspace.open(path)


def coo() -> bytes:
    doc_type = default_catalogue().get("certificate-of-origin")
    return next(s for s in doc_type.samples if s.path.name == "basic.xml").path.read_bytes()


def signed(workspace: Workspace, document: bytes | None = None) -> bytes:
    authority = workspace.authority("AA", "chamber-of-commerce")
    return sign_document(document or coo(), authority.key, authority.signing_chain)


def text(line: Any) -> str:
    return "".join(segment.text for segment in line.segments)


def test_signature_lines_are_marked_and_the_rest_is_covered(workspace: Workspace) -> None:
    view = xml_view(signed(workspace))
    assert view.error is None and view.cut == 0
    (summary,) = view.signatures
    assert summary.index == 1 and summary.references == ("",)
    assert summary.transforms == ("ENVELOPED", "EXC-C14N") and summary.signature_method == "ECDSA-SHA256"
    assert summary.digest_method == "SHA256" and summary.certificates == 2
    assert summary.covers.startswith("the whole document (CertificateOfOrigin and everything in it) except")
    inside = [line for line in view.lines if line.signature == 1]
    outside = [line for line in view.lines if line.signature is None]
    assert text(inside[0]).startswith("<ds:Signature") and text(inside[-1]) == "</ds:Signature>"
    assert all(line.covered_by == () for line in inside)
    assert all(line.covered_by == (1,) for line in outside)
    assert text(view.lines[0]).startswith('<CertificateOfOrigin xmlns="urn:ptx:trade:CertificateOfOrigin:1"')
    # source lines point into the original bytes
    assert view.lines[0].source_line == 2 and view.lines[1].source_line == 3


def test_comments_are_not_covered_and_long_text_is_cut(workspace: Workspace) -> None:
    document = coo().replace(b"<Name>CERTIFICATE OF ORIGIN</Name>",
                             b"<!-- not signed --><Name>CERTIFICATE OF ORIGIN</Name>", 1)
    view = xml_view(signed(workspace, document), max_text=40)
    comment = next(line for line in view.lines if line.comment)
    assert text(comment) == "<!-- not signed -->" and comment.covered_by == ()
    value = next(line for line in view.lines if "X509Certificate" in text(line))
    assert any(segment.kind == "cut" and "characters]" in segment.text for segment in value.segments)


def test_unparsable_or_hostile_xml_is_a_code_not_an_exception() -> None:
    view = xml_view(b"<!DOCTYPE x [<!ENTITY e SYSTEM 'file:///etc/passwd'>]><x>&e;</x>")
    assert view.lines == () and view.error and view.error.startswith("XML-")
    assert xml_view(b"<unclosed>").error


def test_a_document_without_signature() -> None:
    view = xml_view(coo())
    assert view.signatures == () and all(line.covered_by == () for line in view.lines)


def test_signer_chain_with_validity(workspace: Workspace) -> None:
    data = signed(workspace)
    view = signature_view(data, label="doc", moment=CREATED + timedelta(days=1))
    assert view.valid and view.codes == () and view.signed_content
    leaf, issuing = view.chain
    authority = workspace.authority("AA", "chamber-of-commerce").certificate
    assert leaf.subject == authority.subject.rfc4514_string() and leaf.name == common_name(authority.subject)
    assert leaf.issuer == issuing.subject and issuing.is_ca and not leaf.is_ca
    assert leaf.state == "valid" and leaf.valid
    assert certificate_view(authority, leaf.not_after + timedelta(seconds=1)).state == "expired"
    assert certificate_view(authority, leaf.not_before - timedelta(seconds=1)).state == "not yet valid"
    tampered = signature_view(data.replace(b"Golden Harvest", b"Holden Harvest", 1), label="doc", moment=CREATED)
    assert not tampered.valid and "SIG-DIGEST-MISMATCH" in tampered.codes and tampered.chain
    assert tampered.signed_content is None


def request(headers: dict[str, str]) -> Request:
    raw = [(key.lower().encode(), value.encode()) for key, value in headers.items()]
    return Request({"type": "http", "method": "POST", "path": "/ui/issue", "headers": raw})


@pytest.mark.parametrize(("headers", "allowed"), [
    ({"host": "127.0.0.1:8001", "origin": "http://127.0.0.1:8001"}, True),
    ({"host": "127.0.0.1:8001", "origin": "http://127.0.0.1:8002"}, False),
    ({"host": "127.0.0.1:8001", "origin": "null"}, False),
    ({"host": "127.0.0.1:8001", "sec-fetch-site": "same-origin", "origin": "null"}, True),
    ({"host": "127.0.0.1:8001", "sec-fetch-site": "cross-site", "origin": "http://127.0.0.1:8001"}, False),
    ({"host": "127.0.0.1:8001", "sec-fetch-site": "same-site"}, False),
    ({"host": "127.0.0.1:8001"}, True),  # not a browser: nothing to forge
])
def test_same_origin(headers: dict[str, str], allowed: bool) -> None:
    assert same_origin(request(headers)) is allowed


def test_static_files_come_from_a_fixed_list() -> None:
    for name, media_type in STATIC_FILES.items():
        response = static_response(name)
        assert response.status_code == 200 and response.media_type == media_type and response.body
    for name in ("../_webui.py", "app.css/../../_webui.py", "", "APP.CSS"):
        assert static_response(name).status_code == 404


def test_templates_escape_everything(tmp_path: Path) -> None:
    (tmp_path / "t.html").write_text("<p title='{{ v }}'>{{ v }}</p>")
    html = make_templates(tmp_path).get_template("t.html").render(v="<script>'x'&\"")
    assert html == "<p title='&lt;script&gt;&#39;x&#39;&amp;&#34;'>&lt;script&gt;&#39;x&#39;&amp;&#34;</p>"
    assert when("2026-11-04T09:00:00Z") == "2026-11-04 09:00:00 UTC" and when(None) == "—"


def test_an_event_is_one_line_of_json() -> None:
    event = sse("snapshot", {"html": "<tr>\n</tr>", "n": 1})
    assert event == 'event: snapshot\ndata: {"html":"<tr>\\n</tr>","n":1}\n\n'


async def test_the_stream_sends_a_snapshot_only_when_the_token_changes() -> None:
    tokens = itertools.chain(["a", "a", "b", "b", "b"], itertools.repeat("c"))
    sent: list[str] = []

    async def token() -> str:
        return next(tokens)

    async def snapshot() -> dict[str, Any]:
        sent.append("x")
        return {"n": len(sent)}

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    scope = {"type": "http", "method": "GET", "path": "/ui/events", "headers": []}
    chunks = [chunk async for chunk in event_stream(Request(scope, receive), token=token, snapshot=snapshot,
                                                    interval=0.001, seconds=0.2, keep_alive=3600)]
    assert chunks[0].startswith("retry: ")
    events = [chunk for chunk in chunks if chunk.startswith("event: snapshot")]
    assert events == [sse("snapshot", {"n": 1, "token": "a"}), sse("snapshot", {"n": 2, "token": "b"}),
                      sse("snapshot", {"n": 3, "token": "c"})]
