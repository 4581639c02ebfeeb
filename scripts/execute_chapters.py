"""Execute the book's chapters into the build's jupyter-cache, several at a time.

Jupyter Book 1 executes the chapters one after the other, each kernel on one thread (the
Makefile pins OpenMP to one), so a 2-core machine builds the book on one core. This script
fills the same cache first (``execute.cache`` in ``_config.yml``), one chapter per core, with
jupyter-cache's own parallel executor; `jupyter-book build` then finds every chapter cached and
executes nothing (a chapter that failed here is executed, and reported, by the build as
before). The cache matches a notebook by the hash of its code cells and kernelspec, read with
myst-nb's own reader, which is the one used here. Each worker takes one chapter at a time, the
longest files first, so that no core is left with a queue of chapters at the end.

    python scripts/execute_chapters.py            # what `make book` runs before the build

It prints each chapter's execution time, slowest first, and exits 0 even when a chapter fails:
the build that follows fails on it with the full report.
"""

from __future__ import annotations

import multiprocessing
import os
import pathlib
import sys
import time

import yaml
from jupyter_cache import get_cache
from jupyter_cache.executors.basic import ExecutionWorkerLocalMProc, ProcessData

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
from canonicalise_chapters import chapters  # noqa: E402 (the book's MyST notebooks)

READER = {"name": "myst_nb_md", "type": "plugin"}  # myst-nb's reader, as the build reads them


def main() -> int:
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))["execute"]
    cache = get_cache(str(ROOT / config["cache"]))
    book = chapters()
    for path in book:
        cache.add_nb_to_project(str(path), read_data=READER)
    waiting = sorted(cache.list_unexecuted(), key=lambda r: -pathlib.Path(r.uri).stat().st_size)
    workers = min(os.cpu_count() or 1, max(len(waiting), 1))
    print(f"execute_chapters: {len(waiting)} of {len(book)} chapters to execute, {workers} at a "
          "time", flush=True)
    start = time.perf_counter()
    tasks = [ProcessData(r.pk, r.uri, cache, int(config["timeout"]), False) for r in waiting]
    with multiprocessing.Pool(workers) as pool:
        for status, uri in pool.imap_unordered(ExecutionWorkerLocalMProc(), tasks, chunksize=1):
            name = pathlib.Path(uri).relative_to(ROOT)
            outcome = "executed" if status == 0 else "FAILED (the build runs it again, reports why)"
            print(f"execute_chapters: {outcome} {name} at {time.perf_counter() - start:.0f} s",
                  flush=True)
    print(f"execute_chapters: done in {time.perf_counter() - start:.0f} s; execution time of each "
          "cached chapter:", flush=True)
    seconds = []
    for record in cache.list_project_records():
        cached = cache.get_cached_project_nb(record.pk)
        if cached is not None:
            seconds.append((cached.data.get("execution_seconds") or 0.0, record.uri))
    for value, uri in sorted(seconds, reverse=True):
        print(f"  {value:6.1f} s  {pathlib.Path(uri).relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
