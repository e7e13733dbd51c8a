"""The catalogues are complete and faithful: every finding code has its human message in every language, no entry
is untranslated or fuzzy, and what must survive translation does (placeholders, markup, codes, numbers)."""

from __future__ import annotations

import re

import pytest
from babel.messages.catalog import Message
from babel.messages.pofile import read_po

from exchange import _i18n
from exchange._errors import Code
from exchange._i18n import DOMAIN, po_path, using

TRANSLATED = ("zh", "ru")
#: What must appear in a translation exactly as in the English: placeholders, markup, entities, code-like tokens
#: (SIG-DIGEST-MISMATCH, PTX_NODE_DEMO, ENV-PARTY-01), numbers.
_KEPT = re.compile(
    r"\{[^{}]*\}|%\([a-z_]+\)[sd]|%[sd]|</?[a-z]+|&[a-z]+;|\[/?[a-z ]+\]"
    r"|\b[A-Z][A-Z0-9]*(?:[-_][A-Z0-9]+)+\b|\d+"
)


def messages(language: str) -> list[Message]:
    with po_path(language).open("rb") as source:
        return [m for m in read_po(source, locale=language, domain=DOMAIN) if m.id]


def kept(text: str) -> list[str]:
    return sorted(_KEPT.findall(text))


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_code_has_its_message(language: str) -> None:
    held = {m.context: m for m in messages(language) if m.context}
    lacking = [code.value for code in Code
               if code.value not in held or not held[code.value].string or held[code.value].id != code.title
               or held[code.value].fuzzy]
    assert not lacking, (f"{language}: no current translation for {lacking[:8]} "
                         "(python -m exchange._i18n extract, then translate the entries)")
    with using(language):
        for code in Code:
            assert _i18n.code_message(code) != code.title or code.title.isupper(), code


@pytest.mark.parametrize("language", TRANSLATED)
def test_no_entry_is_untranslated_or_fuzzy(language: str) -> None:
    untranslated = [m.id for m in messages(language) if not (m.string if isinstance(m.string, str) else all(m.string))]
    fuzzy = [m.id for m in messages(language) if m.fuzzy]
    assert not untranslated, f"{language}: {len(untranslated)} untranslated, e.g. {untranslated[:5]}"
    assert not fuzzy, f"{language}: fuzzy entries are never used: {fuzzy[:5]}"


@pytest.mark.parametrize("language", TRANSLATED)
def test_placeholders_markup_codes_and_numbers_survive(language: str) -> None:
    broken = []
    for m in messages(language):
        if m.context == "status":
            continue  # a status word's translation replaces the word itself
        singular = m.id if isinstance(m.id, str) else m.id[0]
        for string in ([m.string] if isinstance(m.string, str) else list(m.string)):
            if string and kept(string) != kept(singular):
                broken.append((singular[:60], kept(singular), kept(string)))
    assert not broken, f"{language}: {broken[:5]}"


def test_english_needs_no_translation() -> None:
    with using("en"):
        assert all(_i18n.code_message(code) == code.title for code in Code)
    with using("zh"):
        assert _i18n.code_message(Code.SIG_DIGEST_MISMATCH) == "已签名内容在签名后被更改"
        assert _i18n.status_label("ACKNOWLEDGED") == "已确认"
        assert _i18n.code_message("NOT-A-CODE") == ""  # another system's code: nothing to translate
    with using("ru"):
        assert _i18n.code_message(Code.TRUST_CERT_REVOKED) == "сертификат отозван"
