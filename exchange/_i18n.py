"""The languages people read: English, Chinese (simplified) and Russian, through gettext catalogues.

Everything shown to people (the dashboards, the demo's narration and table, the human message of each finding
code, the CLI's tables and summaries) goes through :func:`gettext` (alias ``_``), :func:`pgettext` or
:func:`ngettext`. Codes, ids, JSON keys and statuses never change with the language: the English ``message`` stays
in JSON, and a localised text is added beside it only where people read it.

Catalogues::

    exchange/locale/ptx.pot                      the template: every msgid (regenerate: python -m exchange._i18n extract)
    exchange/locale/{en,zh,ru}/LC_MESSAGES/ptx.po the sources, in the repository and in the wheel

The ``.po`` sources are read directly with Babel when a language is first used and compiled in memory (one
parse of a few hundred entries, some milliseconds); there is no ``.mo`` build step to forget, an editable
install sees a corrected translation at once, and nothing is fetched. English needs no catalogue at all (the
msgids are the English text), so the default path costs nothing. Fuzzy entries are never used.

The human message of a finding code is keyed by the code itself (``msgctxt "XML-TOO-LARGE"``, ``msgid`` its
English title), so two codes with the same title stay separate and a changed English title is a missing entry.

Choosing a language (:func:`choose`): an explicit choice (``--lang``, a page's switch), then ``PTX_LANG``, then the
first of ``LC_ALL``, ``LC_MESSAGES``, ``LANG`` that is set (``zh_CN.UTF-8`` is ``zh``; ``C`` or an unsupported
language is English). In the browser: ``?lang=``, then the ``ptx_lang`` cookie, then ``Accept-Language``.

The current language is a context variable (:func:`use`), so concurrent requests each see their own. The
pseudo-locale ``qps`` (not offered to people) wraps every translated string in ``⟦…⟧`` with its letters accented
and its placeholders intact: a test renders pages and the demo in it and fails on English that was not translated.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar, Token
from functools import lru_cache
from gettext import NullTranslations
from pathlib import Path

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "ptx"
DEFAULT = "en"
#: The languages offered to people, with their own names (never translated).
LANGUAGES: Mapping[str, str] = {"en": "English", "zh": "中文", "ru": "Русский"}
#: The pseudo-locale for tests.
PSEUDO = "qps"
#: What ``<html lang>`` says, so the browser picks the right fonts (simplified Chinese glyphs).
HTML_LANG: Mapping[str, str] = {"en": "en", "zh": "zh-Hans", "ru": "ru", PSEUDO: "en"}

_current: ContextVar[str] = ContextVar("ptx_language", default=DEFAULT)


def normalise(value: str | None) -> str | None:
    """``zh_CN.UTF-8``, ``zh-Hans``, ``ru-RU``, ``EN`` -> ``zh``, ``zh``, ``ru``, ``en``; unknown -> None."""
    if not value:
        return None
    base = re.split(r"[_.@-]", value.strip().lower(), maxsplit=1)[0]
    if base in LANGUAGES or base == PSEUDO:
        return base
    if base in {"c", "posix"}:
        return DEFAULT
    return None


def from_environment(environ: Mapping[str, str] | None = None) -> str:
    """``PTX_LANG``, then the first of ``LC_ALL``, ``LC_MESSAGES``, ``LANG`` that is set; English otherwise."""
    env = os.environ if environ is None else environ
    chosen = normalise(env.get("PTX_LANG"))
    if chosen:
        return chosen
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        if env.get(name):
            return normalise(env[name]) or DEFAULT
    return DEFAULT


def from_accept_language(header: str | None) -> str | None:
    """The best supported language of an ``Accept-Language`` header (q-values honoured), or None."""
    if not header:
        return None
    ranked: list[tuple[float, int, str]] = []
    for index, item in enumerate(header.split(",")):
        name, _, params = item.strip().partition(";")
        quality = 1.0
        match = re.search(r"q\s*=\s*([0-9.]+)", params)
        if match:
            try:
                quality = float(match.group(1))
            except ValueError:
                quality = 0.0
        language = normalise(name)
        if language and language != PSEUDO and quality > 0:
            ranked.append((-quality, index, language))
    return min(ranked)[2] if ranked else None


def choose(explicit: str | None = None, environ: Mapping[str, str] | None = None) -> str:
    """The language to use: ``explicit`` if it names one, otherwise :func:`from_environment`."""
    return normalise(explicit) or from_environment(environ)


def current() -> str:
    """The language of this context (task, thread or request)."""
    return _current.get()


def use(language: str) -> Token[str]:
    """Make ``language`` current in this context; returns the token to reset it."""
    return _current.set(normalise(language) or DEFAULT)


def reset(token: Token[str]) -> None:
    """Undo :func:`use`."""
    _current.reset(token)


@contextmanager
def using(language: str) -> Iterator[None]:
    """``with using("zh"):`` the block runs in that language."""
    token = use(language)
    try:
        yield
    finally:
        _current.reset(token)


# --- catalogues -----------------------------------------------------------------------------------------------

_PLACEHOLDER = re.compile(r"(\{[^{}]*\}|%\([a-z_]+\)[sd]|%[sd]|<[^<>]+>|&[a-z]+;|\[/?[a-z ]+\])")
_ACCENTS = str.maketrans("AEIOUYaeiouycnsCNS", "ÁÉÍÓÚÝáéíóúýçñšÇÑŠ")


def pseudo(text: str) -> str:
    """``Signed receipt from {country}`` -> ``⟦Šígñéd réçéípt fróm {country}⟧``: placeholders, tags, entities and
    Rich markup intact."""
    parts = _PLACEHOLDER.split(text)
    return "⟦" + "".join(part if index % 2 else part.translate(_ACCENTS) for index, part in enumerate(parts)) + "⟧"


class _Pseudo(NullTranslations):
    def gettext(self, message: str) -> str:
        return pseudo(message)

    def ngettext(self, msgid1: str, msgid2: str, n: int) -> str:
        return pseudo(msgid1 if n == 1 else msgid2)

    def pgettext(self, context: str, message: str) -> str:
        return pseudo(message)

    def npgettext(self, context: str, msgid1: str, msgid2: str, n: int) -> str:
        return pseudo(msgid1 if n == 1 else msgid2)


def po_path(language: str) -> Path:
    """The ``.po`` source of ``language``."""
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


@lru_cache(maxsize=8)
def translations(language: str) -> NullTranslations:
    """The compiled catalogue of ``language`` (read from its ``.po`` once per process)."""
    if language == PSEUDO:
        return _Pseudo()
    if language == DEFAULT or language not in LANGUAGES:
        return NullTranslations()
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po
    from babel.support import Translations

    with po_path(language).open("rb") as source:
        catalog = read_po(source, locale=language, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


def gettext(message: str) -> str:
    """``message`` (English, the msgid) in the current language; itself when the catalogue lacks it."""
    return translations(_current.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The singular or plural form for ``n``, in the current language (Russian has three)."""
    return translations(_current.get()).ngettext(singular, plural, n)


