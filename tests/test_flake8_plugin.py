"""The flake8 plugin, run by real flake8 in a subprocess over every fixture case.

flake8 checks one file at a time, so the plugin cannot see facts that live in other files
(see the `sessionlint.entry.flake8_plugin` docstring). Every case on which flake8 and the inline
expectations differ is listed in `DIFFERS` with the reason; a listed case that stops
differing fails too, so the list stays honest.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from tests.fixture_cases import Case, Expected, all_cases, matches, run_cli

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

CASES = all_cases()

# Why a file alone cannot tell what `sessionlint check` sees in the whole tree.
_FACTORY = (
    "the session factory is defined (or re-exported) in another module: "
    "alone, the file does not know that calling it makes a session"
)
_DEPENDENCY = (
    "the function is used as a FastAPI dependency only in another module: "
    "alone, the file does not know it is one"
)
_ALIAS = (
    "the `Annotated[Session, Depends(...)]` alias is defined in another module: "
    "alone, the file does not know what the parameter is"
)
_CONSTRUCTOR = (
    "the engine constructor is re-exported by another module: alone, the file does not know "
    "that the call builds an engine"
)
_PROVIDED = (
    "the dependency is imported from another module: "
    "alone, the file cannot tell what kind of session it provides"
)

_SCRIPT_IMPORTED = (
    "the module under `scripts/` is imported by an application module: alone, it looks like a "
    "one-shot script, where the rule does not apply"
)

_NOQA_IS_FLAKE8S = (
    "`# noqa` is flake8's business under flake8 (its own unused-noqa checks are plugins'): "
    "the plugin reports what the rules find and never SL100"
)

_WHOLE_PROJECT = (
    "that nothing disposes the engine / removes the registry's sessions is concluded only by a "
    "run that knows the whole project: flake8 checks one file at a time"
)

# Case id -> why flake8's single-file view differs from the inline expectations.
DIFFERS: dict[str, str] = {
    "SL004/ok_annotation_contradicted_across_modules": (
        "`db` is only handed to `advisory_lock` in another module, whose awaits contradict the "
        "`Session` annotation: alone, the file sees only the annotation and reports it"
    ),
    "SL100/flag_stale_suppressions.py": _NOQA_IS_FLAKE8S,
    "SL100/flag_file_without_database_code.py": _NOQA_IS_FLAKE8S,
    "SL100/flag_per_file_ignores": _NOQA_IS_FLAKE8S,
    "SL001/flag_crossfile_annotated_alias": _DEPENDENCY + " (through an alias in a third module)",
    "SL001/flag_crossfile_factory_reexported": _FACTORY,
    "SL001/flag_crossfile_imported_under_other_name": _FACTORY,
    "SL001/flag_crossfile_src_layout": _FACTORY,
    "SL001/flag_layered_app": _FACTORY,
    "SL001/ok_crossfile_direct_caller": (
        "`get_db` is in `dependency-names` and another module calls it directly, which makes it "
        "that caller's session, not a dependency: alone, the file does not see the caller and reports it"
    ),
    "SL001/flag_monorepo_same_package_name": (
        "billing's `get_db` is in `dependency-names` and billing's own job calls it directly: "
        "alone, the file does not see the caller and reports it"
    ),
    "SL002/flag_crossfile_factory": _FACTORY,
    "SL002/flag_crossfile_helper_reached_late": _FACTORY + " (through a helper and a re-export)",
    "SL003/flag_crossfile_reexported_constructor": _CONSTRUCTOR,
    "SL004/flag_alias_in_other_module": _ALIAS,
    "SL005/flag_crossfile_reexported_constructor": _CONSTRUCTOR,
    "SL004/flag_dependency_renamed_import": _PROVIDED,
    "SL004/flag_factory_reexported": _FACTORY,
    "SL004/flag_relative_imports": _ALIAS + "; " + _FACTORY,
    "SL005/ok_sqlite_constant_imported": (
        "the SQLite URL is a constant in another module: alone, the file cannot tell that "
        "the engine is SQLite, so SL005 is reported"
    ),
    "SL006/flag_crossfile_reexported_class": (
        "`AsyncSession` is re-exported by another module: alone, the file does not know that "
        "`class_=AsyncSession` makes an async factory"
    ),
    "SL007/flag_crossfile_alias": _ALIAS,
    "SL007/flag_crossfile_renamed_dependency": _PROVIDED,
    "SL008/flag_crossfile_reexported_factory": _FACTORY,
    "SL009/flag_crossfile_alias": _ALIAS,
    "SL009/flag_crossfile_package_attribute_shadows_submodule": (
        "the `async_scoped_session` registry is re-exported by a package `__init__`: alone, "
        "the file does not know that `session` is an async session registry"
    ),
    "SL009/flag_crossfile_reexported_factory": _FACTORY,
    "SL009/flag_crossfile_renamed_dependency": _PROVIDED,
    "SL002/flag_crossfile_function_local_import": _FACTORY + " (imported inside the function)",
    "SL003/flag_scripts_folder_imported": _SCRIPT_IMPORTED,
    "SL004/flag_crossfile_blocking_call": (
        "the function that opens the sync session is in another module: alone, the endpoint's "
        "call of it is a call of an unknown function"
    ),
    "SL005/flag_scripts_folder_imported": _SCRIPT_IMPORTED,
    "SL010/flag_crossfile_dependency": _PROVIDED + " and what `crud.item_with_owner` does with it",
    "SL010/flag_crossfile_helper_gathers": _PROVIDED + " and that `load_page` gathers coroutines using it",
    "SL010/flag_task_starter_reexported": (
        "`start_in_background` is `asyncio.create_task` re-exported by another module: alone, the "
        "file does not know that the call starts a task"
    ),
    **dict.fromkeys(
        [
            *(
                f"SL011/{name}"
                for name in ("flag_never_removed.py", "flag_removed_only_on_the_event_loop.py")
            ),
            *(f"SL011/{name}" for name in ("flag_crossfile_service", "flag_removed_only_by_tests")),
            *(f"SL012/{name}" for name in ("flag_module_level_engine.py", "flag_made_in_lifespan.py")),
            *(
                f"SL012/{name}"
                for name in ("flag_shutdown_hook_no_fix.py", "flag_disposed_by_unrelated_engine.py")
            ),
            *(f"SL012/{name}" for name in ("flag_crossfile_lifespan", "flag_disposed_only_by_test_fixture")),
            "SL012/flag_lifespan_file_names_no_engine",
            "SL012/flag_made_through_wrapper.py",
        ],
        _WHOLE_PROJECT,
    ),
    "SL013/flag_crossfile_script": (
        "the session generator is defined in another module: alone, the script does not know "
        "that `provide_session()` creates and yields a session"
    ),
}

# `[tool.sessionlint]` keys that have a flake8 option of their own.
_FLAKE8_OPTIONS = ("dependency-names", "session-factories", "engine-constructors")
_LINE = re.compile(r"^(?P<path>.+?):(?P<row>\d+):(?P<col>\d+): (?P<code>[A-Z]+\d+) (?P<text>.*)$")


def flake8(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Real flake8, in a subprocess, with the sessionlint plugin found by its entry point."""
    return subprocess.run(
        [sys.executable, "-m", "flake8", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
        timeout=300,
    )


def parse_output(stdout: str) -> list[tuple[str, int, int, str, str]]:
    """(path, row, 1-based column, code, message) per line of flake8's default format."""
    found = []
    for line in stdout.splitlines():
        match = _LINE.match(line)
        assert match is not None, f"unexpected flake8 output line: {line!r}"
        path = match["path"][2:] if match["path"].startswith("./") else match["path"]
        found.append((path, int(match["row"]), int(match["col"]), match["code"], match["text"]))
    return found


def flake8_args(case: Case) -> tuple[str, ...]:
    """The case's `# config:` lines as flake8 options (keys without one are left out)."""
    table = tomllib.loads("\n".join(case.config_lines()))
    return tuple(f"--sessionlint-{key}={','.join(table[key])}" for key in _FLAKE8_OPTIONS if key in table)


@pytest.fixture(scope="module")
def flake8_results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, set[Expected]]:
    """Every case checked by flake8: one run (with `-j 2`) per distinct set of options.

    Each case sits in its own neutral folder (`c0`, `c1`, ...): the plugin analyses files
    one by one, so cases cannot see each other, and the folder names carry no meaning
    (`tests`, `alembic`, `migrations`) that the rules look at.
    """
    groups: dict[tuple[str, ...], list[Case]] = defaultdict(list)
    for case in CASES:
        groups[flake8_args(case)].append(case)
    results: dict[str, set[Expected]] = {case.id: set() for case in CASES}
    for args, cases in groups.items():
        root = tmp_path_factory.mktemp("flake8")
        folders = {}
        for index, case in enumerate(cases):
            folder = case.copy_to(root / f"c{index}")
            (folder / "pyproject.toml").unlink(missing_ok=True)
            folders[f"c{index}"] = case
        result = flake8("--isolated", "--select", "SL", "-j", "2", *args, ".", cwd=root)
        assert result.returncode in (0, 1), result.stderr
        for path, row, col, code, _ in parse_output(result.stdout):
            folder, _, relative = path.partition("/")
            results[folders[folder].id].add(Expected(relative, row, code, col))
    return results


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_flake8_matches_inline_expectations(case: Case, flake8_results: dict[str, set[Expected]]) -> None:
    missing, extra = matches(case.expectations(), flake8_results[case.id])
    if case.id in DIFFERS:
        assert missing or extra, f"flake8 now agrees with the expectations: remove {case.id!r} from DIFFERS"
    else:
        assert not missing and not extra, (
            f"missing: {sorted(map(str, missing))}\nextra: {sorted(map(str, extra))}\n"
            "(if this needs facts from another file, list the case in DIFFERS with the reason)"
        )


