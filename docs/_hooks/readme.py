"""mkdocs hook: pages quote the README, so the front door and the site never disagree.

A line ``<!-- README: Command line -->`` in a page becomes the body of the README
section with that heading (up to the next heading of the same or a higher level),
its sub-headings raised so that the section's own ``###`` becomes the page's ``##``.
``<!-- README: intro -->`` is the text before the README's first ``##``.

Links are made to work on the site: ``docs/x.md`` becomes ``x.md``, and a README
anchor (``#command-line``) points at the page that quotes that section (or, for a
sub-heading, at its heading there). A marker that names no section fails the
build, and an anchor that no page quotes is left as it is, so ``--strict`` fails
on it: a renamed README heading cannot leave a page empty or a link dangling.
"""

from __future__ import annotations

import posixpath
import re
import unicodedata
from pathlib import Path
from typing import Any

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import Files
from mkdocs.structure.pages import Page

README = Path(__file__).resolve().parents[2] / "README.md"
MARKER = re.compile(r"^<!-- README: (?P<title>.+?) -->[ \t]*$", re.MULTILINE)
HEADING = re.compile(r"^(?P<hashes>#{1,6}) (?P<title>.+?)\s*$")
FENCE = re.compile(r"^\s*(```|~~~)")
ANCHOR_LINK = re.compile(r"\]\(#(?P<anchor>[^)\s]+)\)")


def slugify(title: str, separator: str = "-") -> str:
    """A heading's anchor, as Python-Markdown's ``toc`` extension makes it."""
    text = (
        unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode("ascii")
    )
    text = re.sub(r"[^\w\s-]", "", text).strip().lower()
    return re.sub(rf"[{separator}\s]+", separator, text)


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


def _headings(text: str) -> list[tuple[int, int, str]]:
    """``(line index, level, title)`` of every README heading outside code."""
    found = []
    for index, (line, may_be_heading) in enumerate(_lines_outside_fences(text)):
        match = HEADING.match(line) if may_be_heading else None
        if match:
            found.append((index, len(match["hashes"]), match["title"]))
    return found


def readme_section(text: str, title: str) -> str:
    """The body of the README section headed ``title``, sub-headings raised."""
    lines = [line for line, _ in _lines_outside_fences(text)]
    headings = _headings(text)
    if title == "intro":
        end = next((i for i, level, _ in headings if level == 2), len(lines))
        return "\n".join(lines[1:end]).strip() + "\n"
    start = next(((i, level) for i, level, t in headings if t == title), None)
    if start is None:
        raise PluginError(f"README.md has no section headed {title!r}")
    first, level = start
    end = next((i for i, lvl, _ in headings if i > first and lvl <= level), len(lines))
    inner = {i: lvl for i, lvl, _ in headings if first < i < end}
    body = []
    for index in range(first + 1, end):
        line = lines[index]
        if index in inner:
            line = "#" * (inner[index] - level + 1) + line[inner[index] :]
        body.append(line)
    return "\n".join(body).strip() + "\n"


def anchor_targets(text: str, quoted: dict[str, str]) -> dict[str, str]:
    """``{README anchor: "page.md" or "page.md#anchor"}`` for the quoted sections.

    ``quoted`` maps a quoted section's title to the page that quotes it. A section
    quoted whole is reached at the top of its page; a heading inside it keeps its
    title, and so its anchor, on that page.
    """
    targets: dict[str, str] = {}
    headings = _headings(text)
    for k, (_, level, title) in enumerate(headings):
        if title not in quoted:
            continue
        page = quoted[title]
        targets.setdefault(slugify(title, "-"), page)
        for _, inner_level, inner_title in headings[k + 1 :]:
            if inner_level <= level:
                break
            targets.setdefault(
                slugify(inner_title, "-"), f"{page}#{slugify(inner_title, '-')}"
            )
    return targets


def _quoted_sections(files: Files) -> dict[str, str]:
    quoted: dict[str, str] = {}
    for file in files.documentation_pages():
        if file.abs_src_path is None:
            continue
        for match in MARKER.finditer(Path(file.abs_src_path).read_text("utf-8")):
            quoted.setdefault(match["title"], file.src_uri)
    return quoted


def on_page_markdown(markdown: str, *, page: Page, files: Files, **_: Any) -> str:
    if "<!-- README: " not in markdown:
        return markdown
    text = README.read_text("utf-8")
    targets = anchor_targets(text, _quoted_sections(files))
    here = page.file.src_uri

    def relink(match: re.Match[str]) -> str:
        target = targets.get(match["anchor"])
        if target is None:
            return match[0]
        path, _, anchor = target.partition("#")
        if path == here:
            return f"](#{anchor})" if anchor else "](#)"
        relative = posixpath.relpath(path, posixpath.dirname(here) or ".")
        return f"]({relative}#{anchor})" if anchor else f"]({relative})"

    def quote(match: re.Match[str]) -> str:
        section = readme_section(text, match["title"]).replace("](docs/", "](")
        return ANCHOR_LINK.sub(relink, section)

    return MARKER.sub(quote, markdown)