def pgettext(context: str, message: str) -> str:
    """``message`` in the current language, as the entry of ``context`` (a code, or ``status``)."""
    return translations(_current.get()).pgettext(context, message)


_ = gettext


def code_message(code: object, title: str | None = None) -> str:
    """The human message of a finding code in the current language (its English title when untranslated)."""
    from exchange._errors import Code

    try:
        member = code if isinstance(code, Code) else Code(str(code))  # type: ignore[call-arg]
    except ValueError:
        return title or ""  # a code from elsewhere (another system's receipt): no catalogue entry
    return pgettext(member.value, title or member.title)


#: Every status word the pages show (the gateway's message statuses, a node's own, a check's, a verdict's, a
#: finding's severity, a delivery attempt's outcome, a receipt's verdict);
#: people read :func:`status_label`, machines the status itself.
STATUSES = (
    "NEW", "SUBMIT_FAILED", "RECEIVED", "ACCEPTED", "REJECTED", "DELIVERING", "WAITING_FOR_RETRY", "DELIVERED",
    "ACKNOWLEDGED", "RECEIVER_REJECTED", "FAILED", "passed", "failed", "skipped", "valid", "invalid",
    "error", "warning", "info",
    "delivered", "acknowledged", "receiver_rejected", "retryable", "permanent", "abandoned", "received", "rejected",
)


def status_label(status: object) -> str:
    """A message status (``ACKNOWLEDGED``) as people read it; English shows the status itself."""
    value = str(getattr(status, "value", status))
    return pgettext("status", value)


# --- the exercises' narration --------------------------------------------------------------------------------


def narration(folders: list[Path], language: str) -> dict[str, str]:
    """The translated narration lines of a workshop exercise: ``messages.<language>.po`` in each folder (the shared
    ``examples/locale`` one, then the exercise's own), English line -> translation; fuzzy or empty entries left out
    (the English line is shown). Empty for English."""
    if language not in LANGUAGES or language == DEFAULT:
        return {}
    from babel.messages.pofile import read_po

    table: dict[str, str] = {}
    for folder in folders:
        path = folder / f"messages.{language}.po"
        if path.is_file():
            with path.open("rb") as source:
                for message in read_po(source, locale=language):
                    if message.id and isinstance(message.string, str) and message.string and not message.fuzzy:
                        table[str(message.id)] = message.string
    return table


_NARRATED = {"step": "joined", "finish": "joined", "say": "each", "saw": "each", "begin": "title"}
#: what examples/_common.sh itself prints (its printf formats)
COMMON_NARRATION = ("=== Exercise %s: %s ===", "CPTA: %s", "Work folder: %s (the commands below run there)",
                    "(Enter for step %d)", "Step %d. %s", "Done: exercise %s went as expected. %s",
                    "(copied %s into the work folder)", "(edit %s: '%s' becomes '%s')")


