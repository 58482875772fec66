"""Suite-wide test set-up: which tests are slow, and how tests share pytest-xdist's workers.

`python -m pytest -m "not slow"` is the quick subset (about a minute in one process): every
fixture case in-process, the unit tests, the CLI tests that start few processes. The slow
tests start the command (or flake8, pre-commit, git) in many subprocesses, wait for pool
time-outs, check very large inputs, or explore many generated inputs. They are marked here
by name rather than in each file, so a module's owner need not think of it and the list is
in one place; a test that becomes slow is added here.
"""

from __future__ import annotations

import os

import pytest

# Module (relative to tests/) -> its slow tests by function name; "*" for every test in it.
SLOW: dict[str, set[str]] = {
    # Dozens of command runs each, in subprocesses (a 5 MB file, symlink loops, bad configs).
    "test_bad_input.py": {"*"},
    # Worker pools, and a full disk (the other cache tests run in-process).
    "test_cache.py": {
        "test_output_is_identical_with_one_and_two_jobs",
        "test_fix_with_parallel_fact_pass_fixes_every_file",
        "test_a_full_disk_leaves_no_litter_in_the_cache",
    },
    # Every fixture case run incrementally, file by file (the named tests run in-process).
    "test_incremental.py": {
        "test_incremental_runs_equal_runs_from_scratch",
        "test_cached_runs_equal_clean_runs_when_the_project_around_them_changes",
    },
    # `--add-noqa` through the real command, three times (the other adoption tests run in-process).
    "test_adoption.py": {"test_add_noqa_merges_reports_and_changes_nothing_the_second_time"},
    # Real flake8 over every fixture case; real pre-commit installing this repository.
    "test_flake8_plugin.py": {"*"},
    "test_pre_commit.py": {"*"},
    # Generated programs (hypothesis), and every fixture case run twice in full.
    "test_fix_properties.py": {"*"},
    "test_prefilter_soundness.py": {"test_findings_survive_prefilter_and_triage"},
    # Every fixture naming an engine, pruned and whole (`rulepass/prune.py`); the real command
    # in subprocesses on a large module, twice per option, and three times around an edit.
    "test_prune.py": {
        "test_pruned_files_give_what_whole_files_give",
        "test_the_command_reports_a_large_module_as_a_whole_parse_does",
        "test_a_cached_run_sees_a_left_out_function_start_making_engines",
    },
    # The benchmark script itself, timing a generated app.
    "test_benchmark_apps.py": {"test_skipped_rows_are_left_out_and_said_so"},
    # Every node of every fixture file, each through its own statement printing.
    "test_positions.py": {"test_fixture_positions"},
    # The command's fixes, then the fixed apps run against pools that time out.
    "runtime/test_fixed_apps.py": {"*"},
    "runtime/test_fixes_keep_behaviour.py": {"test_the_fixed_app_answers_the_same"},
    # Requests until the pool times out (a second each, waiting).
    "runtime/test_sync_dependencies.py": {
        "test_dependency_returning_its_session_exhausts_the_pool",
        "test_concurrent_requests_exhaust_the_pool_with_a_returned_session",
    },
    "runtime/test_async_dependencies.py": {
        "test_dependency_returning_its_async_session_exhausts_the_pool",
        "test_concurrent_requests_exhaust_the_pool_with_a_returned_async_session",
    },
    "runtime/test_session_not_closed.py": {
        "test_close_on_happy_path_only_leaks_a_connection_per_failing_request"
    },
    "runtime/test_postgres.py": {"test_returned_session_exhausts_the_postgres_pool"},
    # One run over every fixture case at once; a thousand nested folders; a 4 MB file.
    "test_roots.py": {"test_checking_the_whole_fixtures_folder_gives_each_case_its_own_findings"},
    "test_bad_environment.py": {
        "test_folders_nested_a_thousand_deep",
        "test_a_file_too_large_to_parse_is_skipped_naming_the_limit",
    },
    # The real command in a subprocess per case (the in-process runs are the quick ones).
    "test_fixtures.py": {
        "test_the_command_in_a_subprocess_reports_the_same",
        "test_the_command_in_a_subprocess_fixes_the_same",
    },
    # A second language server, started with faults planted.
    "test_server.py": {"test_internal_errors_are_logged_and_the_server_goes_on"},
    "test_cli.py": {"test_stdin_filename_drives_config_and_exemptions"},
}


# Modules of a few long tests each (a wheel built and installed, pre-commit's repository,
# hypothesis' explorations): under xdist they are sent out first, so that they do not start
# last and leave one worker running them alone while the other has finished.
STARTED_FIRST = ("test_release.py", "test_pre_commit.py", "test_fix_properties.py")


def pytest_configure(config: pytest.Config) -> None:
    _compile_the_package()


def _compile_the_package() -> None:
    """The package's bytecode, written once before the tests start the command in
    subprocesses. pip writes it on install; an editable checkout gets it at first import,
    except where `PYTHONDONTWRITEBYTECODE` is set (CI images often set it): there every
    subprocess compiled the package's sources again, about 0.3 s each."""
    import compileall

    import sessionlint

    compileall.compile_dir(os.path.dirname(sessionlint.__file__), quiet=1)


def _module(item: pytest.Item) -> str:
    return item.nodeid.split("::", 1)[0].removeprefix("tests/")


def _shares_a_built_fixture(item: pytest.Item) -> bool:
    """Whether the test uses a module- or session-scoped fixture of the suite's own (one
    that checks a whole project once for many tests)."""
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return False
    return any(
        # A fixture's baseid is where it is defined: "" for pytest's own and plugins'.
        str(getattr(definition, "baseid", "")).startswith("tests")
        and definition.scope in ("module", "session")
        for definitions in info.name2fixturedefs.values()
        for definition in definitions
    )


# First: pytest-xdist reads the `xdist_group` marks in its own hook of this name, so they
# must be added before it runs (else every test is sent out alone, and each worker builds
# the shared results again).
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    distributed = config.pluginmanager.hasplugin("xdist")
    for item in items:
        names = SLOW.get(_module(item), set())
        if "*" in names or getattr(item, "originalname", item.name) in names:
            item.add_marker(pytest.mark.slow)
        # Under `-n auto --dist loadgroup` (as .ci/run runs it), the tests that share a
        # module-scoped result run on one worker: each worker would otherwise build it again
        # (a flake8 run over every fixture, a pre-commit repository, a 5 MB file's check).
        if distributed and _shares_a_built_fixture(item):
            item.add_marker(pytest.mark.xdist_group(_module(item)))
    # pytest-xdist sends groups out largest first, then single tests in this order (each
    # worker collects, in the same order): the long ones first, the rest as collected.
    if os.environ.get("PYTEST_XDIST_WORKER"):
        items.sort(key=lambda item: _module(item) not in STARTED_FIRST)
