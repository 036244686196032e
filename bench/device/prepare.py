"""Make everything the GPU check needs travel in one device call: the wheels of bench/device/wheels.txt
(for the device's Python 3.12, x86-64) and the MATH-500 file, into the git-ignored folder .whl/, and
check that the working tree plus .whl/ stays under the device's 64 MiB carry limit.

Usage: python bench/device/prepare.py [--shared ../shared/data]
Then, with the device tool: run(command="bash bench/device/run.sh", carry=[".whl"], timeout_s=600)
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "bench"))  # a script in bench/device/: benchkit sits one folder up
from benchkit.paths import shared_data_dir  # noqa: E402

WHEELS = REPO / ".whl"
LIMIT = 64 * 1024 * 1024  # the device tool's limit on what one call carries
PLATFORMS = [
    "manylinux_2_28_x86_64",
    "manylinux_2_27_x86_64",
    "manylinux_2_24_x86_64",
    "manylinux_2_17_x86_64",
    "manylinux2014_x86_64",
    "manylinux1_x86_64",
]


def wanted() -> list[str]:
    lines = (REPO / "bench" / "device" / "wheels.txt").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def tree_bytes() -> int:
    """What a device call sends besides carried paths: tracked and untracked, not ignored, files."""
    out = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO, capture_output=True, check=True
    ).stdout.decode()
    return sum((REPO / f).stat().st_size for f in out.split("\0") if f and (REPO / f).is_file())


def carried_bytes() -> int:
    return sum(p.stat().st_size for p in WHEELS.rglob("*") if p.is_file())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shared", type=Path, default=shared_data_dir())
    a = ap.parse_args(argv)
    WHEELS.mkdir(exist_ok=True)
    platforms = [arg for p in PLATFORMS for arg in ("--platform", p)]
    for spec in wanted():
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "-q",
                "--no-deps",
                "--only-binary=:all:",
                "--python-version",
                "3.12",
                "--implementation",
                "cp",
                *platforms,
                "-d",
                str(WHEELS),
                spec,
            ],
            check=True,
        )
    names = {spec.split("==")[0].lower().replace("-", "_") for spec in wanted()}
    for whl in WHEELS.glob("*.whl"):  # one version of each: two stop the whole install
        if whl.name.split("-")[0].lower() not in names:
            whl.unlink()
    data = WHEELS / "data"
    data.mkdir(exist_ok=True)
    shutil.copy2(a.shared / "eval" / "math500.jsonl", data / "math500.jsonl")
    total = tree_bytes() + carried_bytes()
    print(
        f"working tree {tree_bytes() / 2**20:.1f} MiB + .whl {carried_bytes() / 2**20:.1f} MiB = "
        f"{total / 2**20:.1f} MiB (limit {LIMIT / 2**20:.0f} MiB)"
    )
    if total > LIMIT:
        print(
            "too much to carry in one call: drop bitsandbytes from wheels.txt and run seed-24gb in a second "
            "prepared call",
            file=sys.stderr,
        )
        return 1
    print('ready: run(command="bash bench/device/run.sh", carry=[".whl"], timeout_s=600)')
    return 0


if __name__ == "__main__":
    sys.exit(main())
