"""The triage keeps a file for a rule only where the rule could flag it: on real applications
most files that start tasks or call coroutine methods never hand a session to them, and
parsing them with LibCST was most of a cold run. (That it never drops a finding is
`test_prefilter_soundness.py`.)"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from sessionlint.workspace import Workspace

FIXTURES = Path(__file__).parent.parent / "fixtures"


def _candidates(folder: Path) -> dict[str, frozenset[str]]:
    workspace = Workspace([folder], use_cache=False)
    return {Path(state.source.display).name: state.rule_codes for state in workspace.checked}


@pytest.mark.parametrize(
    ("fixture", "kept"),
    [
        ("SL010/flag_create_task_twice.py", True),
        ("SL010/flag_create_task_imported_as.py", True),
        ("SL010/flag_gather_comprehension.py", True),
        ("SL010/flag_anyio_start_soon.py", True),
        # Tasks started, an AsyncSession in the module, but no task is handed the session.
        ("SL010/ok_tasks_handed_no_session.py", False),
        ("SL010/ok_each_task_own_session.py", False),
        ("SL007/flag_positional.py", True),
        ("SL007/flag_functools_partial.py", True),
        ("SL007/flag_lambda_closure.py", True),
        # A request's session and `BackgroundTasks` in one function, the session not handed on.
        ("SL007/ok_task_opens_own_session.py", False),
    ],
)
def test_a_rule_about_a_hand_off_is_a_candidate_only_where_the_session_is_handed_on(
    fixture: str, kept: bool, tmp_path: Path
) -> None:
    shutil.copy(FIXTURES / fixture, tmp_path / "module.py")
    codes = _candidates(tmp_path).get("module.py", frozenset())
    assert (fixture.partition("/")[0] in codes) is kept
