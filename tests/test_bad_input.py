"""Bad input never crashes a run: each case ends in a clear SL000 (or config error) naming
the file and the reason, the exit code SPEC.md gives, no traceback, and the other files of
the same run still checked.

Every file case runs through the command next to `good.py` (a known SL005), in its own
folder; the cases are checked up front. Those that strain the parser (deep nesting, 5 MB)
run the real CLI in subprocesses, a few at a time: a stack overflow there would end the
process. The others, the paths and the configurations run the command's entry point in
this process (`run_in_process`), but for a few through the real CLI. Cases that need a race
or a permission root cannot produce run in-process with a monkeypatch.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from sessionlint.entry.run import RunOptions, check_paths
from sessionlint.settings.config import Settings
from tests.fixture_cases import run_cli, run_in_process

GOOD = b'from sqlalchemy import create_engine\nengine = create_engine("postgresql://x")\n'
GOOD_FINDING = ("good.py", 2, 10, "SL005")
_LINE = re.compile(
    r"^(?P<path>.+?):(?P<row>\d+):(?P<column>\d+): (?P<code>SL\d{3})(?: \[\*\])? (?P<message>.*)$"
)


@dataclass(frozen=True)
class Finding:
    path: str
    row: int
    column: int
    code: str
    message: str


@dataclass
class Outcome:
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    findings: list[Finding] = field(default_factory=list)

    def of(self, path: str) -> list[Finding]:
        return [f for f in self.findings if f.path == path]


def run(folder: Path, *args: str, process: bool = False) -> Outcome:
    """`check --no-cache ARGS` from `folder`; `process`: the real CLI in a subprocess."""
    started = time.monotonic()
    result = (run_cli if process else run_in_process)("check", "--no-cache", *args, cwd=folder)
    seconds = time.monotonic() - started
    stdout = result.stdout.decode("utf-8", "replace")
    stderr = result.stderr.decode("utf-8", "replace")
    findings = []
    for line in stdout.splitlines():
        match = _LINE.match(line)
        if match:
            findings.append(
                Finding(
                    match["path"],
                    int(match["row"]),
                    int(match["column"]),
                    match["code"],
                    match["message"],
                )
            )
    return Outcome(result.returncode, stdout, stderr, seconds, findings)


def assert_no_traceback(outcome: Outcome) -> None:
    assert "Traceback" not in outcome.stdout and "Traceback" not in outcome.stderr, (
        outcome.stdout + outcome.stderr
    )


def assert_good_still_checked(outcome: Outcome) -> None:
    reported = {(f.path, f.row, f.column, f.code) for f in outcome.findings}
    assert GOOD_FINDING in reported, outcome.stdout + outcome.stderr


# -- files whose content is the problem -------------------------------------------------------

PY314 = (
    b"from sqlalchemy.orm import Session\n"
    b"from sqlalchemy import create_engine\n"
    b"try:\n"
    b"    pass\n"
    b"except ValueError, TypeError:\n"  # PEP 758 (Python 3.14): parsed by LibCST
    b"    pass\n"
    b'engine = create_engine("postgresql://y")\n'
)


@dataclass(frozen=True)
class FileCase:
    """A file `bad.py` with `content`; `expect` is its exact findings as (row, column, code,
    part of the message), a None position matching any; `timeout` bounds the run's wall
    time in seconds; `process`: run the real CLI in a subprocess (a file that strains the
    parser, whose failure could take the process down)."""

    id: str
    content: bytes
    expect: tuple[tuple[int | None, int | None, str, str], ...]
    timeout: float = 60.0
    process: bool = False


FILE_CASES = [
    FileCase(
        "syntax-error",
        b"from sqlalchemy.orm import Session\ndef f(:\n    pass\n",
        ((2, 7, "SL000", "SyntaxError"),),
    ),
    FileCase(
        "unclosed-bracket-at-end",  # a half-written file
        b"from sqlalchemy.orm import Session\nfrom sqlalchemy import create_engine\nengine = create_engine(\n",
        ((3, 23, "SL000", "SyntaxError: '(' was never closed"),),
    ),
    FileCase("python-3.14-syntax", PY314, ((7, 10, "SL005", "pool_pre_ping"),)),
    FileCase(
        "python-3.14-syntax-broken-too",  # the error named is the real one, not the except
        PY314 + b"def broken(:\n",
        ((8, 1, "SL000", "SyntaxError: expected one of ), *, **, NAME"),),
    ),
    FileCase(
        "not-utf8",
        b"from sqlalchemy.orm import Session\nx = '\xff\xfe'\n",
        ((2, 1, "SL000", "cannot decode file as utf-8"),),
    ),
    FileCase(
        "bad-encoding-cookie",
        b"# -*- coding: klingon -*-\nfrom sqlalchemy.orm import Session\n",
        ((1, 1, "SL000", "encoding"),),
    ),
    FileCase(
        "latin-1-cookie",  # columns count characters, the file decodes with its cookie
        b"# -*- coding: latin-1 -*-\n"
        b"from sqlalchemy import create_engine\n"
        b'name = "\xe9\xe9"; engine = create_engine("postgresql://\xe9")\n',
        ((3, 23, "SL005", "pool_pre_ping"),),
    ),
    FileCase(
        "utf8-non-ascii-before-the-call",  # columns are characters, not bytes
        'from sqlalchemy import create_engine\nname = "éé"; engine = create_engine("postgresql://x")\n'.encode(),
        ((2, 23, "SL005", "pool_pre_ping"),),
    ),
    FileCase(
        "utf8-bom",  # the BOM is not a column
        b'\xef\xbb\xbffrom sqlalchemy import create_engine; engine = create_engine("postgresql://x")\n',
        ((1, 48, "SL005", "pool_pre_ping"),),
    ),
    FileCase(
        "only-a-bom",
        b"\xef\xbb\xbf",
        (),
    ),
    FileCase(
        "crlf",
        b'from sqlalchemy import create_engine\r\n\r\nengine = create_engine("postgresql://x")\r\n',
        ((3, 10, "SL005", "pool_pre_ping"),),
    ),
    FileCase(
        "mixed-line-endings",  # LF, CRLF and a lone CR each end a line
        b"import sqlalchemy\rfrom sqlalchemy import create_engine\r\nx = 1\n"
        b'engine = create_engine("postgresql://x")\r\ny = 2\r',
        ((4, 10, "SL005", "pool_pre_ping"),),
    ),
    FileCase(
        "no-trailing-newline",
        b'from sqlalchemy import create_engine\nengine = create_engine("postgresql://x")',
        ((2, 10, "SL005", "pool_pre_ping"),),
    ),
    FileCase(
        "nul-bytes", b"from sqlalchemy.orm import Session\nx = 1\x00\n", ((1, 1, "SL000", "NUL bytes"),)
    ),
    FileCase(
        "binary-named-py",
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR sqlalchemy Session \xff\xd8\xff" + bytes(range(256)),
        ((1, 1, "SL000", "NUL bytes"),),
    ),
    FileCase("empty", b"", ()),
    FileCase("only-blank-lines", b"\n\n   \n\t\n", ()),
    FileCase(
        "form-feed-and-tabs",
        b"from sqlalchemy.orm import Session\n\x0c\nfrom sqlalchemy import create_engine\n"
        b'if True:\n\tengine = create_engine("postgresql://x")\n',
        ((5, 11, "SL005", "pool_pre_ping"),),
    ),
    # -- nesting: CPython's own limits, LibCST's native stack, Python's recursion limit --------
    FileCase(
        "5000-nested-parentheses",
        b"from sqlalchemy.orm import Session\nx = " + b"(" * 5000 + b"1" + b")" * 5000 + b"\n",
        ((2, 205, "SL000", "too many nested parentheses"),),
        process=True,
    ),
    FileCase(
        "100k-nested-parentheses-after-newer-syntax",  # ast fails early; LibCST must not try
        PY314 + b"x = " + b"(" * 100_000 + b")" * 100_000 + b"\n",
        ((8, 205, "SL000", "too many nested parentheses"),),
        process=True,
    ),
    FileCase(
        "100k-unary-minus-after-newer-syntax",  # ast fails on the except; LibCST must not try
        PY314 + b"x = " + b"-" * 100_000 + b"a\n",
        ((1, 1, "SL000", "too deeply nested"),),
        process=True,
    ),
    FileCase(
        "100k-chained-plus",
        b"from sqlalchemy.orm import Session\nx = " + b" + ".join([b"a"] * 100_000) + b"\n",
        ((1, 1, "SL000", "too deeply nested"),),
        process=True,
    ),
    FileCase(
        "30k-chained-and",  # flat for CPython, one level per operator for LibCST
        b"from sqlalchemy.orm import Session\nx = " + b" and ".join([b"a"] * 30_000) + b"\n",
        ((1, 1, "SL000", "too deeply nested"),),
        process=True,
    ),
    FileCase(
        "5000-implicitly-concatenated-strings",  # fine for CPython, beyond LibCST's parser
        b"from sqlalchemy.orm import Session\nfrom sqlalchemy import create_engine\nx = ("
        + b" ".join([b"'a'"] * 5000)
        + b")\n"
        + b'engine = create_engine("postgresql://x")\n',
        ((None, None, "SL000", "LibCST cannot parse this file, Python can: SyntaxError:"),),  # its place
        process=True,
    ),
    FileCase(
        "10k-elif",
        b"from sqlalchemy.orm import Session\nif a:\n    pass\n" + b"elif a:\n    pass\n" * 10_000,
        ((1, 1, "SL000", "too deeply nested"),),
        process=True,
    ),
    FileCase(
        "deep-but-valid-is-still-checked",  # past Python's default recursion limit for LibCST
        b"from sqlalchemy.orm import Session\nfrom sqlalchemy import create_engine\n"
        b"x = " + b"[" * 150 + b"]" * 150 + b"\n"
        b"y = " + b" + ".join([b"a"] * 900) + b"\n"
        b"z = f" + b"()" * 300 + b"\n"
        b"w = " + b" or ".join([b"a"] * 3000) + b"\n"
        b'engine = create_engine("postgresql://x")\n',
        ((7, 10, "SL005", "pool_pre_ping"),),
        process=True,
    ),
]


def _five_megabytes() -> bytes:
    """A generated module the way generators write them: a serialized blob on one line
    (protobuf's `_pb2.py`), a table of data, and many small functions.

    (A 5 MB file of nothing but small nodes is slower: LibCST's position metadata for the
    one finding costs a code generation of the whole module.)"""
    parts = [b"from sqlalchemy.orm import Session\nfrom sqlalchemy import create_engine\n\n"]
    parts.append(b"DESCRIPTOR = b'" + b"\\x0a\\x1bsessionlint" * 270_000 + b"'\n\n")
    parts.append(
        b"ROWS = [\n" + b"".join(b"    (%d, 'row-%d', %d.5),\n" % (i, i, i) for i in range(2_000)) + b"]\n"
    )
    for i in range(1_000):
        parts.append(
            b"\n\ndef handler_%d(items):\n    return [item * %d for item in items if item]\n" % (i, i)
        )
    parts.append(b'\nengine = create_engine("postgresql://x")\n')
    data = b"".join(parts)
    assert len(data) >= 5_000_000
    return data


FIVE_MB = _five_megabytes()
FILE_CASES.append(
    FileCase("5mb-generated", FIVE_MB, ((FIVE_MB.count(b"\n"), 10, "SL005", "pool_pre_ping"),), 120, True)
)


@pytest.fixture(scope="module")
def file_outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome]:
    # Folders first, in this thread: pytest creates its base folder on first use, and
    # threads racing to do that fail at random.
    folders = {case.id: tmp_path_factory.mktemp(case.id) for case in FILE_CASES}

    def check(case: FileCase) -> tuple[str, Outcome]:
        folder = folders[case.id]
        (folder / "good.py").write_bytes(GOOD)
        (folder / "bad.py").write_bytes(case.content)
        return case.id, run(folder, process=case.process)

    # The in-process runs first, one at a time (`run_in_process` changes the working folder
    # and the environment), then the subprocesses a few at a time.
    outcomes = dict(check(case) for case in FILE_CASES if not case.process)
    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes.update(pool.map(check, [case for case in FILE_CASES if case.process]))
    return outcomes


@pytest.mark.parametrize("case", FILE_CASES, ids=lambda case: case.id)
def test_bad_file(case: FileCase, file_outcomes: dict[str, Outcome]) -> None:
    outcome = file_outcomes[case.id]
    assert_no_traceback(outcome)
    assert outcome.returncode == 1, outcome.stdout + outcome.stderr  # findings (SL000 included)
    assert_good_still_checked(outcome)
    found = [(f.row, f.column, f.code) for f in outcome.of("bad.py")]
    expected = [
        (found_row if row is None else row, found_column if column is None else column, code)
        for (row, column, code, _), (found_row, found_column, _) in zip(case.expect, found)
    ]
    assert found == expected and len(found) == len(case.expect), outcome.stdout
    for finding, (*_, text) in zip(outcome.of("bad.py"), case.expect):
        assert text in finding.message, finding.message
    assert outcome.seconds < case.timeout


# -- paths that are the problem ---------------------------------------------------------------


def test_path_that_does_not_exist(tmp_path: Path) -> None:
    (tmp_path / "good.py").write_bytes(GOOD)
    outcome = run(tmp_path, "missing.py", "missing_folder", "good.py")
    assert_no_traceback(outcome)
    assert outcome.returncode == 1
    assert_good_still_checked(outcome)
    assert [(f.path, f.code) for f in outcome.findings if f.code == "SL000"] == [
        ("missing.py", "SL000"),
        ("missing_folder", "SL000"),
    ]
    assert all("No such file or directory" in f.message for f in outcome.findings if f.code == "SL000")


def test_non_python_file_passed_explicitly(tmp_path: Path) -> None:
    (tmp_path / "good.py").write_bytes(GOOD)
    (tmp_path / "notes.txt").write_bytes(b"create_engine('postgresql://x') with sqlalchemy\n")
    (tmp_path / "README.md").write_bytes(
        b"from sqlalchemy.orm import Session\n"
    )  # found by the walk: skipped
    outcome = run(tmp_path, "notes.txt", ".")
    assert_no_traceback(outcome)
    assert outcome.returncode == 1
    assert_good_still_checked(outcome)
    errors = [f for f in outcome.findings if f.code == "SL000"]
    assert [f.path for f in errors] == ["notes.txt"]
    assert "not a Python file" in errors[0].message


def test_symlink_loops_and_links_out_of_the_tree(tmp_path: Path) -> None:
    project, outside = tmp_path / "project", tmp_path / "outside"
    (project / "pkg").mkdir(parents=True)
    outside.mkdir()
    (project / "good.py").write_bytes(GOOD)
    (outside / "elsewhere.py").write_bytes(GOOD)
    (project / "pkg" / "loop").symlink_to("..")  # a loop back to the project
    (project / "pkg" / "self").symlink_to("self")  # a link to itself (ELOOP)
    (project / "pkg" / "again.py").symlink_to("../good.py")  # the same file twice
    (project / "outside").symlink_to(outside)  # out of the tree: not followed
    (project / "dangling.py").symlink_to(tmp_path / "missing.py")  # an editor's lock file, say
    outcome = run(project, ".", process=True)
    assert_no_traceback(outcome)
    assert outcome.returncode == 1
    assert [(f.path, f.row, f.column, f.code) for f in outcome.findings] == [GOOD_FINDING]

    # Named explicitly, a link is checked, and a fix writes its target, keeping the link.
    outcome = run(project, "--fix", "outside/elsewhere.py", "pkg/again.py", "good.py")
    assert_no_traceback(outcome)
    assert outcome.returncode == 0, outcome.stdout + outcome.stderr
    assert (project / "pkg" / "again.py").is_symlink()
    assert b"pool_pre_ping=True" in (outside / "elsewhere.py").read_bytes()
    assert b"pool_pre_ping=True" in (project / "good.py").read_bytes()


def test_one_folder_named_by_several_spellings(tmp_path: Path) -> None:
    """`src`, `src/`, `./src`, a path through `..` and a link to the folder are one folder:
    each file is checked (and would be fixed) once, shown as first reached."""
    project = tmp_path / "project"
    (project / "src" / "pkg").mkdir(parents=True)
    (project / "src" / "pkg" / "good.py").write_bytes(GOOD)
    (project / "linked").symlink_to("src")
    outcome = run(project, "src", "src/", "./src", "src/pkg/../pkg", "linked", "src/pkg/good.py")
    assert_no_traceback(outcome)
    assert [(f.path, f.code) for f in outcome.findings] == [("src/pkg/good.py", "SL005")]
    outcome = run(project, "linked/")
    assert [(f.path, f.code) for f in outcome.findings] == [("linked/pkg/good.py", "SL005")]


def test_dangling_symlink_passed_explicitly(tmp_path: Path) -> None:
    """A file that disappeared between the user naming it and the run reading it."""
    (tmp_path / "good.py").write_bytes(GOOD)
    (tmp_path / "gone.py").symlink_to(tmp_path / "deleted.py")
    outcome = run(tmp_path, "gone.py", "good.py")
    assert_no_traceback(outcome)
    assert outcome.returncode == 1
    assert_good_still_checked(outcome)
    assert [(f.path, f.code) for f in outcome.findings if f.code == "SL000"] == [("gone.py", "SL000")]


def test_syntax_warnings_are_not_ours_to_print(tmp_path: Path) -> None:
    """Code CPython warns about (an invalid escape, `is` with a literal) is checked quietly,
    even where warnings are errors."""
    (tmp_path / "good.py").write_bytes(GOOD)
    (tmp_path / "warns.py").write_bytes(
        b'from sqlalchemy import create_engine\npattern = "\\d+"\nsame = pattern is "x"\n'
        b'engine = create_engine("postgresql://x")\n'
    )
    for flags in ([], ["-W", "error"]):
        result = subprocess.run(
            [sys.executable, *flags, "-m", "sessionlint", "check", "--no-cache", "."],
            cwd=tmp_path,
            capture_output=True,
            timeout=120,
        )
        assert result.returncode == 1
        assert result.stderr == b""
        assert b"warns.py:4:10: SL005" in result.stdout and b"SL000" not in result.stdout


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_named_pipe_is_not_read(tmp_path: Path) -> None:
    """Reading a FIFO blocks until someone writes to it: the run would hang."""
    (tmp_path / "good.py").write_bytes(GOOD)
    os.mkfifo(tmp_path / "pipe.py")
    outcome = run(tmp_path, "pipe.py", ".")  # named, and met by the walk (which skips it)
    assert_no_traceback(outcome)
    assert outcome.returncode == 1
    assert_good_still_checked(outcome)
    errors = [f for f in outcome.findings if f.code == "SL000"]
    assert [(f.path, f.message) for f in errors] == [
        ("pipe.py", "not a regular file (a pipe, socket or device): not read")
    ]


def test_report_file_that_cannot_be_written(tmp_path: Path) -> None:
    (tmp_path / "good.py").write_bytes(GOOD)
    outcome = run(tmp_path, "--output-file", "missing/report.txt", "good.py", process=True)
    assert_no_traceback(outcome)
    assert outcome.returncode == 2
    assert "error: cannot write the report to missing/report.txt: No such file or directory" in outcome.stderr


def test_file_name_that_is_not_utf8(tmp_path: Path) -> None:
    (tmp_path / "good.py").write_bytes(GOOD)
    with open(os.path.join(os.fsencode(tmp_path), b"caf\xe9.py"), "wb") as handle:
        handle.write(GOOD)
    outcome = run(tmp_path, ".", process=True)
    assert_no_traceback(outcome)
    assert outcome.returncode == 1
    assert_good_still_checked(outcome)
    assert ("caf\\xe9.py", 2, 10, "SL005") in {(f.path, f.row, f.column, f.code) for f in outcome.findings}


def test_deep_but_valid_code_through_the_python_api() -> None:
    """`check_source` gets the same big stack as the command line (the caller's thread has
    8 MB and a recursion limit of 1000: LibCST would crash or give up on these)."""
    from sessionlint import check_source

    source = (
        "from sqlalchemy import create_engine\n"
        f"w = {' or '.join(['a'] * 4000)}\n"
        f"z = f{'()' * 300}\n"
        f"y = {'-' * 2500}a\n"
        'engine = create_engine("postgresql://x")\n'
    )
    assert [(d.code, d.location.row) for d in check_source(source, "app.py")] == [("SL005", 5)]


# -- races and permissions (in-process: root reads everything, and a race needs timing) --------


def _check_in(folder: Path, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, str]]:
    monkeypatch.chdir(folder)
    report = check_paths([Path(".")], Settings(root=folder), RunOptions(use_cache=False))
    assert not report.internal_errors
    return [(d.path, d.code, d.message) for d in report.diagnostics]


def test_file_deleted_between_discovery_and_reading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sessionlint.read.inputs

    (tmp_path / "good.py").write_bytes(GOOD)
    (tmp_path / "vanishing.py").write_bytes(GOOD)
    discover = sessionlint.read.inputs.discover

    def discover_then_delete(*args, **kwargs):  # type: ignore[no-untyped-def]
        found = discover(*args, **kwargs)
        (tmp_path / "vanishing.py").unlink()
        return found

    monkeypatch.setattr(sessionlint.read.inputs, "discover", discover_then_delete)
    found = _check_in(tmp_path, monkeypatch)
    assert ("vanishing.py", "SL000", "cannot read file: No such file or directory") in found
    assert ("good.py", "SL005") in {(path, code) for path, code, _ in found}


def test_file_unreadable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "good.py").write_bytes(GOOD)
    (tmp_path / "secret.py").write_bytes(GOOD)
    # Tests run as root, whom file modes do not stop: the refusal is simulated.
    os_open = os.open

    def denied(path, *args, **kwargs):  # type: ignore[no-untyped-def]
        if os.path.basename(os.fspath(path)) == "secret.py":
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return os_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", denied)
    found = _check_in(tmp_path, monkeypatch)
    assert ("secret.py", "SL000", "cannot read file: Permission denied") in found
    assert ("good.py", "SL005") in {(path, code) for path, code, _ in found}


def test_folder_permission_denied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "good.py").write_bytes(GOOD)
    (tmp_path / "locked").mkdir()
    (tmp_path / "locked" / "inside.py").write_bytes(GOOD)
    scandir = os.scandir

    def denied(path):  # type: ignore[no-untyped-def]
        if os.path.basename(os.fspath(path)) == "locked":
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return scandir(path)

    monkeypatch.setattr(os, "scandir", denied)
    found = _check_in(tmp_path, monkeypatch)
    assert ("locked", "SL000", "Permission denied") in found
    assert ("good.py", "SL005") in {(path, code) for path, code, _ in found}
    assert not any(path.startswith("locked/") for path, _, _ in found)


# -- configuration (exit 2, the message names the file and the key) ----------------------------

CONFIG_CASES = [
    ("not-toml", b"[tool.sessionlint\nselect = ['SL']\n", "not valid TOML"),
    ("not-utf8-toml", b"[tool.sessionlint]\nselect = ['SL']\n# \xff\xfe\n", "not valid TOML"),
    # A pyproject.toml that does not name the tool is not read at all (most in a monorepo).
    ("tool-not-a-table", b"# sessionlint\ntool = 5\n", "`tool` must be a table"),
    ("section-not-a-table", b"[tool]\nsessionlint = 3\n", "[tool.sessionlint] must be a table"),
    ("select-a-string", b"[tool.sessionlint]\nselect = 'SL005'\n", "`select` must be a list of strings"),
    ("exclude-a-number", b"[tool.sessionlint]\nexclude = 3\n", "`exclude` must be a list of strings"),
    ("names-not-strings", b"[tool.sessionlint]\ndependency-names = [1, 2]\n", "`dependency-names`"),
    ("per-file-ignores-a-list", b"[tool.sessionlint]\nper-file-ignores = ['x']\n", "`per-file-ignores`"),
    (
        "per-file-ignores-codes-a-string",
        b"[tool.sessionlint]\nper-file-ignores = {'app/*.py' = 'SL005'}\n",
        "`per-file-ignores.app/*.py` must be a list of strings",
    ),
    ("unknown-key", b"[tool.sessionlint]\nselct = ['SL']\n", "unknown key `selct`"),
    ("unknown-code", b"[tool.sessionlint]\nignore = ['SL999']\n", "unknown rule code or prefix `SL999`"),
]


@pytest.mark.parametrize(
    ("config", "reason"), [c[1:] for c in CONFIG_CASES], ids=[c[0] for c in CONFIG_CASES]
)
def test_bad_configuration(config: bytes, reason: str, tmp_path: Path) -> None:
    (tmp_path / "good.py").write_bytes(GOOD)
    (tmp_path / "pyproject.toml").write_bytes(config)
    outcome = run(tmp_path, ".")
    assert_no_traceback(outcome)
    assert outcome.returncode == 2, outcome.stdout + outcome.stderr
    assert "pyproject.toml" in outcome.stderr and reason in outcome.stderr, outcome.stderr


def test_missing_config_file(tmp_path: Path) -> None:
    (tmp_path / "good.py").write_bytes(GOOD)
    outcome = run(tmp_path, "--config", "nope.toml", ".", process=True)
    assert_no_traceback(outcome)
    assert outcome.returncode == 2
    assert "nope.toml" in outcome.stderr and "not found" in outcome.stderr


def test_closed_stdout_is_not_a_traceback(tmp_path: Path) -> None:
    """`sessionlint check | head -1`: the reader goes away mid-report."""
    for index in range(300):
        (tmp_path / f"m{index}.py").write_bytes(GOOD)
    process = subprocess.Popen(
        [sys.executable, "-m", "sessionlint", "check", "--no-cache", "."],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.readline()
    process.stdout.close()
    stderr = process.stderr.read()
    process.wait(timeout=120)
    assert b"Traceback" not in stderr, stderr
