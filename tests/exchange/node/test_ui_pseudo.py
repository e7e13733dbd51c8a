"""Every dashboard page of the gateway and of both single windows rendered in the pseudo-locale ``qps``: any visible
English that did not go through the catalogue fails the test (it would stay English for a Chinese or Russian room).

Visible text is the page's text nodes and its ``title``/``aria-label`` attributes, less what is data rather than
interface: ``code``, ``pre``, ``script``, ``style``, anything marked ``translate="no"`` (names, ids, XML) or
``lang="en"`` (the English message kept beside its translation, and stored English history)."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from tests.exchange.node.test_ui import Room, room, send  # noqa: F401 - fixture

_ = room
_SKIP = {"code", "pre", "script", "style", "textarea", "option"}
_VOID = {"meta", "link", "input", "br", "img", "hr", "path", "rect", "line"}
#: words that are the same in every language: protocol and algorithm names, the product, units
_ALLOWED = {"ptx", "SHA", "XML", "HTTP", "POST", "GET", "UTC", "URI", "API", "KeyInfo", "Reference", "C14N", "CA",
            "ECDSA", "RSA", "JSON", "English"}
_WORD = re.compile(r"[A-Za-z][A-Za-z']{2,}")
_IDENTIFIER = re.compile(r"[0-9/=_:@.-]|[a-z][A-Z]")


class _Visible(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[bool] = []  # skipped?
        self.texts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        skipped = bool(self.stack and self.stack[-1]) or tag in _SKIP or values.get("translate") == "no" \
            or (values.get("lang") == "en" and tag != "html") or "mono" in (values.get("class") or "").split()
        if not skipped:
            self.texts.extend(v for k, v in attrs if k in ("title", "aria-label") and v)
        if tag not in _VOID:
            self.stack.append(skipped)

    def handle_endtag(self, tag: str) -> None:
        if tag not in _VOID and self.stack:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        if not (self.stack and self.stack[-1]):
            self.texts.append(data)


def untranslated(html: str) -> list[str]:
    parser = _Visible()
    parser.feed(html)
    found = []
    for text in parser.texts:
        outside, previous = text, None
        while outside != previous:  # translations nest (a translated status inside a translated sentence)
            previous, outside = outside, re.sub(r"⟦[^⟦⟧]*⟧", " ", outside)
        for token in outside.split():
            core = token.strip("()[]{},.;:·!?\"'…")
            if _IDENTIFIER.search(core) or core.isupper():
                continue  # an id, a path, a code, a URL, an element name, a digest: data, the same in every language
            for word in _WORD.findall(core):
                if word not in _ALLOWED:
                    found.append(f"{word!r} in {text.strip()[:80]!r}")
    return found


async def test_no_english_escapes_the_catalogue_on_any_page(room: Room) -> None:
    assert room.gw is not None
    good = await send(room.aa)
    bad = await send(room.aa, tamper="on")
    await room.deliver()
    good_id, bad_id = (r.headers["location"].rsplit("/", 1)[1] for r in (good, bad))
    pages = {
        "gateway list": (room.gw, "/ui"), "gateway message": (room.gw, f"/ui/messages/{good_id}"),
        "gateway rejected": (room.gw, f"/ui/messages/{bad_id}"), "gateway audit": (room.gw, "/ui/audit"),
        "gateway 404": (room.gw, "/ui/messages/nope"),
        "AA home": (room.aa, "/ui"), "AA issue": (room.aa, "/ui/issue"), "AA sent": (room.aa, f"/ui/outbox/{good_id}"),
        "AA sent rejected": (room.aa, f"/ui/outbox/{bad_id}"), "BB home": (room.bb, "/ui"),
        "BB received": (room.bb, f"/ui/inbox/{good_id}"), "BB 404": (room.bb, "/ui/inbox/nope"),
    }
    problems = {}
    for name, (client, path) in pages.items():
        page = await client.get(path, params={"lang": "qps"})
        assert page.status_code in (200, 404), (name, page.status_code)
        assert "⟦" in page.text, name
        if found := untranslated(page.text):
            problems[name] = found
    login = await room.gw.post("/ui/login", params={"lang": "qps"}, data={"token": "wrong", "next": "/ui"},
                               headers={"Origin": "http://gateway.ui",
                                        "Content-Type": "application/x-www-form-urlencoded"})
    assert login.status_code == 401 and 'id="login-form"' in login.text
    if found := untranslated(login.text):
        problems["gateway login"] = found
    assert not problems, "\n".join(f"{name}: {', '.join(found[:12])}" for name, found in problems.items())


async def test_the_detector_sees_english(room: Room) -> None:
    """The same page in English is full of words the detector reports: it does not pass by seeing nothing."""
    assert room.gw is not None
    sent = await send(room.aa)
    await room.deliver()
    message_id = sent.headers["location"].rsplit("/", 1)[1]
    english = (await room.gw.get(f"/ui/messages/{message_id}", params={"lang": "en"})).text
    assert len(untranslated(english)) > 50
