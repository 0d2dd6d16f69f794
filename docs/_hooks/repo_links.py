"""mkdocs hook: a link from a page to a repository file outside ``docs/`` shows its path.

Pages are read in the repository as well as on the site, so they link to source
files (``../../benchmarks/README.md``). Those files are not part of the site; on
the site such a link becomes the file's repository path in code. A link whose
target exists nowhere is left alone, so ``--strict`` still fails on it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.pages import Page

LINK = re.compile(
    r"(?<!!)\[(?P<text>[^\]\n]+)\]\((?P<target>[^)\s#]+)(?P<anchor>#[^)\s]*)?\)"
)
FENCE = re.compile(r"^\s*(```|~~~)")
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def repo_path(target: str, page_dir: Path, docs_dir: Path, root: Path) -> str | None:
    """The repository path of ``target`` if it is a file outside ``docs_dir``."""
    if SCHEME.match(target) or target.startswith("/"):
        return None
    resolved = (page_dir / target).resolve()
    if resolved.is_relative_to(docs_dir) or not resolved.is_relative_to(root):
        return None
    return resolved.relative_to(root).as_posix() if resolved.exists() else None


def relink(markdown: str, page_dir: Path, docs_dir: Path, root: Path) -> str:
    def replace(match: re.Match[str]) -> str:
        path = repo_path(match["target"], page_dir, docs_dir, root)
        if path is None:
            return match[0]
        text = match["text"]
        return text if path in text else f"{text} (`{path}`)"

    lines = []
    fenced = False
    for line in markdown.split("\n"):
        if FENCE.match(line):
            fenced = not fenced
        lines.append(line if fenced else LINK.sub(replace, line))
    return "\n".join(lines)


def on_page_markdown(
    markdown: str, *, page: Page, config: MkDocsConfig, **_: Any
) -> str:
    docs_dir = Path(config.docs_dir).resolve()
    root = Path(config.config_file_path).resolve().parent
    page_dir = (docs_dir / page.file.src_uri).parent
    return relink(markdown, page_dir, docs_dir, root)
