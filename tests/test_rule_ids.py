"""The requirement IDs and the document that defines them stay in step.

``docs/behaviour.md`` defines every requirement ID (``A2W-ERR-01``, ``SEC-06``, ...)
under a heading whose anchor is the ID in lower case. These tests fail when:

- ``src/``, ``tests/``, the README, the changelog or a page of ``docs/`` cites an
  ID that ``docs/behaviour.md`` does not define;
- a rule defined as MUST has no test that names it, in a test's name, a docstring
  or a comment in ``tests/``;
- a string in ``src/`` that cites an ID is not followed, in the same message, by a
  :func:`sgibridge._rules.see` pointer to that rule;
- ``src/`` points a reader at a document that is not in the repository.

Citations are read with one regular expression, so an ID is found wherever it is
written: ``W2A-ENV-02``, ``W2A_ENV_02`` in a test's name, and the shorthands
``CORE-HDR-03/12`` and ``CORE-HDR-01..06``, which cite every ID they span.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from sgibridge._rules import BEHAVIOUR_DOC, see

ROOT = Path(__file__).resolve().parent.parent
BEHAVIOUR = ROOT / BEHAVIOUR_DOC

#: One requirement ID, in its written form: a prefix, an optional group, two
#: digits (``SEC-06``, ``W2A-ENV-02``), then any ``/NN`` or ``..NN`` shorthand.
#: ``sep`` is ``-`` in text and ``_`` in Python names (``test_W2A_ENV_02_...``).
_ID_BODY = r"(?P<prefix>[A-Z][A-Z0-9]{{1,7}})(?:{sep}(?P<group>[A-Z][A-Z0-9]{{0,7}}))?{sep}(?P<num>\d{{2}})"
_ID_TAIL = r"(?P<tail>(?:/\d{2}(?!\d))+|\.\.\d{2}(?!\d))?"
ID_RE = re.compile(r"(?<![\w-])" + _ID_BODY.format(sep="-") + r"(?![\d])" + _ID_TAIL)
NAME_ID_RE = re.compile(r"(?<![A-Za-z0-9])" + _ID_BODY.format(sep="_") + r"(?!\d)")

#: A heading that defines a rule: ``### A2W-ERR-01: title {#a2w-err-01}``.
HEADING_RE = re.compile(r"^#{2,6}\s+(?P<id>[A-Z][A-Z0-9-]*-\d{2})\b(?P<rest>.*)$")
ANCHOR_RE = re.compile(r"\{#(?P<anchor>[^}\s]+)\}\s*$")
SOURCE_RE = re.compile(r"\*\*Source:\*\*[ \t]*\S")
LEVEL_RE = re.compile(
    r"\*\*Level:\*\*\s*\*?(?P<level>MUST|SHOULD|MAY|withdrawn)", re.IGNORECASE
)

#: Documents that ``src/`` once cited but that are not in the repository.
OUTSIDE_DOCS_RE = re.compile(r"\b(CONFORMANCE|DESIGN)(\.md)?\s*(§|[A-Z][A-Z0-9]*-)")


@dataclass(frozen=True)
class Rule:
    id: str
    anchor: str | None
    level: str | None
    line: int
    has_source: bool = True


@dataclass(frozen=True)
class Citation:
    id: str
    where: str  # "path:line"


def expand(match: re.Match[str]) -> list[str]:
    """Every ID one match cites: ``CORE-HDR-01..03`` cites 01, 02 and 03."""
    prefix = match["prefix"] + ("-" + match["group"] if match["group"] else "")
    first = int(match["num"])
    numbers = [first]
    tail = match.groupdict().get("tail") or ""
    if tail.startswith(".."):
        numbers = list(range(first, int(tail[2:]) + 1))
    elif tail:
        numbers += [int(n) for n in tail.split("/") if n]
    return [f"{prefix}-{n:02d}" for n in numbers]


def ids_in(text: str) -> list[str]:
    return [rule for m in ID_RE.finditer(text) for rule in expand(m)]


def ids_in_name(
    name: str, standalone: frozenset[str] = frozenset({"SEC"})
) -> list[str]:
    """IDs a Python name carries, such as ``test_W2A_ENV_02_root_path``.

    A name may cite several rules of one prefix in a row, the prefix written once:
    ``test_W2A_SR_08_ERR_04`` cites W2A-SR-08 and W2A-ERR-04. A prefix in
    ``standalone`` takes no group (``SEC_06``), so it never continues another.
    """
    tokens = name.split("_")
    found: list[str] = []
    last_prefix = ""
    i = 0
    while i < len(tokens):
        word = tokens[i]
        nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
        third = tokens[i + 2] if i + 2 < len(tokens) else ""
        if not _WORD.fullmatch(word):
            last_prefix = "" if not _NUM.fullmatch(word) else last_prefix
            i += 1
        elif _NUM.fullmatch(nxt) and (word in standalone or not last_prefix):
            found.append(f"{word}-{nxt}")
            last_prefix = ""
            i += 2
        elif _NUM.fullmatch(nxt):
            found.append(f"{last_prefix}-{word}-{nxt}")
            i += 2
        elif _WORD.fullmatch(nxt) and _NUM.fullmatch(third):
            found.append(f"{word}-{nxt}-{third}")
            last_prefix = word
            i += 3
        else:
            last_prefix = ""
            i += 1
    return found


_WORD = re.compile(r"[A-Z][A-Z0-9]*")
_NUM = re.compile(r"\d{2}")


def parse_behaviour(text: str) -> dict[str, list[Rule]]:
    """The rules a behaviour document defines, by ID (a list, to catch repeats)."""
    lines = text.splitlines()
    heads = [i for i, line in enumerate(lines) if line.startswith("#")]
    rules: dict[str, list[Rule]] = {}
    for k, i in enumerate(heads):
        m = HEADING_RE.match(lines[i])
        if m is None:
            continue
        anchor = ANCHOR_RE.search(m["rest"])
        end = heads[k + 1] if k + 1 < len(heads) else len(lines)
        body = "\n".join(lines[i + 1 : end])
        level = LEVEL_RE.search(body)
        rule = Rule(
            id=m["id"],
            anchor=anchor["anchor"] if anchor else None,
            level=level["level"].upper() if level else None,
            line=i + 1,
            has_source=SOURCE_RE.search(body) is not None,
        )
        rules.setdefault(rule.id, []).append(rule)
    return rules


def defined_rules() -> dict[str, Rule]:
    return {
        rid: found[0]
        for rid, found in parse_behaviour(BEHAVIOUR.read_text("utf-8")).items()
    }


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def suite_files() -> list[Path]:
    """Every Python file in tests/ but this one, whose IDs are examples."""
    return [
        p
        for p in sorted((ROOT / "tests").rglob("*.py"))
        if p != Path(__file__).resolve()
    ]


def cited_files() -> Iterator[Path]:
    yield from sorted((ROOT / "src").rglob("*.py"))
    yield from suite_files()
    for name in ("README.md", "CHANGELOG.md"):
        if (ROOT / name).exists():
            yield ROOT / name
    yield from sorted((ROOT / "docs").rglob("*.md"))


def citations(path: Path) -> Iterator[Citation]:
    text = path.read_text("utf-8")
    for number, line in enumerate(text.splitlines(), 1):
        found = ids_in(line)
        if path.suffix == ".py":
            found += (
                ids_in_name(line) if "def test" in line or "class Test" in line else []
            )
        for rule in found:
            yield Citation(rule, f"{rel(path)}:{number}")


# --------------------------------------------------------------------------
# Where the tests name a rule: test names, docstrings and comments.
# --------------------------------------------------------------------------


def named_in_tests(source: str) -> set[str]:
    """IDs named by a test's name, by any docstring, or by a comment."""
    named: set[str] = set()
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(
            node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Module)
        ):
            if not isinstance(node, ast.Module):
                named.update(ids_in_name(node.name))
            doc = ast.get_docstring(node, clean=False)
            if doc:
                named.update(ids_in(doc))
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            named.update(ids_in(token.string))
    return named


