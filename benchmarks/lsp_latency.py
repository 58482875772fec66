"""How fast `sessionlint server` answers an edit in a large application.

    python benchmarks/lsp_latency.py [--app prefect] [--file PATH] [--edits 40] [--kinds K,..] [--json-out FILE]

Copies the app from the apps corpus (prefect, ~860 files, by default) to a temporary
folder, starts `sessionlint server` over stdio as an editor does (the app's folder as the
workspace folder), opens one file and types into it: `--edits` changes, each one waiting
for its diagnostics. Reported:

- first load, cold: from `didOpen` to the first diagnostics, no cache (the server reads,
  parses and indexes the whole app);
- first load, warm: the same with a second server, from the cache the first one left;
- per edit: from `didChange` to the `publishDiagnostics` of that version (median, p95,
  max), for each kind of edit and over all. The server's debounce is part of it, as an
  editor sees it (it waits only when changes come faster than 30 ms apart; here each edit
  waits for its diagnostics and a typist's pause).

Each edit changes code, not a comment, at the end of the file, `--edits` of each kind:

- `constant`: adds a module-level constant, then changes its value (no other file sees it);
- `import`: imports a standard module under one name, then under another (the module's
  imports change: an index over every module could);
- `function`: defines a module-level function under one name, then another (its functions
  change: the indexes of who calls what could).

The last two took the workspace's full update before (seconds on prefect); they are now
answered from the buffer when the whole-project indexes come out equal (the buffer's part
in them is the same: `sessionlint/project/footprint.py`). Their names are spelled by no
other file. On request (`--kinds spelled-import`):

- `spelled-import`: imports `secrets`, then `textwrap` instead (19 of prefect's files spell
  each): answered from the buffer unless a file that spells one could name it in the
  edited module (`sessionlint/project/naming.py`: it imports the module, or a package or
  a name leading to it), by the full update otherwise (seconds on prefect).

Targets (issue 18): median <= 100 ms, p95 <= 250 ms. The machine's load average is
printed with the results: on a shared machine the times are upper bounds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from lsprotocol import types
from pygls.lsp.client import LanguageClient

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from corpus import ensure_corpus  # noqa: E402

DEFAULT_FILE = {"prefect": "prefect/server/database/configurations.py"}
SERVER = [sys.executable, "-m", "sessionlint", "server"]


class Editor:
    """A minimal LSP client: one open document, every publish timed on arrival."""

    def __init__(self) -> None:
        self.client = LanguageClient("sessionlint-benchmark", "1")
        self.arrivals: dict[tuple[str, int | None], float] = {}
        self.counts: dict[tuple[str, int | None], int] = {}
        self.arrived = asyncio.Event()
        self.log: list[str] = []  # the server's window/logMessage

        @self.client.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        def published(params: types.PublishDiagnosticsParams) -> None:
            key = (params.uri, params.version)
            self.arrivals.setdefault(key, time.perf_counter())
            self.counts[key] = len(params.diagnostics)
            self.arrived.set()

        @self.client.feature(types.WINDOW_LOG_MESSAGE)
        def logged(params: types.LogMessageParams) -> None:
            self.log.append(params.message)

    async def start(self, folder: Path) -> None:
        await self.client.start_io(*SERVER)
        await self.client.initialize_async(
            types.InitializeParams(
                capabilities=types.ClientCapabilities(),
                workspace_folders=[types.WorkspaceFolder(uri=folder.as_uri(), name=folder.name)],
            )
        )
        self.client.initialized(types.InitializedParams())

    async def wait(self, uri: str, version: int, timeout: float = 600) -> float:
        async def arrival() -> float:
            while (uri, version) not in self.arrivals:
                self.arrived.clear()
                await self.arrived.wait()
            return self.arrivals[(uri, version)]

        return await asyncio.wait_for(arrival(), timeout)

    async def open(self, uri: str, text: str) -> float:
        started = time.perf_counter()
        self.client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(uri=uri, language_id="python", version=1, text=text)
            )
        )
        return await self.wait(uri, 1) - started

    async def change(self, uri: str, version: int, text: str) -> float:
        started = time.perf_counter()
        self.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
                content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)],
            )
        )
        return await self.wait(uri, version) - started

    async def stop(self) -> None:
        await self.client.shutdown_async(None)
        self.client.exit(None)
        await self.client.stop()


KINDS = ("constant", "import", "function")
# Not run unless asked for (`--kinds`): its answer depends on who imports the file.
EXTRA_KINDS = ("spelled-import",)


def edited(text: str, kind: str, number: int) -> str:
    """The `number`-th version of the buffer in an edit of this kind (see the docstring)."""
    base = text.rstrip("\n") + "\n\n"
    if kind == "import":
        return base + f"import json as _sessionlint_benchmark_{number % 2}\n"
    if kind == "spelled-import":
        return base + ("import textwrap\n" if number % 2 else "import secrets\n")
    if kind == "function":
        return base + f"def _sessionlint_benchmark_{number % 2}() -> int:\n    return {number}\n"
    return base + f"_sessionlint_benchmark_edit = {number // 2}\n"


async def session(folder: Path, path: Path, edits: int, kinds: list[str]) -> dict[str, object]:
    editor = Editor()
    await editor.start(folder)
    uri = path.as_uri()
    text = path.read_text(encoding="utf-8")
    load = await editor.open(uri, text)
    findings = editor.counts[(uri, 1)]
    latencies: dict[str, list[float]] = {}
    version = 1
    for kind in kinds:
        for number in range(edits):
            version += 1
            latencies.setdefault(kind, []).append(
                await editor.change(uri, version, edited(text, kind, number))
            )
            await asyncio.sleep(0.05)  # a typist's pause: the server is idle again
    await editor.stop()
    for message in editor.log:
        print(f"  server: {message.splitlines()[0]}")
    return {"first_load_s": load, "findings": findings, "latencies_s": latencies}


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def summary(latencies: list[float]) -> dict[str, float]:
    return {
        "median_ms": statistics.median(latencies) * 1000,
        "p95_ms": percentile(latencies, 0.95) * 1000,
        "max_ms": max(latencies) * 1000,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--app", default="prefect", help="an app of the apps corpus (name before the version)"
    )
    parser.add_argument("--file", help="the file to edit, relative to the app (default: a database module)")
    parser.add_argument("--edits", type=int, default=40, help="edits of each kind in each session")
    parser.add_argument(
        "--kinds", default=",".join(KINDS), help=f"kinds of edit, of {', '.join(KINDS + EXTRA_KINDS)}"
    )
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args(argv)
    kinds = [kind for kind in args.kinds.split(",") if kind]
    if not kinds or set(kinds) - set(KINDS + EXTRA_KINDS):
        parser.error(f"--kinds: some of {', '.join(KINDS + EXTRA_KINDS)}")

    apps = ensure_corpus("apps")
    (source,) = [path for path in apps.iterdir() if path.name.startswith(f"{args.app}-")]
    relative = args.file or DEFAULT_FILE.get(args.app)
    if relative is None:
        parser.error(f"--file is needed for {args.app}")
    with tempfile.TemporaryDirectory() as work:
        # A copy: the server writes its cache in the project, never into the corpus.
        folder = Path(work) / source.name
        shutil.copytree(source, folder, symlinks=True)
        files = sum(1 for _ in folder.rglob("*.py"))
        path = folder / relative
        cold = asyncio.run(session(folder, path, args.edits, kinds))
        warm = asyncio.run(session(folder, path, args.edits, kinds))
    by_kind: dict[str, list[float]] = {
        kind: [*cold["latencies_s"][kind], *warm["latencies_s"][kind]]  # type: ignore[index]
        for kind in kinds
    }
    latencies = [value for values in by_kind.values() for value in values]
    result = {
        "app": source.name,
        "files": files,
        "file": relative,
        "findings_in_file": cold["findings"],
        "first_load_cold_s": cold["first_load_s"],
        "first_load_warm_s": warm["first_load_s"],
        "edits": len(latencies),
        **summary(latencies),
        "kinds": {
            kind: {**summary(values), "latencies_ms": [v * 1000 for v in values]}
            for kind, values in by_kind.items()
        },
        "load_average": os.getloadavg(),
        "cpus": os.cpu_count(),
    }
    print(f"{result['app']}: {files} files; editing {relative} ({result['findings_in_file']} findings)")
    print(
        f"first load: {result['first_load_cold_s']:.2f} s cold, {result['first_load_warm_s']:.2f} s warm (cache)"
    )
    print("didChange -> publishDiagnostics (targets: median 100 ms, p95 250 ms):")
    for kind, figures in [*result["kinds"].items(), ("all", result)]:  # type: ignore[attr-defined]
        print(
            f"  {kind:<14} {len(by_kind.get(kind, latencies)):>4} edits: median {figures['median_ms']:.0f} ms, "
            f"p95 {figures['p95_ms']:.0f} ms, max {figures['max_ms']:.0f} ms"
        )
    load = ", ".join(f"{value:.1f}" for value in result["load_average"])  # type: ignore[attr-defined]
    print(f"load average {load} on {result['cpus']} CPUs (other work on the machine slows every figure)")
    if args.json_out:
        args.json_out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
