"""Languages: how one is chosen (``--lang``, ``PTX_LANG``, ``LC_ALL``/``LANG``, ``Accept-Language``), the context
variable that keeps concurrent requests apart, the pseudo-locale, and the catalogues kept in step with the code."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from exchange import _i18n
from exchange._i18n import (
    DOMAIN,
    LANGUAGES,
    choose,
    from_accept_language,
    from_environment,
    gettext,
    normalise,
    po_path,
    pseudo,
    using,
)

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("value", "expected"), [
    ("zh_CN.UTF-8", "zh"), ("zh-Hans", "zh"), ("ru_RU.UTF-8", "ru"), ("EN", "en"), ("C.UTF-8", "en"),
    ("POSIX", "en"), ("fr_FR.UTF-8", None), ("", None), (None, None), ("qps", "qps"),
])
def test_normalise(value: str | None, expected: str | None) -> None:
    assert normalise(value) == expected


def test_environment_order() -> None:
    assert from_environment({}) == "en"
    assert from_environment({"LANG": "ru_RU.UTF-8"}) == "ru"
    assert from_environment({"LANG": "ru_RU.UTF-8", "LC_ALL": "zh_CN.UTF-8"}) == "zh"
    assert from_environment({"LANG": "zh_CN.UTF-8", "LC_ALL": "C.UTF-8"}) == "en"  # LC_ALL decides, even as C
    assert from_environment({"LANG": "fr_FR.UTF-8"}) == "en"
    assert from_environment({"LANG": "zh_CN.UTF-8", "PTX_LANG": "ru"}) == "ru"
    assert from_environment({"LANG": "zh_CN.UTF-8", "PTX_LANG": "xx"}) == "zh"  # an unknown PTX_LANG is ignored
    assert choose("zh", {"PTX_LANG": "ru"}) == "zh"  # --lang beats everything


def test_accept_language() -> None:
    assert from_accept_language("zh-CN,zh;q=0.9,en;q=0.8") == "zh"
    assert from_accept_language("fr-FR,ru;q=0.5,en;q=0.4") == "ru"
    assert from_accept_language("en;q=0.2, zh;q=0.9") == "zh"
    assert from_accept_language("de, fr") is None
    assert from_accept_language("qps, ru;q=0.1") == "ru"  # the pseudo-locale is never negotiated
    assert from_accept_language("ru;q=0, zh;q=0.1") == "zh"
    assert from_accept_language(None) is None


def test_the_language_is_per_context() -> None:
    async def speak(language: str) -> str:
        with using(language):
            await asyncio.sleep(0.01)  # the other task runs meanwhile in its own language
            return gettext("Large text")

    async def both() -> list[str]:
        return list(await asyncio.gather(speak("zh"), speak("ru"), speak("en")))

    zh, ru, en = asyncio.run(both())
    assert en == "Large text" and zh != en and ru != en and zh != ru
    assert _i18n.current() == "en"


def test_pseudo_keeps_placeholders_tags_and_markup() -> None:
    text = pseudo("Signed receipt from {country}: %(status)s <code>ptx</code> [bold]OK[/bold] &amp; %d")
    assert text.startswith("⟦") and text.endswith("⟧")
    for kept in ("{country}", "%(status)s", "<code>", "</code>", "[bold]", "[/bold]", "&amp;", "%d"):
        assert kept in text
    assert "Signed" not in text and "Šígñéd" in text


def catalogue(language: str) -> dict[tuple[str | None, str], object]:
    with po_path(language).open("rb") as source:
        return {(m.context, m.id): m for m in read_po(source, locale=language, domain=DOMAIN) if m.id}


def test_the_catalogues_hold_everything_the_code_asks_for() -> None:
    """Every msgid in the code and templates (and every code and status) is in the template and in each .po: after
    adding a string or a code, run ``python -m exchange._i18n extract`` and translate the new entries. (Entries no
    longer asked for are dropped by the next extract; they never fail a run.)"""
    wanted = {(m.context, m.id) for m in _i18n.extract() if m.id}  # type: ignore[attr-defined]
    with (_i18n.LOCALE_DIR / f"{DOMAIN}.pot").open("rb") as source:
        template = {(m.context, m.id) for m in read_po(source) if m.id}
    assert not wanted - template, (f"exchange/locale/ptx.pot lacks {sorted(map(str, wanted - template))[:5]}: "
                                   "python -m exchange._i18n extract")
    for language in LANGUAGES:
        held = set(catalogue(language))
        assert not wanted - held, f"{language}: missing {sorted(map(str, wanted - held))[:5]}"


def test_cli_lang_option_and_environment() -> None:
    def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "exchange.cli", *args], capture_output=True, text=True,
                              env={"PATH": "/usr/bin:/bin", **env}, timeout=60, cwd=REPO)

    bad = run("--lang", "fr", "schemas", "list", env={})
    assert bad.returncode == 2 and "en, zh, ru" in bad.stderr
    assert run("--lang", "zh", "schemas", "list", env={}).returncode == 0


def test_cli_errors_keep_the_code_line_and_add_the_message(tmp_path: Path) -> None:
    bad = tmp_path / "bad.xml"
    bad.write_text("<x")
    command = [sys.executable, "-m", "exchange.cli", "inspect", str(bad)]
    english = subprocess.run(command, capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"}, timeout=60,
                             cwd=REPO)
    chinese = subprocess.run(command, capture_output=True, text=True, timeout=60, cwd=REPO,
                             env={"PATH": "/usr/bin:/bin", "LANG": "zh_CN.UTF-8"})
    russian = subprocess.run([*command[:3], "--lang", "ru", *command[3:]], capture_output=True, text=True,
                             timeout=60, cwd=REPO, env={"PATH": "/usr/bin:/bin", "PTX_LANG": "zh"})
    assert english.returncode == chinese.returncode == russian.returncode == 2
    first = english.stderr.splitlines()
    assert len(first) == 1 and first[0].startswith("ptx: XML-MALFORMED: ")
    assert chinese.stderr.splitlines() == [first[0], "     输入不是格式正确的 XML"]
    assert russian.stderr.splitlines() == [first[0], "     входные данные не являются корректным XML"]
