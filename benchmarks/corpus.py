"""Pinned benchmark corpora: real sdists and wheels from PyPI, downloaded and unpacked once.

Layout under ``benchmarks/.corpus/`` (gitignored, never committed; ``SESSIONLINT_CORPUS_DIR``
puts it elsewhere, e.g. a cache shared by several checkouts)::

    sdists/<name>-<version>/<archive>    what ``pip download`` saved (sha256-pinned sdist or wheel)
    <corpus>/<name>-<version>/           each archive of the corpus, unpacked
    <corpus>.manifest.json               the specs and the sha256 of every unpacked file

Every step is idempotent: a finished download or corpus tree is reused. Work happens in
``*.partial`` siblings that are renamed into place when complete, so an interrupted run
leaves nothing that looks finished. A corpus tree whose files no longer match its
manifest (someone edited or "touched" a file in place) is unpacked again, so every
measurement runs on the published bytes.

The library corpora are pinned below; the real-applications corpus ``apps`` is pinned in
``benchmarks/apps/apps.toml`` (wheels: the code that ships).

``python benchmarks/corpus.py [subset|four|sweep|apps ...]`` downloads and prints file and
line counts (every corpus by default).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - the benchmark's interpreter is 3.11+, tomli is the fallback
    import tomli as tomllib

HERE = Path(__file__).resolve().parent
CORPUS_DIR = Path(os.environ.get("SESSIONLINT_CORPUS_DIR") or HERE / ".corpus").resolve()
SDIST_DIR = CORPUS_DIR / "sdists"

# sha256 of each sdist as published on PyPI: a pin is a version *and* its bytes.
SDIST_SHA256 = {
    "fastapi==0.115.12": "1e2c2a2646905f9e83d32f04a3f86aff4a286669c6c950ca95b5fd68c2602681",
    "sqlmodel==0.0.24": "cc5c7613c1a5533c9c7867e1aab2fd489a76c9e8a061984da11b4e613c182423",
    "sqlalchemy==2.0.40": "d827099289c64589418ebbcaead0145cd19f4e3e8a93919a0100247af245fa00",
    "django==5.2": "1a47f7a7a3d43ce64570d350e008d2949abe8c7e21737b351b6a1611277c6d89",
    "apache-airflow==2.10.5": "1a2b1f1082d530fee039989cdff7192fcfd98d8e909d1c5650e61e10c418e488",
    "sympy==1.14.0": "d3d3fe8df1e5a0b42f0e7bdf50541697dbe7d23746e894990c030e2b05e72517",
    "alembic==1.15.2": "1c72391bbdeffccfe317eefba686cb9a3c078005478885413b95c3b26c57a8a7",
}

# fastapi's sdist ships docs_src/: hundreds of SQLAlchemy / SQLModel examples.
SUBSET = ("fastapi==0.115.12", "sqlmodel==0.0.24")
FOUR = (*SUBSET, "sqlalchemy==2.0.40", "django==5.2")
# The crash sweep wants volume and variety (>= 1 M lines): airflow and alembic use
# SQLAlchemy sessions for real; sympy is 750 k lines of unusual but valid Python.
# (pandas and other packages with compiled parts are out: `pip download --no-binary
# :all:` has to prepare their metadata, which means building numpy & co. from source.)
SWEEP = (*FOUR, "apache-airflow==2.10.5", "sympy==1.14.0", "alembic==1.15.2")


@dataclass(frozen=True)
class AppPin:
    """One real application of the ``apps`` corpus, as pinned in ``apps/apps.toml``."""

    name: str
    version: str
    file: str  # "wheel" or "sdist": which file of the release is the corpus
    filename: str
    sha256: str
    why: str = ""

    @property
    def spec(self) -> str:
        return f"{self.name}=={self.version}"

    @property
    def slug(self) -> str:
        return _slug(self.spec)


APPS_PINS = HERE / "apps" / "apps.toml"


def load_app_pins(path: Path = APPS_PINS) -> list[AppPin]:
    """The pinned applications, in file order; a malformed pin is an error naming it."""
    pins = []
    for entry in tomllib.loads(path.read_text())["app"]:
        pin = AppPin(**entry)
        if pin.file not in ("wheel", "sdist"):
            raise ValueError(f"{path}: {pin.name}: file must be 'wheel' or 'sdist', not {pin.file!r}")
        pins.append(pin)
    return pins


APP_PINS = load_app_pins()
APPS = tuple(pin.spec for pin in APP_PINS)
CORPORA: dict[str, tuple[str, ...]] = {"subset": SUBSET, "four": FOUR, "sweep": SWEEP, "apps": APPS}
# Which file of each release to fetch, and its bytes; anything not listed is an sdist.
WHEELS = frozenset(pin.spec for pin in APP_PINS if pin.file == "wheel")
PINNED_FILES = {pin.spec: pin.filename for pin in APP_PINS}
SDIST_SHA256.update({pin.spec: pin.sha256 for pin in APP_PINS})

_ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".tar", ".zip", ".whl")


def _slug(spec: str) -> str:
    name, _, version = spec.partition("==")
    if not version:
        raise ValueError(f"corpus specs must be pinned as name==version, got {spec!r}")
    return f"{re.sub(r'[-_.]+', '-', name).lower()}-{version}"


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _archive_in(directory: Path) -> Path | None:
    if not directory.is_dir():
        return None
    archives = [p for p in directory.iterdir() if p.name.endswith(_ARCHIVE_SUFFIXES)]
    if len(archives) > 1:
        raise RuntimeError(f"more than one archive in {directory}: {archives}")
    return archives[0] if archives else None


def download(spec: str) -> Path:
    """Download the pinned sdist or wheel ``spec`` (``name==version``) once; return it."""
    dest = SDIST_DIR / _slug(spec)
    archive = _archive_in(dest)
    if archive is None:
        partial = dest.with_name(dest.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        _log(f"downloading {spec} ...")
        # --no-binary :all: also applies to the build requirements pip installs to read
        # the sdist's metadata, so the first download of e.g. sqlalchemy takes minutes.
        binary = "--only-binary" if spec in WHEELS else "--no-binary"
        command = [sys.executable, "-m", "pip", "download", "--no-deps", binary, ":all:"]
        command += [spec, "-d", str(partial)]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"pip download {spec} failed:\n{result.stdout}\n{result.stderr}")
        if _archive_in(partial) is None:
            raise RuntimeError(f"pip download {spec} saved no archive in {partial}")
        shutil.rmtree(dest, ignore_errors=True)
        partial.rename(dest)
        archive = _archive_in(dest)
        assert archive is not None
    expected_name = PINNED_FILES.get(spec)
    if expected_name is not None and archive.name != expected_name:
        raise RuntimeError(f"{archive}: pip chose another file than the pinned {expected_name}")
    expected = SDIST_SHA256.get(spec)
    actual = _sha256(archive)
    if expected is not None and actual != expected:
        raise RuntimeError(f"{archive}: sha256 {actual} does not match the pin {expected}")
    return archive


def _extract(archive: Path, into: Path) -> None:
    if archive.name.endswith((".zip", ".whl")):
        with zipfile.ZipFile(archive) as zipped:
            zipped.extractall(into)
        return
    with tarfile.open(archive) as tarred:
        if hasattr(tarfile, "data_filter"):  # 3.12+, and security backports of 3.9-3.11
            tarred.extractall(into, filter="data")
        else:
            for member in tarred.getmembers():
                target = (into / member.name).resolve()
                if not target.is_relative_to(into.resolve()) or member.issym() or member.islnk():
                    raise RuntimeError(f"{archive}: refusing to extract {member.name!r}")
            tarred.extractall(into)


def _unpack(archive: Path, dest: Path) -> None:
    """Unpack an archive so that its top-level directory (``Django-5.2/``) becomes ``dest``;
    a wheel (packages and ``.dist-info`` side by side) is unpacked into ``dest`` itself."""
    scratch = dest.with_name(dest.name + ".unpacking")
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    _extract(archive, scratch)
    entries = list(scratch.iterdir())
    if len(entries) == 1 and entries[0].is_dir():
        entries[0].rename(dest)
        scratch.rmdir()
    else:
        scratch.rename(dest)


def _manifest(root: Path) -> dict[str, str]:
    """sha256 of every regular file under ``root``, by POSIX relative path."""
    files = {}
    for directory, _, names in os.walk(root):
        for name in names:
            path = Path(directory, name)
            if path.is_file() and not path.is_symlink():
                files[path.relative_to(root).as_posix()] = _sha256(path)
    return dict(sorted(files.items()))


def _damage(expected: dict[str, str], actual: dict[str, str]) -> list[str]:
    changed = [rel for rel in expected if rel in actual and actual[rel] != expected[rel]]
    missing = [rel for rel in expected if rel not in actual]
    added = [rel for rel in actual if rel not in expected]
    return (
        [f"{rel} (changed)" for rel in changed]
        + [f"{rel} (missing)" for rel in missing]
        + [f"{rel} (added)" for rel in added]
    )


def ensure_corpus(name: str) -> Path:
    """Return the root of corpus ``name`` (one directory per package), building it once.

    An existing tree is checked against its manifest and unpacked again if anything in it
    changed.
    """
    try:
        specs = CORPORA[name]
    except KeyError:
        raise ValueError(f"unknown corpus {name!r}; choose from {sorted(CORPORA)}") from None
    root = CORPUS_DIR / name
    manifest_path = CORPUS_DIR / f"{name}.manifest.json"
    if root.is_dir() and manifest_path.is_file():
        recorded = json.loads(manifest_path.read_text())
        if recorded.get("specs") == list(specs):
            damage = _damage(recorded["files"], _manifest(root))
            if not damage:
                return root
            shown = ", ".join(damage[:3]) + (f" and {len(damage) - 3} more" if len(damage) > 3 else "")
            _log(f"corpus {name} differs from what was unpacked: {shown}; unpacking it again")
    archives = [download(spec) for spec in specs]
    partial = root.with_name(root.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    for spec, archive in zip(specs, archives):
        _log(f"unpacking {archive.name} into {name}/ ...")
        _unpack(archive, partial / _slug(spec))
    files = _manifest(partial)
    manifest_path.unlink(missing_ok=True)
    shutil.rmtree(root, ignore_errors=True)
    partial.rename(root)
    manifest_path.write_text(json.dumps({"specs": list(specs), "files": files}, indent=0) + "\n")
    return root


def python_files(root: Path) -> list[Path]:
    """Every ``*.py`` file under ``root``, sorted (symlinked directories not followed)."""
    found: list[Path] = []
    for directory, subdirs, files in os.walk(root):
        subdirs.sort()
        found.extend(Path(directory, f) for f in files if f.endswith(".py"))
    return sorted(found)


def count_lines(data: bytes) -> int:
    """Lines in ``data`` as ``wc -l`` would count them, plus an unterminated last line."""
    return data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)


def corpus_stats(root: Path) -> dict[str, tuple[int, int]]:
    """Per package directory under ``root``: (Python files, lines)."""
    stats: dict[str, tuple[int, int]] = {}
    for path in python_files(root):
        package = path.relative_to(root).parts[0]
        files, lines = stats.get(package, (0, 0))
        stats[package] = (files + 1, lines + count_lines(path.read_bytes()))
    return stats


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpora", nargs="*", metavar="CORPUS", help=f"any of {', '.join(CORPORA)}")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.corpora) - set(CORPORA))
    if unknown:
        parser.error(f"unknown corpus: {', '.join(unknown)}")
    status = 0
    for name in args.corpora or list(CORPORA):
        root = ensure_corpus(name)
        stats = corpus_stats(root)
        print(f"\n{name}: {root}")
        print(f"  {'package':<34} {'files':>7} {'lines':>10}")
        for package, (files, lines) in sorted(stats.items()):
            print(f"  {package:<34} {files:>7} {lines:>10,}")
        total_files = sum(files for files, _ in stats.values())
        total_lines = sum(lines for _, lines in stats.values())
        print(f"  {'total':<34} {total_files:>7} {total_lines:>10,}")
        if name == "sweep" and total_lines < 1_000_000:
            print("  ERROR: the sweep corpus must hold at least 1,000,000 lines")
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
