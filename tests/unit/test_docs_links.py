"""The docs point at things that exist: every relative markdown link in README.md,
plugins/README.md and docs/*.md names an existing file (and, with `#anchor`, a heading of the
markdown file it names); every `make` target and `sdk-campaigns` command shown in their code
exists; docs/metrics.md's tables are the ones in campaign/metrics.py's docstring."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

FENCE = re.compile(r"^\s*(```|~~~)")
INLINE_CODE = re.compile(r"(`+)(.+?)\1")
# [text](target) and ![alt](target); the target may carry a "title"
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def doc_files() -> list[Path]:
    return [ROOT / "README.md", ROOT / "plugins" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def prose_and_code(text: str) -> tuple[list[tuple[int, str]], list[str]]:
    """(line number, prose line without inline code) pairs, and every piece of code: fenced
    blocks' lines and inline code spans."""
    prose, code, fenced = [], [], None
    for number, line in enumerate(text.splitlines(), 1):
        if match := FENCE.match(line):
            fenced = None if fenced == match.group(1) else (fenced or match.group(1))
            continue
        if fenced:
            code.append(line)
            continue
        code.extend(m.group(2) for m in INLINE_CODE.finditer(line))
        prose.append((number, INLINE_CODE.sub("", line)))
    return prose, code


def heading_anchors(markdown: Path) -> set[str]:
    """GitHub's anchors for a file's headings: lower case, punctuation dropped, spaces to '-'."""
    text = markdown.read_text(encoding="utf-8")
    lines = text.splitlines()
    anchors: set[str] = set()
    for number, _ in prose_and_code(text)[0]:  # headings outside code blocks
        if heading := re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", lines[number - 1]):
            slug = re.sub(r"[^\w\- ]", "", heading.group(1).lower()).replace(" ", "-")
            anchor, n = slug, 1
            while anchor in anchors:  # GitHub numbers repeated headings: slug, slug-1, slug-2 ...
                anchor, n = f"{slug}-{n}", n + 1
            anchors.add(anchor)
    return anchors


def broken_links(markdown: Path) -> list[str]:
    """Every relative link of `markdown` whose file (or heading) does not exist, as 'line: target'."""
    prose, _ = prose_and_code(markdown.read_text(encoding="utf-8"))
    broken = []
    for number, line in prose:
        for target in LINK.findall(line):
            if not target or SCHEME.match(target) or target.startswith("//"):
                continue
            path, _, anchor = target.partition("#")
            resolved = (markdown.parent / path).resolve() if path else markdown
            if path.startswith("/") or not resolved.exists():
                broken.append(f"{number}: {target} (no such file)")
            elif anchor and resolved.suffix == ".md" and anchor not in heading_anchors(resolved):
                broken.append(f"{number}: {target} (no heading #{anchor} in {resolved.name})")
    return broken


@pytest.mark.parametrize("markdown", doc_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(markdown):
    assert broken_links(markdown) == []


def test_a_broken_link_is_reported(tmp_path):
    (tmp_path / "there.md").write_text("# Some title\n\n## A `code` heading\n")
    (tmp_path / "page.md").write_text(
        "# Page\n\n"
        "[ok](there.md) [ok too](there.md#some-title) [code](there.md#a-code-heading) [self](#page)\n"
        "[gone](missing.md) ![gone](img/missing.png) [bad anchor](there.md#nope) [web](https://x.org/y)\n"
        "`[in code](missing-too.md)`\n"
        "```\n[fenced](missing-three.md)\n```\n"
    )
    assert broken_links(tmp_path / "page.md") == [
        "4: missing.md (no such file)",
        "4: img/missing.png (no such file)",
        "4: there.md#nope (no heading #nope in there.md)",
    ]


def make_targets() -> set[str]:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    return set(re.findall(r"^([A-Za-z][\w-]*)\s*:(?!=)", makefile, flags=re.MULTILINE))


def commands_shown(pattern: str) -> set[tuple[str, str]]:
    """(file, match) for every match of `pattern` in the docs' code (fenced or inline)."""
    found = set()
    for markdown in doc_files():
        _, code = prose_and_code(markdown.read_text(encoding="utf-8"))
        for piece in code:
            found.update((markdown.name, m) for m in re.findall(pattern, piece))
    return found


def test_every_make_target_shown_exists():
    shown = commands_shown(r"(?:^|[\s;&(])make\s+([a-z][\w-]*)")
    assert shown, "no `make` command found in the docs: the pattern is wrong"
    assert sorted((f, t) for f, t in shown if t not in make_targets()) == []


def test_every_sdk_campaigns_command_shown_exists(capsys):
    from sdk_campaigns import cli

    shown = commands_shown(r"(?:^|[\s;&(])sdk-campaigns((?:\s+[a-z][a-z-]*)+)(?=\s|$|\|)")
    assert shown, "no `sdk-campaigns` command found in the docs: the pattern is wrong"
    unknown = []
    for where, words in sorted(shown):
        with pytest.raises(SystemExit) as exit_:
            cli.main([*words.split(), "--help"])
        if exit_.value.code != 0:
            unknown.append((where, f"sdk-campaigns{words}"))
    capsys.readouterr()
    assert unknown == []


def table_rows(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip().startswith("|")]


def test_metrics_doc_tables_are_the_module_docstrings():
    from sdk_campaigns.campaign import metrics

    docs = (ROOT / "docs" / "metrics.md").read_text(encoding="utf-8")
    assert table_rows(docs) == table_rows(metrics.__doc__)
