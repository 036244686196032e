"""Does DAPO's dynamic sampling help at the CPU learning benchmark's scale? The learning recipe
with and without it, the same seeds, the same wall-clock budget.

Usage: python bench/dynamic_compare.py [--minutes 12] [--seeds 0] [--out output/dynamic-compare]

For each seed and each configuration it trains ``recipes/demo/learning-cpu.yaml`` (``max_steps``
lifted, so the budget is what stops it; ``dynamic_sampling: true`` for the second) until the
wall-clock budget is spent, saving the model at a third, two thirds and the end of the budget;
then scores each saved model on the learning benchmark's *validation* facts (facts in neither the
training nor the test split: the test set stays unseen, docs/learning.md). Reports per
configuration: optimizer steps done, groups without a signal among those trained, generation
rounds per step, seconds per step, the mean reward of the generated groups by third of the
budget, and validation accuracy against wall time.
Writes ``--out/compare.md`` and ``--out/compare.json``; the numbers are computed from the runs.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from benchkit.dynamic_page import CONFIGS, render, summarize

REPO = Path(__file__).resolve().parents[1]
RECIPE = "recipes/demo/learning-cpu.yaml"
MODEL = "smollm2-135m-instruct"  # the recipe's model, scored once before training


def child(out: Path, seed: int, extra: list[str], minutes: float) -> int:
    """Train until the budget is spent, saving at each third of it (this process is the run)."""
    from transformers import TrainerCallback

    from mathgrpo.train.config import parse_train_args
    from mathgrpo.train.run import run

    budget = minutes * 60
    marks = [budget / 3, 2 * budget / 3]
    saved: list[dict] = []

    class Budget(TrainerCallback):
        def on_train_begin(self, args, state, control, **kwargs):
            self.start = time.monotonic()

        def on_step_end(self, args, state, control, **kwargs):
            elapsed = time.monotonic() - self.start
            if marks and elapsed >= marks[0]:
                marks.pop(0)
                control.should_save = True
                saved.append({"step": state.global_step, "seconds": elapsed})
            if elapsed >= budget:
                control.should_save = control.should_training_stop = True
                saved.append({"step": state.global_step, "seconds": elapsed})
            return control

    argv = [
        "--config",
        str(REPO / RECIPE),
        "--output_dir",
        str(out),
        "--seed",
        str(seed),
        "--max_steps",
        "10000",
        "--save_strategy",
        "steps",
        "--save_steps",
        "100000",
        "--save_total_limit",
        "10",
        *extra,
    ]
    run(*parse_train_args(argv), callbacks=[Budget()])
    (out / "budget.json").write_text(json.dumps({"minutes": minutes, "saved": saved}))
    return 0


def evaluate(model: Path | str, out: Path, env: dict) -> None:
    from benchkit.learning_setup import VALIDATION, eval_args

    if (out / "summary.json").is_file():
        return
    args = eval_args(str(model), VALIDATION, out, REPO, 64)
    subprocess.run(
        [sys.executable, "-c", "import sys; from mathgrpo.cli import main; sys.exit(main())", *args],
        env=env,
        cwd=REPO,
        check=True,
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=12.0)
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--out", type=Path, default=REPO / "output" / "dynamic-compare")
    ap.add_argument("--child", nargs=3, metavar=("OUT", "SEED", "CONFIG"), help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.child:
        return child(Path(a.child[0]), int(a.child[1]), CONFIGS[a.child[2]], a.minutes)
    seeds = [int(s) for s in a.seeds.split(",")]
    env = {**os.environ, "OMP_NUM_THREADS": "2"}
    from benchkit.stats import metrics, read_samples

    evaluate(MODEL, a.out / "base", env)
    base = metrics(read_samples(a.out / "base"))["accuracy"]
    results = {}
    for seed in seeds:
        for config in CONFIGS:
            folder = a.out / f"{config}-seed{seed}"
            if not (folder / "train" / "budget.json").is_file():
                subprocess.run(
                    [
                        sys.executable,
                        __file__,
                        "--minutes",
                        str(a.minutes),
                        "--child",
                        str(folder / "train"),
                        str(seed),
                        config,
                    ],
                    env=env,
                    check=True,
                )
            budget = json.loads((folder / "train" / "budget.json").read_text())
            for mark in budget["saved"]:
                evaluate(folder / "train" / f"checkpoint-{mark['step']}", folder / f"eval-step{mark['step']}", env)
            results[f"{config}/{seed}"] = summarize(folder)
    from mathgrpo.files import write_atomic

    write_atomic(a.out / "compare.json", json.dumps(results, indent=1))
    text = render(results, a.minutes, seeds, base)
    write_atomic(a.out / "compare.md", text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