def test_differing_cases_exist() -> None:
    ids = {case.id for case in CASES}
    assert set(DIFFERS) <= ids, f"unknown cases in DIFFERS: {sorted(set(DIFFERS) - ids)}"


BAD = """\
from sqlalchemy import create_engine

engine = create_engine("postgresql://db/app")
other = create_engine("postgresql://db/other")  # noqa: SL005
legacy = create_engine("postgresql://db/legacy")  # noqa: E501
"""


def test_message_position_and_noqa(tmp_path: Path) -> None:
    (tmp_path / "db.py").write_text(BAD)
    result = flake8("--isolated", "--select", "SL", "db.py", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    found = parse_output(result.stdout)
    assert [(row, col, code) for _, row, col, code, _ in found] == [(3, 10, "SL005"), (5, 10, "SL005")]
    assert found[0][4].startswith("Engine is created without `pool_pre_ping=True`")


def test_disable_noqa_shows_suppressed_findings(tmp_path: Path) -> None:
    (tmp_path / "db.py").write_text(BAD)
    result = flake8("--isolated", "--select", "SL", "--disable-noqa", "db.py", cwd=tmp_path)
    assert [row for _, row, _, _, _ in parse_output(result.stdout)] == [3, 4, 5]


def test_noqa_reads_the_reported_line_like_the_command_line(tmp_path: Path) -> None:
    """A bare `# noqa` suppresses; a `# noqa` on the closing line of a call does not (flake8
    joins only multi-line strings, not bracketed lines), exactly as `sessionlint check`."""
    (tmp_path / "db.py").write_text(
        "from sqlalchemy import create_engine\n"
        'a = create_engine("postgresql://db/a")  # noqa\n'
        "b = create_engine(\n"
        '    "postgresql://db/b",\n'
        ")  # noqa: SL005\n"
        "c = create_engine(  # NOQA:SL005\n"
        '    "postgresql://db/c",\n'
        ")\n"
    )
    result = flake8("--isolated", "--select", "SL", "db.py", cwd=tmp_path)
    flake8_found = [(row, col, code) for _, row, col, code, _ in parse_output(result.stdout)]
    assert flake8_found == [(3, 5, "SL005")], result.stdout + result.stderr
    cli = run_cli("check", "--no-cache", "--format", "json", "db.py", cwd=tmp_path)
    assert flake8_found == [
        (item["location"]["row"], item["location"]["column"], item["code"]) for item in json.loads(cli.stdout)
    ]


def test_extend_select_and_ignore(tmp_path: Path) -> None:
    (tmp_path / "db.py").write_text(BAD)
    # Default selection (pycodestyle, pyflakes) plus SL: both kinds reported.
    result = flake8("--isolated", "--extend-select", "SL", "--max-line-length", "40", ".", cwd=tmp_path)
    codes = {code for _, _, _, code, _ in parse_output(result.stdout)}
    assert {"SL005", "E501"} <= codes, result.stdout + result.stderr
    result = flake8("--isolated", "--extend-select", "SL", "--extend-ignore", "SL005", ".", cwd=tmp_path)
    assert "SL005" not in result.stdout
    result = flake8("--isolated", "--select", "SL003", ".", cwd=tmp_path)
    assert result.returncode == 0, result.stdout


def test_jobs_give_the_same_findings(tmp_path: Path) -> None:
    for index in range(6):
        (tmp_path / f"db{index}.py").write_text(BAD)
    (tmp_path / "plain.py").write_text("x = 1\n")
    serial = flake8("--isolated", "--select", "SL", "-j", "1", ".", cwd=tmp_path)
    parallel = flake8("--isolated", "--select", "SL", "-j", "2", ".", cwd=tmp_path)
    assert serial.returncode == parallel.returncode == 1
    assert sorted(serial.stdout.splitlines()) == sorted(parallel.stdout.splitlines())
    assert len(serial.stdout.splitlines()) == 12


FACTORY = """\
from platform_db import make_engine

engine = make_engine("postgresql://db/app")
"""


def test_options_from_the_config_file_reach_the_workers(tmp_path: Path) -> None:
    """`sessionlint-*` options in flake8's config file, seen by every `-j` worker."""
    for index in range(3):
        (tmp_path / f"db{index}.py").write_text(FACTORY)
    baseline = flake8("--select", "SL", "-j", "2", ".", cwd=tmp_path)
    assert baseline.returncode == 0, baseline.stdout + baseline.stderr
    (tmp_path / "setup.cfg").write_text(
        "[flake8]\nselect = SL\nsessionlint-engine-constructors = platform_db.make_engine\n"
    )
    configured = flake8("-j", "2", ".", cwd=tmp_path)
    found = parse_output(configured.stdout)
    assert {(path, row, code) for path, row, _, code, _ in found} == {
        (f"db{index}.py", 3, "SL005") for index in range(3)
    }, configured.stdout + configured.stderr


def test_options_on_the_command_line(tmp_path: Path) -> None:
    (tmp_path / "db.py").write_text(FACTORY)
    result = flake8(
        "--isolated",
        "--select",
        "SL",
        "--sessionlint-engine-constructors",
        "other.thing, platform_db.make_engine",
        "db.py",
        cwd=tmp_path,
    )
    assert [(row, code) for _, row, _, code, _ in parse_output(result.stdout)] == [(3, "SL005")]


def test_stdin_with_a_display_name(tmp_path: Path) -> None:
    """`flake8 -` (editors): the plugin reads flake8's lines, and the display name decides
    file-name exemptions (a test file is not reported)."""

    def run(name: str) -> list[tuple[str, int, int, str, str]]:
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "flake8",
                "--isolated",
                "--select",
                "SL",
                "--stdin-display-name",
                name,
                "-",
            ],
            cwd=tmp_path,
            input=BAD,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode in (0, 1), result.stderr
        return parse_output(result.stdout)

    assert [(path, row, code) for path, row, _, code, _ in run("app/db.py")] == [
        ("app/db.py", 3, "SL005"),
        ("app/db.py", 5, "SL005"),
    ]
    assert run("tests/test_db.py") == []