def rule_tests(source: str, filename: str) -> dict[str, list[str]]:
    """``{ID: ["file::test", ...]}``: the tests whose name, docstring or comments name an ID."""
    tree = ast.parse(source)
    comments: dict[int, list[str]] = {}
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            comments.setdefault(token.start[0], []).extend(ids_in(token.string))
    found: dict[str, list[str]] = {}
    for node in ast.walk(tree):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        if not node.name.startswith("test"):
            continue
        ids = ids_in_name(node.name) + ids_in(
            ast.get_docstring(node, clean=False) or ""
        )
        for line in range(node.lineno - 2, (node.end_lineno or node.lineno) + 1):
            ids += comments.get(line, [])
        for rule in dict.fromkeys(ids):
            found.setdefault(rule, []).append(f"{filename}::{node.name}")
    return found


# --------------------------------------------------------------------------
# Messages in src/ that cite an ID must end with see(ID).
# --------------------------------------------------------------------------

_STATEMENTS = (ast.stmt,)


def _docstring_nodes(tree: ast.AST) -> set[int]:
    """Bare string expressions (docstrings and the like) are not messages."""
    return {
        id(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Expr)
        and isinstance(node.value, (ast.Constant, ast.JoinedStr))
    }


def _see_calls(node: ast.AST) -> list[tuple[tuple[int, int], str | None]]:
    """Position and rule of every ``see(...)`` call under ``node``."""
    found: list[tuple[tuple[int, int], str | None]] = []
    for sub in ast.walk(node):
        if not isinstance(sub, ast.Call):
            continue
        func = sub.func
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
        if name != "see":
            continue
        arg = sub.args[0] if sub.args else None
        rule = (
            arg.value
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str)
            else None
        )
        found.append(((sub.lineno, sub.col_offset), rule))
    return found


