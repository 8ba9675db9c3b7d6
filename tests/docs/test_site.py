"""The README stays a front door and the documentation site stays whole: README.md is at most 150
lines, every relative link (and its ``#anchor``) in README.md, MODEL_CARDS.md and docs/ resolves, and
every page under docs/ is in the site's navigation.  The site itself is built by
``mkdocs build --strict`` in ``.ci/run`` (``make docs``)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)|!\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^(```|~~~).*?^\1", flags=re.S | re.M)
#: pages rendered by scripts/mkdocs_hooks.py, not files under docs/
GENERATED = {"zoo/cards"}


def _pages() -> list[Path]:
    return [ROOT / "README.md", ROOT / "MODEL_CARDS.md", *sorted(DOCS.rglob("*.md"))]


def _slug(title: str) -> str:
    """The anchor Python-Markdown's toc extension (mkdocs) and GitHub give a heading."""
    t = re.sub(r"`|\*\*|\*|\[|\]\([^)]*\)", "", title).strip().lower()
    t = re.sub(r"[^\w\- ]", "", t)
    return re.sub(r"[\s]+", "-", t)


def _anchors(page: Path) -> set[str]:
    text = FENCE.sub("", page.read_text())
    return {_slug(m.group(1)) for m in re.finditer(r"^#{1,6}\s+(.*?)\s*#*$", text, flags=re.M)}


def test_readme_is_at_most_150_lines():
    n = len((ROOT / "README.md").read_text().splitlines())
    assert n <= 150, f"README.md has {n} lines; results belong on the docs site's pages"


@pytest.mark.parametrize("page", _pages(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(page):
    text = FENCE.sub("", page.read_text())
    text = re.sub(r"`[^`\n]*`", "", text)  # inline code is not a link
    bad = []
    for m in LINK.finditer(text):
        target = m.group(1) or m.group(2)
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http(s), mailto, ...
            continue
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        rel = dest.relative_to(ROOT) if dest.is_relative_to(ROOT) else dest
        if any(str(rel).startswith(f"docs/{g}") for g in GENERATED):
            continue
        if not dest.exists():
            bad.append(f"{target}: no such file")
        elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
            bad.append(f"{target}: no heading with anchor #{anchor}")
    assert not bad, f"{page.relative_to(ROOT)}: " + "; ".join(bad)


def _nav_pages(node) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, list):
        return [p for x in node for p in _nav_pages(x)]
    if isinstance(node, dict):
        return [p for v in node.values() for p in _nav_pages(v)]
    return []


def test_every_docs_page_is_in_the_nav():
    cfg = yaml.load((ROOT / "mkdocs.yml").read_text(), Loader=_Loader)
    nav = set(_nav_pages(cfg["nav"]))
    pages = {str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md")}
    missing = sorted(pages - nav)
    assert not missing, f"add these pages to the nav of mkdocs.yml: {missing}"
    assert not sorted(nav - pages), "the nav names pages that do not exist"


class _Loader(yaml.SafeLoader):
    """mkdocs.yml uses ``!!python/name:`` tags (read here as plain strings, never imported)."""


_Loader.add_multi_constructor("tag:yaml.org,2002:python/", lambda loader, suffix, node: str(node.value))
