"""Fix safety, as properties over generated programs (hypothesis, hypothesmith).

For modules holding engine constructor calls in every shape we could think of (imports,
positional / keyword URLs, extra arguments, trailing commas, one argument per line,
comments, CRLF, a BOM, tabs, form feeds, no final newline), `--fix`:

- writes a file that compiles (`compile()`, not only parsed),
- changes nothing when run a second time,
- changes nothing but the insertions SL005's fix makes: removing them gives back the
  input byte for byte.

Every fixture with a fix, rewritten with the whitespace the tokenizer treats specially
(form feeds before and inside indentation, at line ends, on blank lines; CRLF and lone CR
line endings), is fixed exactly as the fixture is: the same findings fixed, the same left,
and the result compiles.

For modules whose import blocks isort accepts, SL001's fix adds its import where isort puts
it (checked with the real `ruff check --select I`), and a second fix changes nothing.

Programs from hypothesmith (random valid Python, made to mention SQLAlchemy so they are
parsed) never make the linter fail.

In-process through `check_stdin` (the same path as `--fix` on a file, without the disk).
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import libcst as cst
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from sessionlint.entry.run import RunOptions, check_stdin
from sessionlint.rulepass.tokenview import tokenizer_view
from sessionlint.settings.config import Settings
from tests.fixture_cases import all_cases

CHECK = RunOptions(use_cache=False)
FIX = RunOptions(fix=True, use_cache=False)
SETTINGS = Settings()

# -- a generated module ------------------------------------------------------------------------

IMPORTS = {
    "create_engine": "from sqlalchemy import create_engine",
    "sa.create_engine": "import sqlalchemy as sa",
    "sqlalchemy.create_engine": "import sqlalchemy",
    "make": "from sqlalchemy import create_engine as make",
    "create_async_engine": "from sqlalchemy.ext.asyncio import create_async_engine",
    "sqlmodel.create_engine": "import sqlmodel",
}
URLS = ['"postgresql://app@db/app"', "DATABASE_URL", 'f"postgresql://{HOST}/app"', "settings.url"]
EXTRA = ["echo=True", "pool_size=5", "connect_args={'timeout': 3}", "future=True", "max_overflow=2"]
OPT_OUTS = ['"sqlite:///app.db"', "pool_pre_ping=False", "**options", "poolclass=NullPool"]
FILLER = [
    "",
    "# a comment",
    "x = 1",
    "def helper(a, b=2):\n{i}return a + b",
    "class Config:\n{i}url = 'postgresql://x'",
    '"""A docstring."""',
    "values = [\n{i}1,\n{i}2,\n]",
    "if x:\n{i}pass\nelse:\n{i}x = (1,\n{i}     2)",
]


@st.composite
def engine_call(draw: st.DrawFn, indent: str, newline: str) -> tuple[str, bool]:
    """One engine constructor call's source (continuation lines indented from `indent`),
    and whether SL005 should fix it."""
    name = draw(st.sampled_from(sorted(IMPORTS)))
    args: list[str] = []
    opted_out = draw(st.booleans()) and draw(st.booleans())  # a quarter of the calls
    url = draw(st.sampled_from(URLS))
    url_form = draw(st.sampled_from(["positional", "keyword", "none"]))
    if url_form == "positional":
        args.append(url)
    elif url_form == "keyword":
        args.append(f"url={url}")
    args += draw(st.lists(st.sampled_from(EXTRA), max_size=3, unique=True))
    if opted_out:
        opt_out = draw(st.sampled_from(OPT_OUTS))
        if opt_out.startswith('"sqlite'):
            args = [opt_out, *(a for a in args if a != url and not a.startswith("url="))]
        else:  # keywords and ** go after every positional argument
            positional = sum(1 for a in args if "=" not in a)
            args.insert(draw(st.integers(positional, len(args))), opt_out)
    layout = draw(st.sampled_from(["one-line", "one-per-line", "hanging", "spaced"]))
    trailing = draw(st.booleans()) and bool(args)
    comment = draw(st.sampled_from(["", "  # why"])) if args else ""
    step = indent + draw(st.sampled_from(["    ", "\t", "  "]))
    if layout == "hanging" and len(args) < 2:
        layout = "one-line"
    if layout == "one-line" or not args:
        body = ", ".join(args) + ("," if trailing else "")
        call = f"{name}({body})"
    elif layout == "spaced":
        call = f"{name}( {', '.join(args)}{',' if trailing else ''} )"
    elif layout == "hanging":
        call = f"{name}({args[0]},{comment}{newline}" + "".join(f"{step}{arg},{newline}" for arg in args[1:])
        call = call.rstrip("," + newline) + ("," if trailing else "") + ")"
    else:
        lines = [f"{step}{arg}," for arg in args]
        if not trailing:
            lines[-1] = lines[-1][:-1]
        lines[0] += comment
        call = f"{name}({newline}" + newline.join(lines) + f"{newline}{indent})"
    return call, not opted_out


@st.composite
def module(draw: st.DrawFn) -> tuple[bytes, int]:
    """A module's bytes, and how many of its engine calls SL005 should fix."""
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    unit = draw(st.sampled_from(["    ", "\t", "  "]))
    lines = sorted({IMPORTS[name] for name in IMPORTS})  # every spelling importable
    lines += ["from sqlalchemy.pool import NullPool", "DATABASE_URL = 'postgresql://x'", "HOST = 'db'"]
    expected = 0
    for _ in range(draw(st.integers(1, 4))):
        filler = draw(st.sampled_from(FILLER)).replace("{i}", unit)
        lines += filler.split("\n") if filler else [""]
        place = draw(st.sampled_from(["module", "function", "class", "if"]))
        indent = "" if place == "module" else unit
        call, fixable = draw(engine_call(indent, "\n"))
        expected += fixable
        statement = f"{indent}engine = {call}"
        if place == "function":
            lines += ["def build(settings, options):", statement, f"{unit}return engine"]
        elif place == "class":
            lines += ["class Holder:", statement]
        elif place == "if":
            lines += ["if DATABASE_URL:", statement]
        else:
            lines.append(statement)
    # Form feeds where the tokenizer skips them: before a line's indentation (they reset
    # its column), or on a blank line.
    feeds = draw(
        st.lists(st.sampled_from(["", "", "\f", " \f", "\t\f"]), min_size=len(lines), max_size=len(lines))
    )
    lines = [feed + line if line.strip() or not feed else "\f" for feed, line in zip(feeds, lines)]
    text = "\n".join(lines)
    if draw(st.booleans()):
        text += "\n"
    text = text.replace("\n", newline)
    data = text.encode()
    if draw(st.booleans()):
        data = b"\xef\xbb\xbf" + data
    return data, expected