def unpointed_messages(source: str, filename: str = "<src>") -> list[str]:
    """``file:line: ID`` for each message that cites an ID with no ``see()`` after it.

    A message is the nearest call that takes the string as an argument (an
    exception, a log call, a helper), or else the statement that holds it. A
    string that is exactly one ID (``see("A2W-ERR-01")``, a rule passed to a
    helper) is a reference, not a message.
    """
    tree = ast.parse(source)
    parents: dict[int, ast.AST] = {}
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            parents[id(child)] = node
    docstrings = _docstring_nodes(tree)
    problems: list[str] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Constant) or not isinstance(node.value, str):
            continue
        cited = ids_in(node.value)
        if not cited or ID_RE.fullmatch(node.value.strip()):
            continue
        top: ast.AST = node
        while id(top) in parents and isinstance(parents[id(top)], ast.JoinedStr):
            top = parents[id(top)]
        if id(top) in docstrings:
            continue
        message = _enclosing_message(top, parents)
        pointers = [
            rule
            for position, rule in _see_calls(message)
            if position >= (node.lineno, node.col_offset)
        ]
        if not any(rule is None or rule in cited for rule in pointers):
            problems.append(f"{filename}:{node.lineno}: {cited[0]}")
    return problems


def _enclosing_message(node: ast.AST, parents: dict[int, ast.AST]) -> ast.AST:
    child = node
    while id(child) in parents:
        parent = parents[id(child)]
        if isinstance(parent, ast.Call) and child is not parent.func:
            return parent
        if isinstance(parent, _STATEMENTS):
            return parent
        child = parent
    return child


# --------------------------------------------------------------------------
# The checks on the real tree.
# --------------------------------------------------------------------------


def test_behaviour_doc_defines_each_rule_once_with_its_anchor_level_and_source() -> (
    None
):
    """Each rule heading carries ``{#id-in-lower-case}``, a MUST/SHOULD/MAY level and a source."""
    rules = parse_behaviour(BEHAVIOUR.read_text("utf-8"))
    assert rules, f"{BEHAVIOUR_DOC} defines no rules"
    problems = []
    for rid, found in sorted(rules.items()):
        where = f"{BEHAVIOUR_DOC}:{found[0].line}"
        if len(found) > 1:
            problems.append(f"{where}: {rid} is defined {len(found)} times")
        for rule in found:
            if rule.anchor != rid.lower():
                problems.append(
                    f"{where}: {rid} has anchor {rule.anchor!r}, not {rid.lower()!r}"
                )
            if rule.level is None:
                problems.append(
                    f"{where}: {rid} has no '**Level:** MUST|SHOULD|MAY' line"
                )
    assert not problems, "\n".join(problems)


def test_every_cited_id_is_defined() -> None:
    """src/, tests/ and the docs cite only IDs that docs/behaviour.md defines."""
    defined = defined_rules()
    undefined = [
        f"{c.where}: {c.id}"
        for path in cited_files()
        for c in citations(path)
        if c.id not in defined
    ]
    assert not undefined, f"cited but not defined in {BEHAVIOUR_DOC}:\n" + "\n".join(
        undefined
    )


