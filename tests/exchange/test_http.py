"""exchange._http: httpx's client API on aiohttp, against a real loopback server (asyncio streams) that records
each request and answers from a script: what is sent, what comes back, and every failure as httpx's error."""

from __future__ import annotations

import asyncio
import base64
import gzip
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import aiohttp
import httpx
import pytest

from exchange._http import AiohttpTransport

Answer = Callable[["Seen", asyncio.StreamWriter], Awaitable[None]]


@dataclass
class Seen:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes
    lines: list[str]  # the header lines as sent, duplicates kept


@dataclass
class Server:
    url: str
    requests: list[Seen] = field(default_factory=list)
    connections: int = 0


async def _read_request(reader: asyncio.StreamReader) -> Seen | None:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    sent = [line for line in lines[1:] if line]
    headers = {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in sent)}
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return Seen(method, target, headers, body, sent)


@asynccontextmanager
async def serving(answer: Answer) -> AsyncIterator[Server]:
    server_state = Server("")

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        server_state.connections += 1
        try:
            while True:
                try:
                    seen = await _read_request(reader)
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                assert seen is not None
                server_state.requests.append(seen)
                await answer(seen, writer)
                await writer.drain()
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server_state.url = f"http://127.0.0.1:{port}"
    try:
        yield server_state
    finally:
        server.close()
        await server.wait_closed()


def respond(status: int, body: bytes = b"", headers: tuple[tuple[str, str], ...] = ()) -> Answer:
    async def answer(seen: Seen, writer: asyncio.StreamWriter) -> None:
        lines = [f"HTTP/1.1 {status} Reason {status}", f"Content-Length: {len(body)}", *(f"{k}: {v}" for k, v in headers)]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)

    return answer


def client() -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=AiohttpTransport(), timeout=httpx.Timeout(5))


def test_a_request_goes_out_as_httpx_built_it_and_the_answer_comes_back_whole() -> None:
    async def scenario() -> None:
        async with serving(respond(202, b"<Receipt/>", (("Content-Type", "application/xml"), ("X-Twice", "a"),
                                                       ("X-Twice", "b")))) as server:
            async with client() as http:
                first = await http.post(f"{server.url}/v1/inbox?x=1", content=b"<Envelope/>",
                                        headers={"Content-Type": "application/xml", "PTX-Delivery": "sig"})
                second = await http.get(f"{server.url}/healthz")
            assert (first.status_code, first.content, first.reason_phrase) == (202, b"<Receipt/>", "Reason 202")
            assert first.headers["content-type"] == "application/xml"
            assert first.headers.get_list("x-twice") == ["a", "b"]
            assert first.http_version == "HTTP/1.1" and second.status_code == 202
            post, get = server.requests
            assert (post.method, post.target, post.body) == ("POST", "/v1/inbox?x=1", b"<Envelope/>")
            assert post.headers["content-type"] == "application/xml" and post.headers["ptx-delivery"] == "sig"
            assert post.headers["host"] == server.url.removeprefix("http://")
            assert post.headers["user-agent"].startswith("python-httpx/")  # httpx's headers, not aiohttp's
            assert (get.method, get.target, get.body) == ("GET", "/healthz", b"")
            assert "content-type" not in get.headers and len(get.lines) == len(get.headers), "nothing added or twice"
            assert server.connections == 1, "the connection was kept alive and used again"

    asyncio.run(scenario())


def test_a_body_without_a_content_type_goes_without_one() -> None:
    async def scenario() -> None:
        async with serving(respond(204)) as server:
            async with client() as http:
                await http.post(server.url, content=b"x" * 10)
                await http.post(server.url, content=b"x" * (2 << 20))  # written in chunks, as a file object
        for seen in server.requests:
            assert "content-type" not in seen.headers and len(seen.lines) == len(seen.headers)
        assert [len(seen.body) for seen in server.requests] == [10, 2 << 20]

    asyncio.run(scenario())


def test_a_redirect_is_the_clients_business() -> None:
    async def scenario() -> None:
        async with serving(respond(302, headers=(("Location", "/elsewhere"),))) as server:
            async with client() as http:
                answer = await http.post(f"{server.url}/v1/inbox", content=b"x", follow_redirects=False)
                assert answer.status_code == 302 and len(server.requests) == 1  # the transport sent one request
                with pytest.raises(httpx.TooManyRedirects):  # the server redirects for ever
                    await http.get(f"{server.url}/first", follow_redirects=True)
            # httpx followed Location (the transport never does), one request per hop, until its limit
            assert [seen.target for seen in server.requests[1:4]] == ["/first", "/elsewhere", "/elsewhere"]
            assert len(server.requests) == 1 + 1 + httpx.AsyncClient().max_redirects

    asyncio.run(scenario())