def narration_lines(script: Path) -> list[str]:
    """The lines an exercise's ``run.sh`` narrates (the arguments of ``step``, ``say``, ``saw``, ``begin`` and
    ``finish``), in order, as ``_common.sh`` looks them up."""
    import shlex

    found: list[str] = []
    logical = script.read_text(encoding="utf-8").replace("\\\n", " ").splitlines()
    for line in logical:
        words = line.strip().split(maxsplit=1)
        if not words or words[0] not in _NARRATED:
            continue
        try:
            args = shlex.split(line.strip())[1:]
        except ValueError:
            continue
        kind = _NARRATED[words[0]]
        if kind == "joined":
            found.append(" ".join(args))
        elif kind == "each":
            found.extend(args)
        else:
            found.extend(args[1:3])
    return [text for text in found if text and "$" not in text]


# --- maintenance: python -m exchange._i18n extract ----------------------------------------------------------

_SOURCES = ("exchange", "gateway")
_FIXED = __import__("datetime").datetime(2026, 12, 1, tzinfo=__import__("datetime").UTC)  # stable headers: no diff noise


def extract(root: Path | None = None) -> object:
    """Every msgid of the project as a Babel catalogue: Python ``_``/``gettext``/``pgettext``/``ngettext`` calls,
    the Jinja templates, every code's title (context: the code) and every status (context ``status``)."""
    from babel.messages.catalog import Catalog
    from babel.messages.extract import extract_from_dir

    from exchange._errors import Code

    base = root or Path(__file__).resolve().parent.parent
    catalog = Catalog(project="ptx", domain=DOMAIN, charset="utf-8", fuzzy=False, creation_date=_FIXED)
    method_map = [("**/locale/**", "ignore"), ("**.py", "python"), ("**/templates/**.html", "jinja2")]
    options = {"**/templates/**.html": {"extensions": "jinja2.ext.i18n", "newstyle_gettext": "true",
                                         "trimmed": "true"}}
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "pgettext": ((1, "c"), 2), "N_": None}
    for folder in _SOURCES:
        for filename, lineno, message, comments, context in extract_from_dir(
                base / folder, method_map, options, keywords=keywords, comment_tags=("i18n:",)):
            catalog.add(message, None, [(f"{folder}/{filename}", lineno)], auto_comments=comments,
                        context=context)
    for code in Code:
        catalog.add(code.title, None, [("exchange/_errors.py", 0)], context=code.value)
    for status in STATUSES:
        catalog.add(status, None, [("exchange/_i18n.py", 0)], context="status")
    return catalog


def N_(message: str) -> str:  # noqa: N802 - the gettext convention for a marked, not yet translated, string
    """Mark a string for extraction where it is defined; translate it with :func:`gettext` where it is shown."""
    return message


def _write_catalogues() -> None:
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import read_po, write_po

    template = extract()
    assert isinstance(template, Catalog)
    LOCALE_DIR.mkdir(parents=True, exist_ok=True)
    with (LOCALE_DIR / f"{DOMAIN}.pot").open("wb") as out:
        write_po(out, template, omit_header=True, sort_output=True, no_location=True, width=120)
    for language in LANGUAGES:
        path = po_path(language)
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            with path.open("rb") as source:
                catalog = read_po(source, locale=language, domain=DOMAIN)
            catalog.update(template, no_fuzzy_matching=True)
        else:
            catalog = Catalog(locale=language, domain=DOMAIN, project="ptx", version="", charset="utf-8",
                              fuzzy=False, creation_date=_FIXED, revision_date=_FIXED,
                              copyright_holder="the ptx authors", msgid_bugs_address="",
                              last_translator="the ptx authors", language_team=LANGUAGES[language])
            for message in template:
                if message.id:
                    catalog.add(message.id, None, context=message.context)
        catalog.obsolete.clear()
        with path.open("wb") as out:
            write_po(out, catalog, omit_header=False, sort_output=True, no_location=True, width=120,
                     ignore_obsolete=True)


if __name__ == "__main__":
    import sys

    if sys.argv[1:] == ["extract"]:
        _write_catalogues()
    else:
        print("usage: python -m exchange._i18n extract", file=sys.stderr)
        sys.exit(2)


__all__ = [
    "DEFAULT",
    "HTML_LANG",
    "LANGUAGES",
    "LOCALE_DIR",
    "N_",
    "PSEUDO",
    "STATUSES",
    "choose",
    "code_message",
    "current",
    "extract",
    "from_accept_language",
    "from_environment",
    "gettext",
    "ngettext",
    "narration",
    "narration_lines",
    "normalise",
    "pgettext",
    "pseudo",
    "reset",
    "status_label",
    "translations",
    "use",
    "using",
]
