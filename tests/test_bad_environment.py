"""A hostile environment never crashes a run: files too large to parse, symbolic link
loops, folders a thousand deep, configuration nested past the TOML parser, standard output
closed or full, Ctrl-C. Each case runs the real command from the folder above the project
(as a script or an editor would) next to `proj/good.py`, which holds one known SL005.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

GOOD = b'from sqlalchemy import create_engine\nengine = create_engine("postgresql://x")\n'
_LINE = re.compile(
    r"^(?P<path>.+?):(?P<row>\d+):(?P<column>\d+): (?P<code>SL\d{3})(?: \[\*\])? (?P<message>.*)$"
)


def run_above(tmp_path: Path, *args: str, **popen: object) -> subprocess.CompletedProcess[bytes]:
    """The real command, run from `tmp_path` on the project `tmp_path / "proj"` (holding
    `good.py`, one SL005)."""
    (tmp_path / "proj").mkdir(exist_ok=True)
    (tmp_path / "proj" / "good.py").write_bytes(GOOD)
    return subprocess.run(
        [sys.executable, "-m", "sessionlint", "check", "--no-cache", *args],
        cwd=tmp_path,
        capture_output=True,
        timeout=300,
        env={**os.environ, "NO_COLOR": "1", **popen.pop("env", {})},  # type: ignore[dict-item]
        **popen,  # type: ignore[arg-type]
    )


def findings_of(result: subprocess.CompletedProcess[bytes]) -> list[tuple[str, str, str]]:
    assert b"Traceback" not in result.stdout + result.stderr, result.stderr.decode()
    found = []
    for line in result.stdout.decode().splitlines():
        match = _LINE.match(line)
        if match:
            found.append((match["path"], match["code"], match["message"]))
    return found


GOOD_ABOVE = ("proj/good.py", "SL005")


def _address_space(limit: int):  # type: ignore[no-untyped-def]
    def apply() -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    return apply


@pytest.mark.skipif(sys.platform != "linux", reason="needs RLIMIT_AS")
def test_a_file_too_large_to_parse_is_skipped_naming_the_limit(tmp_path: Path) -> None:
    """4 MB of numbers on one line: 2.8 million tokens, which would take several GB to
    parse. (The address space is capped so that without the guard the run fails instead of
    taking the machine's memory.)"""
    (tmp_path / "proj").mkdir()
    (tmp_path / "proj" / "generated.py").write_bytes(
        b"from sqlalchemy import create_engine\nROWS = [" + b"1, " * 1_400_000 + b"]\n"
    )
    result = run_above(tmp_path, "proj", preexec_fn=_address_space(3 << 30))
    assert result.returncode == 1, result.stderr.decode()
    found = findings_of(result)
    assert [(path, code) for path, code, _ in found] == [("proj/generated.py", "SL000"), GOOD_ABOVE]
    message = found[0][2]
    assert "too large to check" in message and "250000 tokens" in message
    assert "SESSIONLINT_MAX_TOKENS" in message


def test_the_token_limit_counts_tokens_not_bytes(tmp_path: Path) -> None:
    """With a lower limit: a long string is one token (checked), many small ones are not."""
    (tmp_path / "proj").mkdir()
    engine = b'from sqlalchemy import create_engine\nengine = create_engine("postgresql://x")\n'
    (tmp_path / "proj" / "blob.py").write_bytes(engine + b"BLOB = b'" + b"\\x0a" * 50_000 + b"'\n")
    (tmp_path / "proj" / "table.py").write_bytes(engine + b"TABLE = [\n" + b"    (1, 2),\n" * 400 + b"]\n")
    result = run_above(tmp_path, "proj", env={"SESSIONLINT_MAX_TOKENS": "2000"})
    found = findings_of(result)
    assert [(path, code) for path, code, _ in found] == [
        ("proj/blob.py", "SL005"),
        GOOD_ABOVE,
        ("proj/table.py", "SL000"),
    ]
    assert "more than 2000 tokens" in found[2][2]


def test_a_symlink_loop_named_on_the_command_line(tmp_path: Path) -> None:
    (tmp_path / "proj").mkdir()
    (tmp_path / "proj" / "l1").symlink_to("l2")
    (tmp_path / "proj" / "l2").symlink_to("l1")
    result = run_above(tmp_path, "proj/l1", "proj/good.py")
    assert result.returncode == 1, result.stderr.decode()
    found = findings_of(result)
    assert [(path, code) for path, code, _ in found] == [GOOD_ABOVE, ("proj/l1", "SL000")]
    assert "symbolic links" in found[1][2]


def test_folders_nested_a_thousand_deep(tmp_path: Path) -> None:
    folder = tmp_path / "proj"
    folder.mkdir()
    relative = "proj"
    for _ in range(1_000):  # one by one: os.makedirs itself recurses per level
        relative += "/d"
        (tmp_path / relative).mkdir()
    (tmp_path / relative / "deep.py").write_bytes(GOOD)
    try:
        result = run_above(tmp_path, "proj")
    finally:
        # Removed here, bottom up: pytest's clean-up of old temporary folders recurses.
        (tmp_path / relative / "deep.py").unlink()
        while relative != "proj":
            (tmp_path / relative).rmdir()
            relative = relative.rpartition("/")[0]
        relative = "proj" + "/d" * 1_000
    assert result.returncode == 1, result.stderr.decode()
    assert [(path, code) for path, code, _ in findings_of(result)] == [
        (f"{relative}/deep.py", "SL005"),
        GOOD_ABOVE,
    ]


def test_configuration_nested_deeper_than_the_toml_parser_recurses(tmp_path: Path) -> None:
    """Valid TOML (an array 100 000 deep) that Python's parser cannot read: the file is named."""
    (tmp_path / "proj").mkdir()
    (tmp_path / "proj" / "pyproject.toml").write_bytes(
        b"[tool.sessionlint]\nselect = ['SL']\n[other]\nx = " + b"[" * 100_000 + b"]" * 100_000 + b"\n"
    )
    result = run_above(tmp_path, "proj")
    stderr = result.stderr.decode()
    assert result.returncode == 2, stderr
    assert "Traceback" not in stderr and "internal error" not in stderr, stderr
    assert "proj/pyproject.toml: cannot read: its TOML nests too deeply" in stderr, stderr


@pytest.mark.parametrize("stdout", ["closed", "full"])
@pytest.mark.parametrize("command", [("check", "--no-cache", "proj"), ("rules",)])
def test_standard_output_closed_or_full(tmp_path: Path, stdout: str, command: tuple[str, ...]) -> None:
    (tmp_path / "proj").mkdir()
    (tmp_path / "proj" / "good.py").write_bytes(GOOD)
    if stdout == "full" and not Path("/dev/full").exists():
        pytest.skip("needs /dev/full")
    redirect = ">&-" if stdout == "closed" else "> /dev/full"
    line = " ".join([shlex.quote(sys.executable), "-m", "sessionlint", *command, redirect])
    result = subprocess.run(["sh", "-c", line], cwd=tmp_path, capture_output=True, timeout=120)
    stderr = result.stderr.decode()
    assert result.returncode == 2, stderr
    reason = "it is closed" if stdout == "closed" else "No space left on device"
    assert stderr == f"error: cannot write to standard output: {reason}\n", stderr


# Runs the command as `python -m sessionlint` does, with a real SIGINT (Ctrl-C) sent to
# itself at a chosen moment: while `click` is being imported, or once the files are read.
_INTERRUPTED = """\
import builtins, os, runpy, signal, sys

moment = sys.argv.pop(1)
real_import = builtins.__import__

def importing(name, *args, **kwargs):
    if moment == "start-up" and name == "click":
        os.kill(os.getpid(), signal.SIGINT)
    return real_import(name, *args, **kwargs)

builtins.__import__ = importing
if moment == "later":
    import sessionlint.read.inputs

    def read_all(self):
        os.kill(os.getpid(), signal.SIGINT)

    sessionlint.read.inputs.RunInputs.read_all = read_all
sys.argv = ["sessionlint", *sys.argv[1:]]
runpy.run_module("sessionlint", run_name="__main__", alter_sys=True)
"""


@pytest.mark.parametrize("moment", ["start-up", "later"])
def test_ctrl_c_exits_130_without_a_traceback(tmp_path: Path, moment: str) -> None:
    (tmp_path / "proj").mkdir()
    (tmp_path / "proj" / "good.py").write_bytes(GOOD)
    result = subprocess.run(
        [sys.executable, "-c", _INTERRUPTED, moment, "check", "--no-cache", "proj"],
        cwd=tmp_path,
        capture_output=True,
        timeout=120,
    )
    assert result.returncode == 130, result.stderr.decode()
    assert result.stdout == b"" and result.stderr == b"", result.stderr.decode()
