"""The run record (``mathgrpo_run.json``): what a training run was, so it can be judged and repeated.

Usage: ``record = build_record(script_args, args, model_args, run_id=new_run_id(), stats=stats, stops=stops)``

It names the model, data (with its counts), template, rewards, the algorithm settings, the
hardware, the versions of every library that decides what was trained and the project's git
commit when run from a checkout. ``report`` and the model card read it back from disk.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
import sys
import time
import uuid
from pathlib import Path

# Libraries whose version changes what a run trains or how; optional ones are listed when installed.
VERSIONED = (
    "torch",
    "transformers",
    "trl",
    "accelerate",
    "datasets",
    "math-verify",
    "peft",
    "vllm",
    "deepspeed",
    "bitsandbytes",
    "liger-kernel",
    "flash-attn",
)


def new_run_id() -> str:
    return uuid.uuid4().hex[:12]


def versions() -> dict[str, str]:
    """Installed versions of :data:`VERSIONED` (absent packages are left out) and of mathgrpo."""
    found = {}
    for name in ("mathgrpo", *VERSIONED):
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return found


def git_commit() -> str | None:
    """The commit of the checkout mathgrpo runs from (``+dirty`` with uncommitted changes to tracked
    files), or None for an installed copy."""
    root = Path(__file__).resolve().parents[2]
    if not (root / ".git").exists():
        return None
    try:
        head = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return head + ("+dirty" if dirty else "") if head else None


def hardware_summary() -> dict:
    import torch

    info = {
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
    }
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
        info["gpu_count"] = torch.cuda.device_count()
    return info


def build_record(script_args, args, model_args, *, run_id: str, stats, stops: list[int]) -> dict:
    from mathgrpo.report.algorithm import DEFINING, name_algorithm
    from mathgrpo.train.config import ALGORITHM_FIELDS
    from mathgrpo.train.rewards import reward_name

    # Every field that names the algorithm (report/algorithm.py), so the card can name it from disk.
    algorithm = {k: getattr(args, k, None) for k in (*ALGORITHM_FIELDS, *DEFINING) if hasattr(args, k)}
    algorithm["dynamic_sampling"] = bool(getattr(script_args, "dynamic_sampling", False))
    return {
        "run_id": run_id,
        "model": model_args.model_name_or_path,
        "dtype": str(model_args.dtype),
        "template": script_args.template,
        "dataset": script_args.dataset_name,
        "data_stats": stats.to_dict(),
        "reward_funcs": [reward_name(n) for n in script_args.reward_funcs],  # as logged (completions' columns)
        "reward_sources": script_args.reward_funcs,  # as the recipe gave them (registry names or dotted paths)
        "reward_weights": args.reward_weights or [1.0] * len(script_args.reward_funcs),
        "algorithm": algorithm,
        "algorithm_name": name_algorithm(algorithm).as_dict(),
        "stop_token_ids": stops,
        "script_args": dict(vars(script_args)),
        "hardware": hardware_summary(),
        "versions": versions(),
        "git_commit": git_commit(),
        "training_args": args.to_dict(),  # transformers masks *_token fields here
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "finished": False,
    }
