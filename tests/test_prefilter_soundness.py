"""The pre-filter and the triage never drop a finding: every fixture, checked with and without."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

from sessionlint.entry.run import RunOptions, check_paths
from sessionlint.settings.codes import OPT_IN_CODES, RULE_NAMES
from sessionlint.settings.config import Settings
from tests.fixture_cases import Case, all_cases

CASES = all_cases()


def _findings(folder: Path, *, exhaustive: bool, only: str | None = None) -> list[tuple]:
    options = RunOptions(use_cache=False, jobs=1, exhaustive=exhaustive)
    settings = _settings(folder)
    if only is not None:
        settings = dataclasses.replace(settings, select=(only,), extend_select=())
    report = check_paths([Path(".")], settings, options)
    return [(d.path, d.location, d.code, d.message) for d in report.diagnostics]


def _settings(folder: Path) -> Settings:
    from sessionlint.settings.codes import KNOWN_CODES
    from sessionlint.settings.config import load_settings

    return load_settings([folder], None, KNOWN_CODES)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_findings_survive_prefilter_and_triage(
    case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = case.copy_to(tmp_path / "case")
    monkeypatch.chdir(folder)
    every = _findings(folder, exhaustive=True)
    assert _findings(folder, exhaustive=False) == every
    # Each rule alone: its own candidate test must keep the file, not another rule's. A rule
    # finds alone what it finds beside the others (SL100 aside: it judges their findings),
    # so the exhaustive run of all rules serves as each one's reference.
    for code in sorted(RULE_NAMES):
        triaged = _findings(folder, exhaustive=False, only=code)
        if code in OPT_IN_CODES:
            reference = _findings(folder, exhaustive=True, only=code)
        else:
            reference = [finding for finding in every if finding[2] == code]
        assert triaged == reference, code


def test_django_like_code_is_read_not_parsed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "views.py").write_text(
        "from django.db import models\n\nclass Item(models.Model):\n    pass\n"
    )
    (tmp_path / "api.py").write_text("from fastapi import FastAPI\n\napp = FastAPI()\n")
    monkeypatch.chdir(tmp_path)
    report = check_paths([Path(".")], Settings(), RunOptions(use_cache=False))
    assert report.files_seen == 2
    assert report.files_analyzed == 0


def test_a_settings_module_imported_by_a_database_module_is_analyzed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copytree(
        Path(__file__).parent.parent / "fixtures" / "SL005" / "ok_sqlite_constant_imported", tmp_path / "p"
    )
    monkeypatch.chdir(tmp_path / "p")
    report = check_paths([Path(".")], Settings(), RunOptions(use_cache=False))
    assert report.diagnostics == []
    assert report.files_analyzed == 3  # db.py, settings.py (imported by db.py), app/__init__.py
