"""Benchmark ``mathgrpo prepare-data`` on the hub-sized DAPO-Math-17k (1,791,700 rows).

Usage: ``python bench/data.py [--data ../shared/data/dapo-math-17k.parquet] [--repeat 100]``

The hub copy is the 17,917 records repeated 100 times; we rebuild it by writing the shared
parquet ``--repeat`` times into one temporary parquet file (one row group per copy, as written
by streaming writers), then run the real verb in a child process and report its wall time
and peak RSS (the child's own, from ``getrusage(RUSAGE_CHILDREN)``). Prints a markdown table.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def default_data() -> Path:
    env = os.environ.get("MATHGRPO_SHARED_DATA")
    return (Path(env) if env else REPO.parent / "shared" / "data") / "dapo-math-17k.parquet"


def build_repeated(src: Path, dst: Path, repeat: int) -> int:
    """Write ``src`` ``repeat`` times into ``dst``; memory holds one copy at a time."""
    import pyarrow.parquet as pq

    table = pq.read_table(src)
    with pq.ParquetWriter(dst, table.schema) as writer:
        for _ in range(repeat):
            writer.write_table(table)
    return table.num_rows * repeat


def run_prepare(dataset: Path, output: Path, *extra: str) -> tuple[float, float, str]:
    """Run the verb in a fresh child; returns (seconds, peak RSS in MiB, its stdout)."""
    cmd = [sys.executable, "-m", "mathgrpo.cli", "prepare-data", "--dataset", str(dataset), "--output", str(output), *extra]
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"prepare-data failed ({proc.returncode}):\n{proc.stderr}")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux; max over children
    if peak < before:
        peak = before
    return seconds, peak / 1024, proc.stdout.strip()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=default_data(), help="the shared DAPO-Math-17k parquet")
    p.add_argument("--repeat", type=int, default=100, help="copies (100 = the hub's 1,791,700 rows)")
    args = p.parse_args()
    if not args.data.is_file():
        sys.exit(f"{args.data} not found (set MATHGRPO_SHARED_DATA or pass --data)")
    rows = []
    with tempfile.TemporaryDirectory(prefix="mathgrpo-bench-data-") as tmp:
        tmp = Path(tmp)
        # Smallest first: RUSAGE_CHILDREN reports the max over all children so far, so the
        # larger run's peak is its own as long as it is the larger one.
        cases = [("17,917 rows (shared file)", args.data)]
        big = tmp / "dapo-hub-sized.parquet"
        t0 = time.perf_counter()
        n = build_repeated(args.data, big, args.repeat)
        build_s = time.perf_counter() - t0
        cases.append((f"{n:,} rows ({args.repeat}x, {big.stat().st_size / 2**20:.0f} MiB parquet)", big))
        for label, path in cases:
            seconds, rss, out = run_prepare(path, tmp / "out.jsonl")
            rows.append((label, seconds, rss, out.splitlines()[0].split(": ", 1)[1]))
    print(f"machine: {platform.platform()}, {os.cpu_count()} cores, python {platform.python_version()}")
    print(f"built the {args.repeat}x file in {build_s:.1f} s (not timed below)\n")
    print("| input | seconds | peak RSS (MiB) | summary |")
    print("|---|---:|---:|---|")
    for label, seconds, rss, summary in rows:
        print(f"| {label} | {seconds:.1f} | {rss:.0f} | {summary} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
