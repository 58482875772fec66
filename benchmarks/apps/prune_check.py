"""Check the pruned parse (`sessionlint/rulepass/prune.py`) against whole parses on real code.

For every analyzed file of the apps corpus that names an engine or `scoped_session`, the
four engine and registry rules (SL003, SL005, SL011, SL012) run on the file as pruned and
on the whole file, and the two lists of findings (messages, positions, fix edits,
evidence) must be equal. Prints each difference and exits 1 if there is any.

    python benchmarks/apps/prune_check.py [--apps prefect,agno]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # benchmarks/, for corpus.py

import corpus

from sessionlint.read.sources import decode
from sessionlint.rulepass import lint
from sessionlint.rulepass.prune import PRUNABLE_CODES, pruned_text
from sessionlint.rulepass.tokenview import tokenizer_view
from sessionlint.workspace import Workspace


def check_app(folder: Path) -> tuple[int, int]:
    """(files pruned, files whose findings differ) in one app."""
    workspace = Workspace([folder], use_cache=False, jobs=None)
    workspace.engine.load_rules()
    workspace.project.build_indexes()
    rules = [rule for rule in workspace.engine.rules if rule.code in PRUNABLE_CODES]
    pruned_files = differing = 0
    for state in workspace.states:
        facts = state.facts
        if facts is None or facts.shallow or state.error is not None or state.tree is not None:
            continue
        if b"engine" not in state.source.data and b"scoped_session" not in state.source.data:
            continue
        state.rule_codes = PRUNABLE_CODES
        text = decode(state.source)
        pruned = pruned_text(text, PRUNABLE_CODES, facts, workspace.project)
        if pruned is None:
            continue
        pruned_files += 1
        found = []
        for view in (tokenizer_view(pruned), tokenizer_view(text)):
            workspace.project.forget_answers()
            found.append(
                lint._checked(workspace.settings, state, workspace.project, rules, text, view, True, False)
            )
        if found[0].diagnostics != found[1].diagnostics or found[0].internal_errors:
            differing += 1
            print(f"DIFFERS {state.source.display}: pruned {found[0]}, whole {found[1]}")
    return pruned_files, differing


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--apps", help="comma-separated app names (default: all)")
    args = parser.parse_args()
    root = corpus.ensure_corpus("apps")
    pins = [pin for pin in corpus.APP_PINS if not args.apps or pin.name in args.apps.split(",")]
    total = differing = 0
    for pin in pins:
        pruned, wrong = check_app(root / pin.slug)
        total, differing = total + pruned, differing + wrong
        print(f"{pin.slug}: {pruned} files pruned, {wrong} differ", flush=True)
    print(f"{total} files pruned, {differing} differ")
    return 1 if differing else 0


if __name__ == "__main__":
    sys.exit(main())