# -- properties ----------------------------------------------------------------------------------

_INSERTED = [
    re.compile(rb"(?m)^[ \t]*pool_pre_ping=True,(?:\r\n|\n)"),  # a line of its own
    re.compile(rb", pool_pre_ping=True"),  # after the last argument
    re.compile(rb"pool_pre_ping=True"),  # the only argument
]


def _without_insertions(data: bytes) -> bytes:
    for pattern in _INSERTED:
        data = pattern.sub(b"", data)
    return data


def _parses(data: bytes) -> None:
    """It compiles (beyond parsing: `await` / `yield` / `return` where they are allowed), and
    LibCST reads it."""
    text = data.decode("utf-8-sig")
    compile(text, "app.py", "exec", dont_inherit=True)
    cst.parse_module(tokenizer_view(text).text)


def _fix(data: bytes) -> bytes:
    report, fixed = check_stdin(data, "app.py", SETTINGS, FIX)
    assert not report.internal_errors, [e.message for e in report.internal_errors]
    assert fixed is not None
    return fixed


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(module())
def test_fix_parses_is_idempotent_and_only_inserts(case: tuple[bytes, int]) -> None:
    data, expected = case
    _parses(data)  # the generator's own sanity
    report, _ = check_stdin(data, "app.py", SETTINGS, CHECK)
    assert not report.internal_errors
    assert sum(d.code == "SL005" for d in report.diagnostics) == expected

    fixed = _fix(data)
    _parses(fixed)
    assert _fix(fixed) == fixed  # a second fix changes nothing
    assert _without_insertions(fixed) == data  # every other byte is where it was
    assert fixed.count(b"pool_pre_ping=True") == expected
    report, _ = check_stdin(fixed, "app.py", SETTINGS, CHECK)
    assert not any(d.code == "SL005" for d in report.diagnostics)


PREAMBLE = (
    "import sqlalchemy\n"
    "from sqlalchemy import create_engine\n"
    "from sqlalchemy.orm import Session, sessionmaker\n"
    'engine = create_engine("postgresql://x")\n'
    "SessionLocal = sessionmaker(bind=engine)\n"
)


def _programs() -> st.SearchStrategy[str]:
    """hypothesmith's strategy, imported and built when the test first draws from it: both
    take seconds, which every collection of the suite (and each worker's) would pay."""
    import hypothesmith

    return hypothesmith.from_grammar()


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.deferred(_programs))
def test_generated_programs_never_break_the_linter(program: str) -> None:
    source = PREAMBLE + program
    try:
        ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        assume(False)  # the grammar allows a few things the compiler refuses
    data = source.encode("utf-8", "surrogatepass")
    assume(b"\x00" not in data)
    report, _ = check_stdin(data, "app.py", SETTINGS, CHECK)
    assert not report.internal_errors, [e.traceback for e in report.internal_errors]

    fixed = _fix(data)
    if fixed != data:
        _parses(fixed)
        assert _fix(fixed) == fixed
        assert _without_insertions(fixed) == data


# -- fixtures in odd whitespace ---------------------------------------------------------------

