"""The prepared GPU check (bench/device/): its CPU dry run takes the same code path and writes the
same result files, and the wheel list carries every package it imports that the lent device lacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DEVICE = REPO / "bench" / "device"


def names(path: Path) -> set[str]:
    lines = path.read_text().splitlines()
    return {line.split("==")[0].strip().lower().replace("_", "-") for line in lines if line and line[0] != "#"}


def test_wheels_are_pinned_to_the_tested_versions():
    pins = dict(line.split("==") for line in (REPO / "constraints.txt").read_text().splitlines() if "==" in line)
    for line in (DEVICE / "wheels.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, ver = line.split("==")
            assert pins.get(name) == ver, f"{name}=={ver} in wheels.txt, {pins.get(name)} in constraints.txt"


def norm(name: str) -> str:
    return name.lower().replace("_", "-")


def ours_to_bring(present: set[str]) -> set[str]:
    """mathgrpo's runtime requirements and theirs, not walking past a package the device has (its
    own requirements come with it)."""
    import re
    from importlib.metadata import PackageNotFoundError, requires

    roots = [r for r in (requires("mathgrpo") or []) if "extra ==" not in r or "lowmem" in r or "dev" in r]
    # The dev extra's DeepSpeed (and its pydantic, hjson, ...) runs the CPU ZeRO tests only: the one-GPU
    # check never uses it, and transformers imports it only where it is installed, as here, not there.
    roots = [r for r in roots if not r.startswith("deepspeed")]
    todo = [re.match(r"[A-Za-z0-9_.-]+", r).group(0) for r in roots]
    seen: set[str] = set()
    while todo:
        name = norm(todo.pop())
        if name in seen:
            continue
        seen.add(name)
        if name in present:
            continue
        try:
            reqs = requires(name) or []
        except PackageNotFoundError:
            continue
        todo += [re.match(r"[A-Za-z0-9_.-]+", r).group(0) for r in reqs if "extra ==" not in r]
    return seen - present


def missing_on_device(imported: list[str]) -> set[str]:
    """Distributions we must bring (see above) behind these top-level modules."""
    present = names(DEVICE / "present.txt")
    dists = packages_distributions()
    needed = {norm(d) for m in imported for d in dists.get(m, [])}
    return (needed & ours_to_bring(present)) - {"mathgrpo"}  # mathgrpo travels as src/


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory, shared_data):
    out = tmp_path_factory.mktemp("gpu-check")
    env = {**os.environ, "OMP_NUM_THREADS": "2", "CUDA_VISIBLE_DEVICES": ""}
    cmd = [
        sys.executable,
        str(DEVICE / "gpu_check.py"),
        "--dry-run",
        "--out",
        str(out),
        "--data-dir",
        str(shared_data / "eval"),
        "--workdir",
        str(tmp_path_factory.mktemp("work")),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1200, env=env, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


@pytest.mark.slow
def test_dry_run_writes_every_mode(dry_run):
    report = json.loads((dry_run / "gpu-check.json").read_text())
    assert set(report["modes"]) == {"seed", "seed-24gb", "eval", "dynamic", "bf16-kahan"}
    failed = {k: v for k, v in report["modes"].items() if "error" in v or "skipped" in v}
    assert not failed, failed
    for name in ("seed", "seed-24gb", "dynamic", "bf16-kahan"):
        row = report["modes"][name]
        assert row["step_s"] > 0 and row["generation_s"] > 0 and row["full_length"], (name, row)
    assert report["modes"]["eval"]["samples"] == 2 and report["modes"]["eval"]["generated_tokens"] > 0
    text = (dry_run / "gpu-check.md").read_text()
    assert "dry run, tiny model on CPU" in text and "| seed-24gb |" in text and "trl 1.16" in text


@pytest.mark.slow
def test_the_wheel_list_carries_every_import_the_device_lacks(dry_run):
    imported = json.loads((dry_run / "gpu-check.json").read_text())["imports"]
    assert "trl" in imported and "datasets" in imported and "math_verify" in imported
    lacking = missing_on_device(imported) - names(DEVICE / "wheels.txt")
    assert not lacking, f"the GPU check imports {sorted(lacking)}, which the device lacks: add them to wheels.txt"


def test_the_import_check_can_fail():
    assert missing_on_device(["trl", "numpy"]) == {"trl"}