def test_every_must_rule_has_a_test_that_names_it() -> None:
    """Each MUST is named by a test's name, a docstring or a comment in tests/."""
    named: set[str] = set()
    for path in suite_files():
        named |= named_in_tests(path.read_text("utf-8"))
    untested = [
        f"{BEHAVIOUR_DOC}:{rule.line}: {rid}"
        for rid, rule in sorted(defined_rules().items())
        if rule.level == "MUST" and rid not in named
    ]
    assert not untested, "MUST rules no test names:\n" + "\n".join(untested)


def test_every_message_that_cites_an_id_says_where_to_read_it() -> None:
    """A string in src/ that cites an ID is followed by ``see(ID)`` in the same message."""
    problems = []
    for path in sorted((ROOT / "src").rglob("*.py")):
        problems += unpointed_messages(path.read_text("utf-8"), rel(path))
    assert not problems, "messages without a see() pointer:\n" + "\n".join(problems)


def test_src_cites_no_document_outside_the_repository() -> None:
    """Comments and docstrings point at docs/, not at documents the repository lacks."""
    problems = [
        f"{rel(path)}:{number}: {line.strip()}"
        for path in sorted((ROOT / "src").rglob("*.py"))
        for number, line in enumerate(path.read_text("utf-8").splitlines(), 1)
        if OUTSIDE_DOCS_RE.search(line)
    ]
    assert not problems, (
        "cite docs/behaviour.md or docs/architecture.md instead:\n"
        + "\n".join(problems)
    )


def test_see_points_at_the_anchor_of_a_defined_rule() -> None:
    rule = next(iter(defined_rules().values()))
    assert see(rule.id) == f"see docs/behaviour.md#{rule.anchor}"


# --------------------------------------------------------------------------
# The checker itself.
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("W2A-ENV-02", ["W2A-ENV-02"]),
        ("(SEC-06)", ["SEC-06"]),
        ("CORE-HDR-03/12", ["CORE-HDR-03", "CORE-HDR-12"]),
        ("CORE-HDR-01..03,", ["CORE-HDR-01", "CORE-HDR-02", "CORE-HDR-03"]),
        (
            "A2W-LOOP-01..04)",
            ["A2W-LOOP-01", "A2W-LOOP-02", "A2W-LOOP-03", "A2W-LOOP-04"],
        ),
        ("UTF-8, SHA-256, ISO-8859-1, RFC 9110", []),
        ("W2A-ENV-123", []),
        ("X-W2A-ENV-02", []),
    ],
)
def test_ids_in_reads_every_written_form(text: str, expected: list[str]) -> None:
    assert ids_in(text) == expected


def test_ids_in_name_reads_test_names() -> None:
    assert ids_in_name("test_W2A_ENV_02_root_path_modes") == ["W2A-ENV-02"]
    assert ids_in_name("test_SEC_06_header_flood") == ["SEC-06"]
    assert ids_in_name("test_CORE_HDR_request_headers") == []
    assert ids_in_name("test_W2A_SR_08_ERR_04_exc_info") == ["W2A-SR-08", "W2A-ERR-04"]
    assert ids_in_name("test_W2A_BODY_05_SR_06_SEC_01_x") == [
        "W2A-BODY-05",
        "W2A-SR-06",
        "SEC-01",
    ]
    assert ids_in_name("test_ERR_04_alone") == ["ERR-04"]
    assert ids_in_name("test_CONFORMANCE_0_hierarchy") == []
    assert ids_in_name("test_W2A_IN_01_x_CORE_HDR_12") == ["W2A-IN-01", "CORE-HDR-12"]


def test_parse_behaviour_reads_anchor_and_level() -> None:
    text = (
        "## Group\n\n### A2W-ERR-01: A rule {#a2w-err-01}\n\n- **Level:** MUST\n\n"
        "### SEC-02: Another {#Sec-2}\n\nNo level here.\n\n"
        "### W2A-IN-01: Old {#w2a-in-01}\n\n- **Level:** *withdrawn*\n"
    )
    rules = parse_behaviour(text)
    assert rules["A2W-ERR-01"] == [Rule("A2W-ERR-01", "a2w-err-01", "MUST", 3, False)]
    assert rules["SEC-02"] == [Rule("SEC-02", "Sec-2", None, 7, False)]
    assert rules["W2A-IN-01"][0].level == "WITHDRAWN"
    assert parse_behaviour("### SEC-01: X {#sec-01}\n- **Source:** RFC 9110 §5.5\n")[
        "SEC-01"
    ][0].has_source


