"""The README and docs/ pages: every relative link resolves inside the repository.

A page that links a moved file, a renamed section or a path outside the checkout is a
dead end for the reader; these tests catch it when the page or its target changes.
"""
from __future__ import annotations

import re
import sys
import unicodedata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

_FENCE = re.compile(r"^(```|~~~).*?^\1", re.DOTALL | re.MULTILINE)
_CODE_SPAN = re.compile(r"`[^`\n]*`")
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
#: [text](target) and ![alt](target), target without spaces, optional "title"
_LINK = re.compile(r"!?\[(?:[^\]\[]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)


def links(text: str) -> list[str]:
    """Link targets of a Markdown page, outside code blocks, code spans and comments."""
    for pattern in (_FENCE, _COMMENT, _CODE_SPAN):
        text = pattern.sub("", text)
    return _LINK.findall(text)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to '-'."""
    text = _CODE_SPAN.sub(lambda m: m.group(0)[1:-1], heading.strip()).lower()
    text = re.sub(r"[*_]{1,2}([^*_]+)[*_]{1,2}", r"\1", text)
    kept = "".join(c for c in text if c in " -_" or unicodedata.category(c)[0] in "LN")
    return kept.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """Anchors of a page's headings (repeats get GitHub's -1, -2 suffixes)."""
    seen: dict[str, int] = {}
    result = set()
    for line in _FENCE.sub("", page.read_text(encoding="utf-8")).splitlines():
        match = re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not match:
            continue
        base = slug(match.group(1))
        n = seen.get(base, 0)
        seen[base] = n + 1
        result.add(base if n == 0 else f"{base}-{n}")
    return result


def broken_links(page: Path) -> list[str]:
    """Every relative link of `page` that misses a file, leaves the repo or a heading."""
    problems = []
    for target in links(page.read_text(encoding="utf-8")):
        if _EXTERNAL.match(target):
            continue
        path_part, _, fragment = target.partition("#")
        resolved = (page.parent / path_part).resolve() if path_part else page
        if not resolved.is_relative_to(ROOT):
            problems.append(f"{target}: outside the repository")
        elif not resolved.exists():
            problems.append(f"{target}: no such file")
        elif fragment and resolved.suffix == ".md" and fragment not in anchors(resolved):
            problems.append(f"{target}: no heading '#{fragment}' in {resolved.name}")
    return problems


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(page):
    assert broken_links(page) == []


def test_checker_finds_broken_links(tmp_path, monkeypatch):
    """The checker itself: a missing file, a missing heading, an escape, code ignored."""
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    (tmp_path / "docs").mkdir()
    (tmp_path / "other.md").write_text("# Title `x`\n\n## Two: words, (here)\n")
    page = tmp_path / "docs" / "page.md"
    page.write_text(
        "[ok](../other.md#two-words-here) [ok](../other.md#title-x) [web](https://x.org/y)\n"
        "[missing](../nope.md) [heading](../other.md#three) [out](../../elsewhere.md)\n"
        "`[in code](../nope2.md)`\n```\n[fenced](../nope3.md)\n```\n[self](#nowhere)\n")
    assert broken_links(page) == [
        "../nope.md: no such file",
        "../other.md#three: no heading '#three' in other.md",
        "../../elsewhere.md: outside the repository",
        "#nowhere: no heading '#nowhere' in page.md",
    ]


def test_readme_is_a_short_front_door():
    assert len((ROOT / "README.md").read_text(encoding="utf-8").splitlines()) <= 250


def test_no_pointer_outside_the_repository():
    """Docs, code and tests cite papers and sources, never the workspace around the repo."""
    outside = re.compile("|".join(["shared/" + "reference", "shared/" + "DESIGN",
                                   r"\.\./" + "shared"]))
    files = [*PAGES, *ROOT.glob("explorer/**/*.py"), *ROOT.glob("explorer/data/*.csv"),
             *ROOT.glob("tests/**/*.py"), *ROOT.glob("notebooks/*.py"), ROOT / "Makefile"]
    hits = [f"{f.relative_to(ROOT)}:{n}" for f in files if f.is_file()
            for n, line in enumerate(f.read_text(encoding="utf-8").splitlines(), 1)
            if outside.search(line)]
    assert hits == []