def test_a_compressed_answer_is_passed_on_undecoded_and_httpx_decodes_it() -> None:
    plain = b"<Receipt>" + b"r" * 50_000 + b"</Receipt>"

    async def scenario() -> None:
        async with serving(respond(200, gzip.compress(plain), (("Content-Encoding", "gzip"),))) as server:
            async with client() as http:
                assert (await http.get(server.url)).content == plain
                async with http.stream("GET", server.url) as raw:
                    assert gzip.decompress(b"".join([chunk async for chunk in raw.aiter_raw()])) == plain

    asyncio.run(scenario())


def test_failures_are_httpxs_errors() -> None:
    async def silent(seen: Seen, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(30)

    async def cut(seen: Seen, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b")
        await writer.drain()
        writer.close()

    async def garbage(seen: Seen, writer: asyncio.StreamWriter) -> None:
        writer.write(b"this is not HTTP\r\n\r\n")
        await writer.drain()
        writer.close()

    async def scenario() -> None:
        async with client() as http:
            async with serving(silent) as server:
                with pytest.raises(httpx.ReadTimeout):
                    await http.post(server.url, content=b"x", timeout=httpx.Timeout(0.3))
            closed = server.url  # nothing listens there any more
            with pytest.raises(httpx.ConnectError):
                await http.get(closed)
            async with serving(cut) as server:
                with pytest.raises(httpx.RemoteProtocolError):
                    await http.get(server.url)
            async with serving(garbage) as server:
                with pytest.raises(httpx.TransportError):
                    await http.get(server.url)
            with pytest.raises(httpx.UnsupportedProtocol):
                await http.get("ftp://127.0.0.1/file")

    asyncio.run(scenario())


def test_a_url_with_a_password_is_sent_as_httpxs_authorization_header() -> None:
    async def scenario() -> None:
        async with serving(respond(202)) as server:
            async with client() as http:
                answer = await http.post(server.url.replace("http://", "http://bb:secret@") + "/v1/inbox", content=b"x")
            assert answer.status_code == 202
            (seen,) = server.requests
            assert seen.headers["authorization"] == "Basic " + base64.b64encode(b"bb:secret").decode()
            assert "secret" not in seen.target

    asyncio.run(scenario())


def test_a_reason_phrase_outside_ascii_is_kept_as_its_bytes() -> None:
    async def answer(seen: Seen, writer: asyncio.StreamWriter) -> None:
        writer.write("HTTP/1.1 200 Très bien\r\nContent-Length: 2\r\n\r\nok".encode("latin-1"))

    async def scenario() -> None:
        async with serving(answer) as server:
            async with client() as http:
                reply = await http.get(server.url)
        assert (reply.status_code, reply.content) == (200, b"ok")
        assert reply.extensions["reason_phrase"] == "Très bien".encode("latin-1")

    asyncio.run(scenario())


def test_a_peer_that_stops_reading_a_large_body_is_a_timeout() -> None:
    """aiohttp has no write timeout: the request up to the answer's head is bounded by the request's timeouts."""

    async def scenario() -> None:
        stalled = asyncio.Event()

        async def never_read(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await stalled.wait()
            writer.close()

        server = await asyncio.start_server(never_read, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            async with client() as http:
                with pytest.raises(httpx.TimeoutException):
                    await asyncio.wait_for(  # without the bound: the TimeoutError of this outer wait, not httpx's
                        http.post(f"http://127.0.0.1:{port}/", content=b"x" * (8 << 20), timeout=httpx.Timeout(0.5)),
                        timeout=30,
                    )
        finally:
            stalled.set()
            server.close()
            await server.wait_closed()

    asyncio.run(scenario())


def test_each_event_loop_gets_its_own_session_and_aclose_ends_it() -> None:
    transport = AiohttpTransport()
    http = httpx.AsyncClient(transport=transport)

    async def once(close: bool) -> aiohttp.ClientSession:
        async with serving(respond(204)) as server:
            assert (await http.get(server.url)).status_code == 204
        session = transport._sessions[asyncio.get_running_loop()]
        if close:
            await http.aclose()
        return session

    first = asyncio.run(once(close=False))
    last = asyncio.run(once(close=True))  # a second loop: a new session, not the first loop's dead one
    assert last is not first and last.closed and transport._sessions == {}
    assert first.closed, "the finished loop's session was closed when the next loop made its own"
