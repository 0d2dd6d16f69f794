"""mkdocs hook: pages quote the README, so the front door and the site never disagree.

A line ``<!-- README: Command line -->`` in a page becomes the body of the README
section with that heading (up to the next heading of the same or a higher level),
its sub-headings raised so that the section's own ``###`` becomes the page's ``##``.
``<!-- README: intro -->`` is the text before the README's first ``##``. Links into
``docs/`` are made relative to the site. A marker that names no section fails the
build, so a renamed README heading cannot leave a page empty.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from mkdocs.exceptions import PluginError

README = Path(__file__).resolve().parents[2] / "README.md"
MARKER = re.compile(r"^<!-- README: (?P<title>.+?) -->[ \t]*$", re.MULTILINE)
HEADING = re.compile(r"^(?P<hashes>#{1,6}) (?P<title>.+?)\s*$")
FENCE = re.compile(r"^\s*(```|~~~)")


def _lines_outside_fences(text: str) -> list[tuple[str, bool]]:
    """Each line, and whether it may be a heading (it is not inside a code fence)."""
    result = []
    fenced = False
    for line in text.splitlines():
        if FENCE.match(line):
            fenced = not fenced
            result.append((line, False))
        else:
            result.append((line, not fenced))
    return result


def readme_section(text: str, title: str) -> str:
    """The body of the README section headed ``title``, sub-headings raised."""
    lines = _lines_outside_fences(text)
    if title == "intro":
        body = []
        for line, may_be_heading in lines[1:]:
            if may_be_heading and line.startswith("## "):
                break
            body.append(line)
        return "\n".join(body).strip() + "\n"
    start = level = None
    for index, (line, may_be_heading) in enumerate(lines):
        match = HEADING.match(line) if may_be_heading else None
        if match and match["title"] == title:
            start, level = index + 1, len(match["hashes"])
            break
    if start is None or level is None:
        raise PluginError(f"README.md has no section headed {title!r}")
    body = []
    for line, may_be_heading in lines[start:]:
        match = HEADING.match(line) if may_be_heading else None
        if match and len(match["hashes"]) <= level:
            break
        if match:
            line = "#" * (len(match["hashes"]) - level + 1) + " " + match["title"]
        body.append(line)
    return "\n".join(body).strip() + "\n"


def on_page_markdown(markdown: str, **_: Any) -> str:
    if "<!-- README: " not in markdown:
        return markdown
    text = README.read_text("utf-8")

    def quote(match: re.Match[str]) -> str:
        return readme_section(text, match["title"]).replace("](docs/", "](")

    return MARKER.sub(quote, markdown)
