"""The pre-commit hook, run by real pre-commit against temporary git repositories.

The hook repository is a copy of this working tree (tracked and untracked files that git
does not ignore) committed into a temporary git repository: uncommitted changes are what
is tested, and the real repository is never touched.

pre-commit builds a virtualenv and pip-installs the package into it (PyPI access needed;
tens of seconds). `pre-commit try-repo` always builds its environment in a throwaway store,
so it is used once, for the failing run; the other runs go through `pre-commit run` with a
config naming the same repository and revision, in a `PRE_COMMIT_HOME` shared by this
module, so they reuse one more environment.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BAD = 'from sqlalchemy import create_engine\n\nengine = create_engine("postgresql://db/app")\n'
FIXED = BAD.replace('app")', 'app", pool_pre_ping=True)')
CLEAN = FIXED

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="pre-commit needs git")


def git(*args: str, cwd: Path) -> str:
    result = subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, env=_git_env(), check=True
    )
    return result.stdout.strip()


def _git_env() -> dict[str, str]:
    return {
        **os.environ,
        "GIT_AUTHOR_NAME": "sessionlint tests",
        "GIT_AUTHOR_EMAIL": "tests@sessionlint.invalid",
        "GIT_COMMITTER_NAME": "sessionlint tests",
        "GIT_COMMITTER_EMAIL": "tests@sessionlint.invalid",
        "GIT_CONFIG_NOSYSTEM": "1",
    }


def new_repo(path: Path, files: dict[str, str]) -> Path:
    path.mkdir(parents=True)
    git("init", "-q", "-b", "main", cwd=path)
    for name, content in files.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(content)
    git("add", "-A", cwd=path)
    git("commit", "-q", "--no-verify", "-m", "files", cwd=path)
    return path


@pytest.fixture(scope="module")
def hook_repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """This working tree, committed into a temporary repository: (path, revision)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    copy = tmp_path_factory.mktemp("hook") / "sessionlint"
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():  # deleted but still tracked files are skipped
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, copy / name)
    git("init", "-q", "-b", "main", cwd=copy)
    git("add", "-A", cwd=copy)
    git("commit", "-q", "--no-verify", "-m", "working tree under test", cwd=copy)
    return copy, git("rev-parse", "HEAD", cwd=copy)


@pytest.fixture(scope="module")
def pre_commit_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pre-commit-home")


def pre_commit(*args: str, cwd: Path, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**_git_env(), "PRE_COMMIT_HOME": str(home), "NO_COLOR": "1"}
    env.pop("PRE_COMMIT", None)  # a pre-commit run of this repository's own hooks
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", *args, "--color", "never"],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )


def use_hook(repo: Path, hook_repo: tuple[Path, str], args: list[str]) -> None:
    path, rev = hook_repo
    (repo / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {path}\n    rev: {rev}\n    hooks:\n"
        f"      - id: sessionlint\n        args: {args!r}\n"
    )
    git("add", ".pre-commit-config.yaml", cwd=repo)


def test_try_repo_fails_on_a_bad_file(
    tmp_path: Path, hook_repo: tuple[Path, str], pre_commit_home: Path
) -> None:
    repo = new_repo(tmp_path / "project", {"app/db.py": BAD, "README.md": "not Python\n"})
    result = pre_commit(
        "try-repo", str(hook_repo[0]), "sessionlint", "--all-files", cwd=repo, home=pre_commit_home
    )
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "sessionlint" in output and "Failed" in output
    assert "app/db.py:3:10: SL005 [*] Engine is created without `pool_pre_ping=True`" in output
    assert (repo / "app" / "db.py").read_text() == BAD, "a check writes nothing"


def test_run_passes_on_a_clean_file(
    tmp_path: Path, hook_repo: tuple[Path, str], pre_commit_home: Path
) -> None:
    repo = new_repo(tmp_path / "project", {"app/db.py": CLEAN})
    use_hook(repo, hook_repo, [])
    result = pre_commit("run", "--all-files", cwd=repo, home=pre_commit_home)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "sessionlint" in output and "Passed" in output


def test_run_with_fix_rewrites_the_file(
    tmp_path: Path, hook_repo: tuple[Path, str], pre_commit_home: Path
) -> None:
    repo = new_repo(tmp_path / "project", {"app/db.py": BAD})
    use_hook(repo, hook_repo, ["--fix"])
    result = pre_commit("run", "--all-files", cwd=repo, home=pre_commit_home)
    output = result.stdout + result.stderr
    # pre-commit fails a hook that changed files, so the fix can be reviewed and staged.
    assert result.returncode == 1, output
    assert "files were modified by this hook" in output
    assert (repo / "app" / "db.py").read_text() == FIXED
    git("add", "-A", cwd=repo)
    again = pre_commit("run", "--all-files", cwd=repo, home=pre_commit_home)
    assert again.returncode == 0, again.stdout + again.stderr
