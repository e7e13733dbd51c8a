"""The dashboard's language: ``?lang=`` (remembered in a cookie), the cookie, ``Accept-Language``; a switch on
every page; codes, ids, statuses and JSON never change with it."""

from __future__ import annotations

import re
from typing import Any

from gateway._ui import UI
from tests.gateway.conftest import MessageFactory
from tests.gateway.test_ui import clock, gw, settings, submit  # noqa: F401 - fixtures

_ = (clock, settings)


def html_lang(page: str) -> str:
    found = re.search(r'<html lang="([^"]+)"', page)
    assert found
    return found.group(1)


async def test_query_cookie_and_accept_language(gw: Any) -> None:  # noqa: F811
    client, _ = gw
    assert html_lang((await client.get(UI)).text) == "en"
    assert html_lang((await client.get(UI, headers={"Accept-Language": "ru-RU,ru;q=0.9"})).text) == "ru"
    chosen = await client.get(UI, params={"lang": "zh"}, headers={"Accept-Language": "ru"})
    assert html_lang(chosen.text) == "zh-Hans"
    assert "ptx_lang=zh" in chosen.headers["set-cookie"] and "SameSite=Lax" in chosen.headers["set-cookie"]
    # remembered: the cookie beats Accept-Language on the next page
    again = await client.get(f"{UI}/audit", headers={"Accept-Language": "ru"})
    assert html_lang(again.text) == "zh-Hans"
    assert "set-cookie" not in again.headers
    client.cookies.clear()
    assert html_lang((await client.get(UI, params={"lang": "xx"})).text) == "en"


async def test_every_page_has_the_switch(gw: Any, make_message: MessageFactory) -> None:  # noqa: F811
    client, _ = gw
    message_id = await submit(client, make_message(message_id="msg-lang-00000001"), 202)
    for path in (UI, f"{UI}/audit", f"{UI}/messages/{message_id}", f"{UI}/messages/unknown-id"):
        page = (await client.get(path, params={"lang": "ru"})).text
        switch = re.search(r'<nav class="languages".*?</nav>', page, flags=re.DOTALL)
        assert switch, path
        assert re.findall(r'data-lang="(\w+)"', switch.group(0)) == ["en", "zh", "ru"]
        assert 'data-lang="ru" aria-current="true"' in switch.group(0)
        assert ">中文<" in switch.group(0) and ">Русский<" in switch.group(0)


async def test_the_api_does_not_change_with_the_language(gw: Any, make_message: MessageFactory) -> None:  # noqa: F811
    client, _ = gw
    answer = await client.post("/v1/messages", content=make_message(message_id="msg-lang-00000002"),
                               headers={"Content-Type": "application/xml", "Accept-Language": "zh",
                                        "Cookie": "ptx_lang=ru"}, params={"lang": "zh"})
    assert answer.status_code == 202
    body = answer.json()
    assert body["verdict"] == "ACCEPTED" and body["status"] in {"ACCEPTED", "DELIVERING", "DELIVERED"}
    assert {check["status"] for check in body["checks"]} <= {"passed", "skipped"}