FIX_ALL = RunOptions(fix=True, unsafe_fixes=True, use_cache=False)
# Single-file fixtures with a fix and no configuration of their own.
FIXED_FIXTURES = sorted(
    case.path
    for case in all_cases()
    if not case.is_dir
    and case.path.with_name(case.path.stem + ".fixed.py").exists()
    and not case.config_lines()
)


def _fix_all(data: bytes) -> tuple[bytes, list[str], int]:
    report, fixed = check_stdin(data, "app.py", SETTINGS, FIX_ALL)
    assert not report.internal_errors, [e.message for e in report.internal_errors]
    assert fixed is not None
    return fixed, sorted(d.code for d in report.diagnostics), report.fixed_count


@st.composite
def respaced(draw: st.DrawFn, text: str) -> str:
    """`text` with whitespace the tokenizer reads as nothing (or as the same line break)."""
    lines = text.split("\n")
    out = []
    for line in lines:
        where = draw(st.sampled_from(["", "", "", "before", "junk", "end", "blank"]))
        if where == "before" and line.strip():
            line = "\f" + line
        elif where == "junk" and line.strip():
            line = draw(st.sampled_from([" \f", "\t\f", "\f\f", "  \f"])) + line
        elif where == "end" and line.strip() and not line.rstrip().endswith("\\"):
            line += "\f"
        elif where == "blank" and not line.strip():
            line = "\f"
        out.append(line)
    return draw(st.sampled_from(["\n", "\r\n", "\r"])).join(out)


@st.composite
def respaced_fixture(draw: st.DrawFn) -> tuple[Path, str]:
    path = draw(st.sampled_from(FIXED_FIXTURES))
    return path, draw(respaced(path.read_text(encoding="utf-8")))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(respaced_fixture())
def test_fixtures_in_odd_whitespace_fix_as_they_do_and_compile(case: tuple[Path, str]) -> None:
    path, text = case
    try:
        compile(text, "app.py", "exec", dont_inherit=True)
    except SyntaxError:
        assume(False)  # a form feed at a line end inside a string's continuation, say
    _, plain_left, plain_fixed = _fix_all(path.read_bytes())
    fixed, left, count = _fix_all(text.encode())
    assert (left, count) == (plain_left, plain_fixed)
    _parses(fixed)
    assert _fix_all(fixed)[0] == fixed


# -- SL001's added import, in import blocks isort accepts --------------------------------------

STDLIB_PLAIN = ["import logging", "import os", "import sys"]
STDLIB_FROM = [
    "from collections.abc import Callable",
    "from contextlib import contextmanager",
    "from typing import Any",
    "from abc import ABC",
]
DEPENDENCY = (
    "\n\nengine = create_engine('postgresql://x', pool_pre_ping=True)\nSessionLocal = sessionmaker(engine)\n"
    "app = FastAPI()\n\n\ndef get_db():\n    db = SessionLocal()\n    return db\n\n\n"
    "@app.get('/')\ndef index(db: Session = Depends(get_db)):\n    return []\n"
)
THIRD_PARTY_BLOCK = (
    "from fastapi import Depends, FastAPI\nfrom sqlalchemy import create_engine\n"
    "from sqlalchemy.orm import Session, sessionmaker"
)


@st.composite
def import_block(draw: st.DrawFn) -> str:
    """A module whose imports isort (ruff's `I` rules, default settings) accepts as they are."""
    plain = sorted(draw(st.sets(st.sampled_from(STDLIB_PLAIN))))
    froms = sorted(draw(st.sets(st.sampled_from(STDLIB_FROM))), key=lambda line: line.split()[1])
    stdlib = "\n".join([*plain, *froms])
    header = draw(st.sampled_from(["", '"""Doc."""\n\n', "from __future__ import annotations\n\n"]))
    return header + (stdlib + "\n\n" if stdlib else "") + THIRD_PARTY_BLOCK + DEPENDENCY


def _ruff_isort_accepts(data: bytes) -> bool:
    command = [
        sys.executable,
        "-m",
        "ruff",
        "check",
        "--isolated",
        "--select",
        "I",
        "--stdin-filename",
        "app.py",
        "-",
    ]
    return subprocess.run(command, input=data, capture_output=True).returncode == 0


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(import_block())
def test_an_added_import_keeps_isort_order_and_the_fix_is_idempotent(source: str) -> None:
    data = source.encode()
    assert _ruff_isort_accepts(data)
    with tempfile.TemporaryDirectory() as folder:  # a project of this file alone: the fix is safe
        name = str(Path(folder) / "app.py")
        fixed = check_stdin(data, name, SETTINGS, FIX)[1]
        assert fixed is not None and b"Iterator[Session]" in fixed
        _parses(fixed)
        assert check_stdin(fixed, name, SETTINGS, FIX)[1] == fixed
    assert _ruff_isort_accepts(fixed)
