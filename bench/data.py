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

from benchkit.paths import shared_data_dir

REPO = Path(__file__).resolve().parents[1]


def default_data() -> Path:
    return shared_data_dir() / "dapo-math-17k.parquet"


def build_repeated(src: Path, dst: Path, repeat: int) -> int:
    """Write ``src`` ``repeat`` times into ``dst``; memory holds one copy at a time."""
    import pyarrow.parquet as pq

    table = pq.read_table(src)
    with pq.ParquetWriter(dst, table.schema) as writer:
        for _ in range(repeat):
            writer.write_table(table)
    return table.num_rows * repeat


def run_prepare(dataset: Path, output: Path, *extra: str) -> tuple[float, float, float, str]:
    """Run the verb in a fresh child; returns (wall s, CPU s, peak RSS MiB, its stdout).
    CPU seconds are reported too: on a shared machine they move less than wall time."""
    cmd = [sys.executable, "-m", "mathgrpo.cli", "prepare-data", "--dataset", str(dataset), "--output", str(output)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run([*cmd, *extra], capture_output=True, text=True, cwd=REPO)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"prepare-data failed ({proc.returncode}):\n{proc.stderr}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return seconds, cpu, after.ru_maxrss / 1024, proc.stdout.strip()  # ru_maxrss: KiB, max over children


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
        # Smallest first: RUSAGE_CHILDREN's maxrss is the max over all children so far, so
        # each row's peak is its own as long as the runs come in growing order.
        cases = [("17,917 rows (shared file)", args.data, ())]
        big = tmp / "dapo-hub-sized.parquet"
        t0 = time.perf_counter()
        n = build_repeated(args.data, big, args.repeat)
        build_s = time.perf_counter() - t0
        label = f"{n:,} rows ({args.repeat}x, {big.stat().st_size / 2**20:.0f} MiB parquet)"
        cases += [(label, big, ()), (label + ", `--language zh`", big, ("--language", "zh"))]
        for label, path, extra in cases:
            seconds, cpu, rss, out = run_prepare(path, tmp / "out.jsonl", *extra)
            rows.append((label, seconds, cpu, rss, out.splitlines()[0].split(": ", 1)[1]))
    print(f"machine: {platform.platform()}, {os.cpu_count()} cores, python {platform.python_version()}")
    print(f"load average at the end: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(f"built the {args.repeat}x file in {build_s:.1f} s (not timed below)\n")
    print("| input | wall s | CPU s | peak RSS (MiB) | summary |")
    print("|---|---:|---:|---:|---|")
    for label, seconds, cpu, rss, summary in rows:
        print(f"| {label} | {seconds:.1f} | {cpu:.1f} | {rss:.0f} | {summary} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
