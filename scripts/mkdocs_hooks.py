"""mkdocs hooks of the documentation site (``hooks:`` in mkdocs.yml).

The model cards live once, in ``model_cards/NAME.md`` (generated from ``zoo/registry.yaml`` by
``symzoo zoo cards``); the site renders them as ``zoo/cards/NAME.md`` without a second copy in
``docs/``, and the Model zoo page's ``<!-- zoo-index -->`` marker becomes the index table of
``MODEL_CARDS.md`` with its links pointed at those pages.

The API reference is read from the sources without importing them (griffe's static analysis).
symzoo maps its rooms into one import package (``symzoo.models`` is ``models/``, see
``[tool.setuptools] package-dir`` in pyproject.toml), a layout griffe cannot search; the hook
builds a temporary copy of the sources in the installed layout (``symzoo/models -> models/``, ...)
and points mkdocstrings at it, so ``::: symzoo.models.egnn`` works for every room.
"""

from __future__ import annotations

import atexit
import re
import shutil
import tempfile

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]
from pathlib import Path

from mkdocs.plugins import event_priority
from mkdocs.structure.files import File

ROOT = Path(__file__).resolve().parents[1]
CARDS = ROOT / "model_cards"
MARKER = "<!-- zoo-index -->"


def _package_view() -> Path:
    """A temporary folder holding ``symzoo/`` as installed: a copy of every Python file of the core
    and of the mapped rooms (griffe skips symlinked ones)."""
    mapping = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
    view = Path(tempfile.mkdtemp(prefix="symzoo-api-"))
    atexit.register(shutil.rmtree, view, True)
    for pkg, folder in mapping.items():
        src, dest = ROOT / folder, view.joinpath(*pkg.split("."))
        for py in src.rglob("*.py"):
            rel = py.relative_to(src)
            if "__pycache__" in rel.parts or (
                pkg == "symzoo" and len(rel.parts) > 1 and rel.parts[0] in _rooms(mapping)
            ):
                continue
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            if not target.exists():
                shutil.copyfile(py, target)
    return view


def _rooms(mapping: dict[str, str]) -> set[str]:
    """Sub-package names of ``symzoo`` that live in their own top-level folder."""
    return {
        pkg.split(".")[1]
        for pkg, folder in mapping.items()
        if pkg.count(".") == 1 and folder != f"symzoo/{pkg.split('.')[1]}"
    }


@event_priority(100)  # before mkdocstrings' own on_config, which may create the python handler
def on_config(config):
    python = config.plugins["mkdocstrings"].config.handlers.setdefault("python", {})
    python["paths"] = [str(_package_view())]
    return config


def _strip_front_matter(text: str) -> str:
    # the Hugging Face front matter (YAML between --- lines) is for the Hub, not for the page
    if text.startswith("---\n"):
        end = text.find("\n---\n", 4)
        if end != -1:
            return text[end + 5 :].lstrip()
    return text


def on_files(files, config):
    for card in sorted(CARDS.glob("*.md")):
        files.append(
            File.generated(config, f"zoo/cards/{card.name}", content=_strip_front_matter(card.read_text()))
        )
    return files


def on_page_markdown(markdown, page, config, files):
    if MARKER not in markdown:
        return markdown
    text = (ROOT / "MODEL_CARDS.md").read_text()
    table = [ln for ln in text.splitlines() if ln.startswith("|")]
    table = [re.sub(r"\]\(model_cards/", "](cards/", ln) for ln in table]
    return markdown.replace(MARKER, "\n".join(table))
