#!/usr/bin/env python3
"""SCORM benchmark: parsing a big manifest and importing a big package, beside the bare minimum.

1. A manifest of 5,000 items (written by ``scorm.writer``): ``scorm.parse_manifest``
   (parse, resolve, check references, read the tree) beside ``lxml.etree.parse``
   of the same file (the floor: parsing alone).
2. A package of about 200 MB (incompressible content, one file per item):
   capcourse's import (SHA-256 of the upload, safe opening, manifest, checks,
   streamed extraction, modules, activities and external ids into SQLite)
   beside ``zipfile``'s plain ``extractall`` of the same zip (the floor:
   unpacking alone). The import hashes on a thread beside the rest, so its CPU
   time (both threads) exceeds its wall time.

Each measurement runs in a process of its own, so its peak memory (the growth
of the resident set) is its own; a task and its floor take turns, run after
run. Prints time and peak memory of each, and the ratios to the floor.

Usage: .venv/bin/python bench/scorm.py [--items 5000] [--megabytes 200]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import scorm  # noqa: E402

PASSWORD = "benchmark password"


def manifest_of(items: int) -> bytes:
    spec = scorm.PackageSpec(
        identifier="BENCH-MANIFEST",
        title="Benchmark",
        items=tuple(
            scorm.ItemSpec(
                f"MOD-{m}",
                f"Module {m}",
                children=tuple(
                    scorm.ItemSpec(f"ITEM-{m}-{n}", f"Item {m}.{n}", href=f"m{m}/i{n}/index.html", files=(f"m{m}/i{n}/a.js",))
                    for n in range(50)
                ),
            )
            for m in range(items // 50)
        ),
    )  # fmt: skip
    return scorm.build_manifest(spec)


def package_of(megabytes: int, target: Path) -> int:
    """A zip of about ``megabytes`` MB: one SCO of 1 MB of random bytes per item. Returns the item count."""
    count = max(1, megabytes)
    spec = scorm.PackageSpec(
        identifier="BENCH-PACKAGE",
        title="Big package",
        items=tuple(scorm.ItemSpec(f"SCO-{n}", f"Lesson {n}", href=f"lesson{n}/index.html",
                                   files=(f"lesson{n}/media.bin",)) for n in range(count)),
    )  # fmt: skip
    with tempfile.TemporaryDirectory() as scratch:
        content: dict[str, Any] = {}
        for n in range(count):
            media = Path(scratch) / f"media{n}.bin"
            media.write_bytes(os.urandom(1 << 20))
            content[f"lesson{n}/index.html"] = f"<html><body>Lesson {n}</body></html>".encode()
            content[f"lesson{n}/media.bin"] = media
        with target.open("wb") as destination:
            scorm.write_package(spec, destination, content)
    return count


# Measured in a child process ---------------------------------------------------------------------------------


def _status_kib(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def _start_peak() -> int:
    """Reset the peak resident set (Linux: ``clear_refs`` 5) and return the resident set now, in KiB."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")
    return _status_kib("VmRSS") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _peak() -> int:
    return _status_kib("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def measure(task: str, path: str) -> dict[str, float]:
    """Run one task on ``path`` in this process; return seconds and peak resident growth (MiB)."""
    scratch = Path(tempfile.mkdtemp(prefix="bench-scorm-child-"))
    try:
        return _measure(task, path, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _measure(task: str, path: str, scratch: Path) -> dict[str, float]:
    if task == "parse-lxml":
        from lxml import etree

        parser = etree.XMLParser(resolve_entities=False, no_network=True)
        work = lambda: etree.parse(path, parser)  # noqa: E731
    elif task == "parse-scorm":
        data = Path(path).read_bytes()
        work = lambda: list(scorm.parse_manifest(data).walk())  # noqa: E731
    elif task == "extract-zipfile":
        work = lambda: zipfile.ZipFile(path).extractall(scratch)  # noqa: E731
    elif task == "import-capcourse":
        work = _importer(path, scratch)
    else:
        raise SystemExit(f"unknown task {task}")
    before = _start_peak()
    start, cpu_start = time.perf_counter(), time.process_time()
    work()
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    return {"seconds": seconds, "cpu_seconds": cpu_seconds, "peak_mib": max(0, _peak() - before) / 1024}


def _importer(path: str, folder: Path) -> Any:
    """Set up a migrated SQLite install in ``folder`` (not timed) and return the import to time."""
    import flask_migrate
    from sqlalchemy.orm import Session

    from capcourse import create_app
    from capcourse.accounts.access import Principal
    from capcourse.accounts.models import Role
    from capcourse.catalogue.models import Course, Programme
    from capcourse.extensions import db
    from capcourse.packages import importing
    from capcourse.packages.settings import settings_from

    # An install of its own, as `make run` makes one (bench/ never imports tests/).
    app = create_app(
        {
            "SECRET_KEY": "benchmark",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'bench.db'}",
            "CAPCOURSE_BASE_URL": "http://bench.invalid",
            "CAPCOURSE_PACKAGE_DIR": str(folder / "packages"),
        }
    )
    with app.app_context():
        flask_migrate.upgrade()
    context = app.app_context()
    context.push()
    session = Session(db.engine)
    programme = Programme(id=uuid.uuid4(), title="Benchmark", version=1)
    course = Course(id=uuid.uuid4(), programme=programme, title="Benchmark", version=1)
    session.add_all([programme, course])
    session.commit()
    principal = Principal(role=Role.ADMIN, name="bench")

    def work() -> None:
        with open(path, "rb") as upload:
            report = importing.import_package(session, principal, course, upload, settings_from(app.config))
        session.commit()
        assert len(report.activities_created) > 0

    return work


def child(task: str, path: Path) -> dict[str, float]:
    # Each run starts with nothing waiting to be written: the 200 MB zip just written, or the files a run before
    # extracted, would otherwise be flushed while whichever run comes next is timed (the import's database
    # commit syncs; the kernel also writes back on its own schedule), and charge one run for another's writes.
    os.sync()
    result = subprocess.run(
        [sys.executable, __file__, "--measure", task, str(path)], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise SystemExit(f"{task} failed:\n{result.stderr}")
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def best(results: list[dict[str, float]]) -> dict[str, float]:
    return {key: min(result[key] for result in results) for key in ("seconds", "cpu_seconds", "peak_mib")}


def paired(task: str, floor_task: str, path: Path, runs: int) -> tuple[dict[str, float], dict[str, float]]:
    """The best of ``runs`` of each task, the two taking turns: on a shared machine the load, the page cache
    and the disk's write-back then weigh on both alike, not on whichever ran first."""
    ours: list[dict[str, float]] = []
    floor: list[dict[str, float]] = []
    for _ in range(runs):
        ours.append(child(task, path))
        floor.append(child(floor_task, path))
    return best(ours), best(floor)


def line(name: str, ours: dict[str, float], floor_name: str, floor: dict[str, float]) -> str:
    def ratio(key: str) -> float:
        return ours[key] / floor[key] if floor[key] else float("inf")

    # Below 1 MiB the floor's peak is noise: say so rather than divide by it.
    memory_ratio = f"{ratio('peak_mib'):6.2f}×" if floor["peak_mib"] >= 1 else "n/a (floor < 1 MiB)"
    # CPU time (the process's own, page faults included) beside wall time: on a shared machine the wall
    # clock also counts the time other processes had the CPU.
    return (
        f"  {name:<22} {ours['seconds'] * 1000:9.1f} ms  CPU {ours['cpu_seconds'] * 1000:9.1f} ms"
        f"  peak +{ours['peak_mib']:7.1f} MiB\n"
        f"  {floor_name:<22} {floor['seconds'] * 1000:9.1f} ms  CPU {floor['cpu_seconds'] * 1000:9.1f} ms"
        f"  peak +{floor['peak_mib']:7.1f} MiB\n"
        f"  ratio                  time {ratio('seconds'):6.2f}×   CPU {ratio('cpu_seconds'):6.2f}×   memory {memory_ratio}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=5000)
    parser.add_argument("--megabytes", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--measure", nargs=2, metavar=("TASK", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    logging.disable(logging.INFO)
    if args.measure:
        print(json.dumps(measure(*args.measure)))
        return
    with tempfile.TemporaryDirectory(prefix="bench-scorm-") as scratch:
        manifest = Path(scratch) / "imsmanifest.xml"
        manifest.write_bytes(manifest_of(args.items))
        print(f"Manifest of {args.items:,} items ({manifest.stat().st_size / 1e6:.1f} MB), best of {args.runs}:")
        ours, floor = paired("parse-scorm", "parse-lxml", manifest, args.runs)
        print(line("scorm.parse_manifest", ours, "lxml.etree.parse", floor))
        package = Path(scratch) / "big.zip"
        count = package_of(args.megabytes, package)
        print(f"\nPackage of {package.stat().st_size / 1e6:.0f} MB ({count} SCOs), best of {args.runs}:")
        ours, floor = paired("import-capcourse", "extract-zipfile", package, args.runs)
        print(line("capcourse import", ours, "zipfile extractall", floor))


if __name__ == "__main__":
    main()
