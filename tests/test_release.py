"""The release path: `python -m build` makes an sdist and a wheel (the wheel built from the
sdist, so the sdist is complete), and the wheel installs into a clean virtualenv whose
`sessionlint` command reports its version and finds a bug in a project.
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

import sessionlint

REPO = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


def _run(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    return subprocess.run(
        [str(a) for a in args], cwd=cwd, capture_output=True, text=True, env=env, timeout=600
    )


def test_built_wheel_installs_into_a_clean_virtualenv_and_runs(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    built = _run(sys.executable, "-m", "build", "--outdir", dist, REPO, cwd=tmp_path)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    version = sessionlint.__version__
    assert (dist / f"sessionlint-{version}.tar.gz").is_file()
    (wheel,) = dist.glob(f"sessionlint-{version}-py3-none-any.whl")

    environment = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True, clear=True).create(environment)
    python = environment / "bin" / "python"
    installed = _run(
        python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", wheel, cwd=tmp_path
    )
    assert installed.returncode == 0, installed.stderr[-3000:]
    command = environment / "bin" / "sessionlint"

    shown = _run(command, "--version", cwd=tmp_path)
    assert shown.returncode == 0 and version in shown.stdout

    project = tmp_path / "project"
    project.mkdir()
    (project / "db.py").write_text(
        "from sqlalchemy import create_engine\n\nengine = create_engine('postgresql://db/app')\n"
    )
    checked = _run(command, "check", "--no-cache", "project", cwd=tmp_path)
    assert checked.returncode == 1, checked.stderr
    assert "SL005" in checked.stdout and "db.py:3:10" in checked.stdout
    # The installed package is the wheel's, not this checkout's.
    where = _run(python, "-c", "import sessionlint; print(sessionlint.__file__)", cwd=tmp_path)
    assert str(environment) in where.stdout
