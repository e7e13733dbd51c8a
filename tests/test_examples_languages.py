"""The exercises' narration in Chinese and Russian: ``PTX_LANG=zh bash examples/NN-.../run.sh`` prints every step,
explanation and ``=>`` line from the exercise's ``messages.<lang>.po`` (and ``examples/locale``'s for what
``_common.sh`` prints); the commands, their output and the outcomes checked stay as they are.

An exercise's catalogue, where there is one, is complete and current: one translated, non-fuzzy entry for each of
its narrated lines (``exchange._i18n.narration_lines``), placeholders (``%s``, and ``{NAME}``, which ``_common.sh``
fills from the shell variable NAME), codes and numbers kept. Each translated exercise runs in both languages, prints
every narrated line in that language and still shows every outcome ``tests/test_examples.py`` expects of it (codes,
ids, statuses and the commands' own output do not change with the narration's language)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from exchange._i18n import COMMON_NARRATION, narration_lines
from exchange.testing.processes import free_port
from tests.support.needs import require
from tests.test_examples import EXPECTED, NEEDS_CORPUS, _node_ports, _run

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
_KEPT = re.compile(r"%[sd]|\{[A-Za-z_][A-Za-z0-9_]*\}|\b[A-Z][A-Z0-9]*(?:[-_][A-Z0-9]+)+\b|\d+")
_FILLED = re.compile(r"\\\{[A-Za-z_][A-Za-z0-9_]*\\\}")  # a {NAME} in a re.escape()d line
CATALOGUES = sorted(EXAMPLES.glob("*/messages.*.po"))


def entries(path: Path) -> dict[str, str]:
    with path.open("rb") as source:
        catalog = read_po(source)
    assert not [m.id for m in catalog if m.id and m.fuzzy], f"{path}: fuzzy entries are never used"
    return {str(m.id): m.string for m in catalog if m.id}  # type: ignore[misc]


def common_narration() -> set[str]:
    """What ``_common.sh`` itself prints through ``_t``: the literal lines it looks up (its printf formats)."""
    script = (EXAMPLES / "_common.sh").read_text(encoding="utf-8")
    found = {text for quoted in re.findall(r"""\$\(_t ('[^']*'|"[^"]*")\)""", script) if "$" not in (text := quoted[1:-1])}
    assert set(COMMON_NARRATION) <= found, set(COMMON_NARRATION) - found
    return found


@pytest.mark.parametrize("path", CATALOGUES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_each_exercise_catalogue_is_complete_and_current(path: Path) -> None:
    wanted = common_narration() if path.parent.name == "locale" else set(narration_lines(path.parent / "run.sh"))
    held = entries(path)
    assert set(held) == wanted, f"missing {sorted(wanted - set(held))[:3]}, stale {sorted(set(held) - wanted)[:3]}"
    untranslated = [english for english, text in held.items() if not text]
    assert not untranslated, untranslated[:3]
    broken = [english for english, text in held.items() if sorted(_KEPT.findall(text)) != sorted(_KEPT.findall(english))]
    assert not broken, broken[:3]


def test_there_is_a_shared_catalogue_for_each_language() -> None:
    assert {p.name for p in (EXAMPLES / "locale").glob("messages.*.po")} == {"messages.zh.po", "messages.ru.po"}


TRANSLATED = sorted(path.parent.name for path in EXAMPLES.glob("*/messages.zh.po") if path.parent.name != "locale")
DONE = {"zh": "完成：练习 {n} 的结果符合预期。", "ru": "Готово: упражнение {n} прошло как ожидалось."}


def shown(line: str, output: str) -> bool:
    """Whether the narrated ``line`` was printed in ``output``, its {NAME} placeholders filled with anything."""
    return re.search(_FILLED.sub(".+?", re.escape(line)), output) is not None


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["zh", "ru"])
@pytest.mark.parametrize("exercise", TRANSLATED)
def test_translated_exercises_narrate_in_chinese_and_russian(tmp_path: Path, exercise: str, lang: str) -> None:
    if exercise in NEEDS_CORPUS:
        require("corpus")
    # Every exercise gets ports of its own, not only those with a gateway: exercise 17 starts a node on its
    # default port otherwise, and its zh and ru runs in two workers met there (one BB answered the other's kit).
    extra = {"PTX_LANG": lang, "PTX_EXAMPLE_GATEWAY_PORT": str(free_port()),
             "PTX_EXAMPLE_NODE_PORT": str(_node_ports())}
    result = _run(EXAMPLES / exercise / "run.sh", tmp_path, extra_env=extra)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr
    assert DONE[lang].format(n=exercise[:2]) in result.stdout
    narrated = narration_lines(EXAMPLES / exercise / "run.sh")
    english = [line for line in narrated if shown(line, result.stdout)]
    assert not english, english
    outcomes = [text for text in EXPECTED[exercise] if not any(text in line for line in narrated)]
    missing = [text for text in outcomes if text not in result.stdout]
    assert outcomes and not missing, missing


@pytest.mark.parametrize("lang", ["zh", "ru"])
def test_the_trainers_guide_in_chinese_and_russian_lists_every_exercise(lang: str) -> None:
    guide = (EXAMPLES / f"README.{lang}.md").read_text(encoding="utf-8")
    exercises = sorted(path.parent.name for path in EXAMPLES.glob("[0-9]*/run.sh"))
    assert exercises and all(f"]({name}/)" in guide for name in exercises)
    assert f"PTX_LANG={lang}" in guide and "README.md" in guide
    assert f"README.{lang}.md" in (EXAMPLES / "README.md").read_text(encoding="utf-8")


EXERCISES = sorted(path.parent.name for path in EXAMPLES.glob("[0-9]*/README.md"))
HEADINGS = {"zh": ("## 目标", "## 运行", "## 预期输出", "## 试一试"), "ru": ("## Цель", "## Запуск", "## Ожидаемый вывод",
                                                                          "## Попробуйте")}
SWITCH = {"zh": "[English](README.md) · 中文 · [Русский](README.ru.md)",
          "ru": "[English](README.md) · [中文](README.zh.md) · Русский"}


@pytest.mark.parametrize("lang", ["zh", "ru"])
@pytest.mark.parametrize("exercise", [name for name in EXERCISES if (EXAMPLES / name / "README.zh.md").exists()])
def test_each_exercise_readme_in_chinese_and_russian(exercise: str, lang: str) -> None:
    """The exercise's README in that language: the same sections and commands as the English one, its expected output
    with the narration as ``PTX_LANG`` prints it (no narrated English line left), linked from the trainer's guide."""
    english = (EXAMPLES / exercise / "README.md").read_text(encoding="utf-8")
    readme = (EXAMPLES / exercise / f"README.{lang}.md").read_text(encoding="utf-8")
    assert readme.startswith(f"# {exercise[:2]} ") and SWITCH[lang] in readme
    assert all(heading in readme for heading in HEADINGS[lang])
    assert readme.count("\n## ") == english.count("\n## ") and readme.count("```") == english.count("```")
    assert f"PTX_LANG={lang} examples/{exercise}/run.sh" in readme
    codes = set(re.findall(r"\b[A-Z][A-Z0-9]*(?:-[A-Z0-9]+)+\b", english))
    assert codes <= set(re.findall(r"\b[A-Z][A-Z0-9]*(?:-[A-Z0-9]+)+\b", readme)), codes
    table = entries(EXAMPLES / exercise / f"messages.{lang}.po")
    left = [line for line in narration_lines(EXAMPLES / exercise / "run.sh")
            if table[line] != line and len(line) > 12 and shown(line, readme)]
    assert not left, left
    guide = (EXAMPLES / f"README.{lang}.md").read_text(encoding="utf-8")
    assert f"]({exercise}/README.{lang}.md)" in guide