def test_named_in_tests_counts_names_docstrings_and_comments_only() -> None:
    source = (
        '"""Module docstring: CORE-STR-01."""\n'
        "def test_W2A_ENV_02_x() -> None:\n"
        '    """W2A-ENV-03/04: docstring."""\n'
        '    assert f("A2W-ERR-01")  # SEC-06\n'
        "def helper() -> None:\n"
        "    # CORE-HDR-01..02 in a comment\n"
        "    pass\n"
    )
    assert named_in_tests(source) == {
        "CORE-STR-01",
        "W2A-ENV-02",
        "W2A-ENV-03",
        "W2A-ENV-04",
        "SEC-06",
        "CORE-HDR-01",
        "CORE-HDR-02",
    }


@pytest.mark.parametrize(
    "source",
    [
        "raise E(f\"A2W-ERR-01: boom ({see('A2W-ERR-01')})\")",
        'raise E("A2W-ERR-01: boom (" + see("A2W-ERR-01") + ")")',
        'logger.info("A2W-LIFE-08: %r (%s)", kind, see("A2W-LIFE-08"))',
        'logger.info("W2A-ENV-02/03: %r (%s)", kind, see("W2A-ENV-03"))',
        'raise E(\n    f"A2W-ERR-01: {x!r} "\n    f"({see(\'A2W-ERR-01\')})"\n)',
        'msg = "A2W-ERR-01: boom " + _rules.see("A2W-ERR-01")',
        'raise E(f"{rule}: boom ({see(rule)})")',
        'x = see("A2W-ERR-01")',
        'check(value, "W2A-ENV-01", "scope[\'method\']")',
        'def f():\n    """Docstrings cite A2W-ERR-01 freely."""',
        "# comments cite A2W-ERR-01 freely\nx = 1",
    ],
)
def test_unpointed_messages_accepts_messages_with_a_pointer(source: str) -> None:
    assert unpointed_messages(source) == []


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ('raise E("A2W-ERR-01: boom")', "A2W-ERR-01"),
        ('raise E(f"A2W-ERR-01: {x!r}")', "A2W-ERR-01"),
        ('logger.warning("W2A-SR-04: dropped %r", name)', "W2A-SR-04"),
        (
            'raise E(see("A2W-ERR-01") + " A2W-ERR-01: the pointer comes first")',
            "A2W-ERR-01",
        ),
        ("raise E(f\"A2W-ERR-01: boom ({see('A2W-ERR-02')})\")", "A2W-ERR-01"),
        ('errors = {"x": "A2W-ERR-01: boom"}', "A2W-ERR-01"),
    ],
)
def test_unpointed_messages_flags_messages_without_one(
    source: str, expected: str
) -> None:
    assert unpointed_messages(source, "m.py") == [f"m.py:1: {expected}"]


# --------------------------------------------------------------------------
# ``python tests/test_rule_ids.py``: refresh the Tests line of every rule.
# --------------------------------------------------------------------------

TESTS_LINE_RE = re.compile(r"^- \*\*Tests:\*\*.*$")
SHOWN = 5


def refresh_tests_lines(text: str, naming: dict[str, list[str]]) -> str:
    """Rewrite each rule's ``- **Tests:**`` line from ``naming``; nothing else."""
    lines = text.splitlines(keepends=True)
    current: str | None = None
    for i, line in enumerate(lines):
        if line.startswith("#"):
            m = HEADING_RE.match(line.rstrip("\n"))
            current = m["id"] if m else None
        elif current and TESTS_LINE_RE.match(line.rstrip("\n")):
            tests = naming.get(current, [])
            shown = ", ".join(f"`{t}`" for t in tests[:SHOWN])
            more = f" and {len(tests) - SHOWN} more" if len(tests) > SHOWN else ""
            lines[i] = f"- **Tests:** {shown + more or 'none name it yet'}\n"
    return "".join(lines)


def main() -> None:
    naming: dict[str, list[str]] = {}
    for path in suite_files():
        for rule, tests in rule_tests(path.read_text("utf-8"), rel(path)).items():
            naming.setdefault(rule, []).extend(tests)
    text = BEHAVIOUR.read_text("utf-8")
    BEHAVIOUR.write_text(refresh_tests_lines(text, naming), "utf-8")


if __name__ == "__main__":
    main()
