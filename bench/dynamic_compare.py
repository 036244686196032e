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
import math
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))
RECIPE = "recipes/demo/learning-cpu.yaml"
MODEL = "smollm2-135m-instruct"  # the recipe's model, scored once before training
CONFIGS = {"plain": [], "dynamic": ["--dynamic_sampling", "true", "--max_resample_rounds", "4"]}


def child(out: Path, seed: int, extra: list[str], minutes: float) -> int:
    """Train until the budget is spent, saving at each third of it (this process is the run)."""
    from transformers import TrainerCallback

    from mathgrpo.config import parse_train_args
    from mathgrpo.train import run

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

    argv = ["--config", str(REPO / RECIPE), "--output_dir", str(out), "--seed", str(seed), "--max_steps", "10000",
            "--save_strategy", "steps", "--save_steps", "100000", "--save_total_limit", "10", *extra]  # fmt: skip
    run(*parse_train_args(argv), callbacks=[Budget()])
    (out / "budget.json").write_text(json.dumps({"minutes": minutes, "saved": saved}))
    return 0


def evaluate(model: Path | str, out: Path, env: dict) -> None:
    from learning import VALIDATION, eval_args

    if (out / "summary.json").is_file():
        return
    args = eval_args(str(model), VALIDATION, out, REPO, 64)
    subprocess.run([sys.executable, "-c", "import sys; from mathgrpo.cli import main; sys.exit(main())", *args],
                   env=env, cwd=REPO, check=True)  # fmt: skip


def summarize(folder: Path) -> dict:
    from mathgrpo.runreader import newest_state

    from learning_stats import metrics, read_samples

    budget = json.loads((folder / "train" / "budget.json").read_text())
    history = [h for h in (newest_state(folder / "train") or ({}, None))[0].get("log_history", []) if "reward" in h]
    mean = lambda key: sum(float(h.get(key, 0.0)) for h in history) / max(len(history), 1)  # noqa: E731
    points = []
    for mark in budget["saved"]:
        m = metrics(read_samples(folder / f"eval-step{mark['step']}"))
        points.append({"minutes": mark["seconds"] / 60, "step": mark["step"], "accuracy": m["accuracy"]})
    trained_zero = [h.get("dynamic/zero_signal_trained", h.get("frac_reward_zero_std")) for h in history]
    # TRL logs a step's `reward` and `frac_reward_zero_std` as the mean over its generation rounds
    # (one group per round here), so weighting by rounds gives the share over every generated group,
    # discarded rounds included.
    rounds = [float(h.get("dynamic/rounds", 1.0)) for h in history]
    generated_zero = sum(float(h.get("frac_reward_zero_std", 0.0)) * n for h, n in zip(history, rounds))
    clock, thirds = 0.0, [[0.0, 0.0], [0.0, 0.0], [0.0, 0.0]]  # reward of the groups generated in each third
    for h, n in zip(history, rounds):
        clock += float(h.get("step_time", 0.0))
        third = thirds[min(max(math.ceil(3 * clock / (60 * budget["minutes"])) - 1, 0), 2)]  # where it ended
        third[0] += float(h.get("reward", 0.0)) * n
        third[1] += n
    return {"steps": len(history), "seconds_per_step": mean("step_time"), "reward": mean("reward"),
            "reward_thirds": [total / n if n else None for total, n in thirds],
            "generated_zero_signal": generated_zero / max(sum(rounds), 1.0),
            "trained_zero_signal": sum(trained_zero) / max(len(trained_zero), 1),
            "rounds": sum(rounds) / max(len(rounds), 1),
            # one group is trained per step (per_device_train_batch_size = num_generations)
            "groups_generated": 1.0 + mean("dynamic/prompts_drawn"),
            "points": points}  # fmt: skip


def render(results: dict, minutes: float, seeds: list[int], base: float) -> str:
    from learning import VALIDATION

    third = lambda v: "–" if v is None else f"{v:.2f}"  # noqa: E731
    lines = [f"Budget: {minutes:g} min of training per run on the 2-core machine; seeds {', '.join(map(str, seeds))}; "
             f"validation facts ({VALIDATION['benchmark']}), {VALIDATION['n']} samples per problem. "
             f"Base model before training: {100 * base:.1f}%.", "",
             "| configuration | seed | optimizer steps | s/step | generation rounds per step | "
             "groups generated per trained group | groups without a signal: generated | trained | "
             "mean reward of the groups generated, by third of the budget | "
             "validation accuracy at 1/3, 2/3, 3/3 of the budget |",
             "|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for key, r in results.items():
        config, seed = key.split("/")
        acc = ", ".join(f"{100 * p['accuracy']:.1f}% (step {p['step']}, {p['minutes']:.1f} min)" for p in r["points"])
        lines.append(f"| {config} | {seed} | {r['steps']} | {r['seconds_per_step']:.1f} | {r['rounds']:.2f} | "
                     f"{r['groups_generated']:.2f} | "
                     f"{100 * r['generated_zero_signal']:.0f}% | {100 * r['trained_zero_signal']:.0f}% | "
                     f"{', '.join(third(v) for v in r['reward_thirds'])} | "
                     f"{acc} |")  # fmt: skip
    lines.append("")
    for config in CONFIGS:
        finals = [r["points"][-1]["accuracy"] for k, r in results.items() if k.startswith(config + "/")]
        if not finals:
            continue
        lines.append(f"- Mean validation accuracy at the end of the budget, {config}: "
                     f"{100 * sum(finals) / len(finals):.1f}% over {len(finals)} seed(s).")  # fmt: skip
    return "\n".join(lines) + "\n"


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
    from learning_stats import metrics, read_samples

    evaluate(MODEL, a.out / "base", env)
    base = metrics(read_samples(a.out / "base"))["accuracy"]
    results = {}
    for seed in seeds:
        for config in CONFIGS:
            folder = a.out / f"{config}-seed{seed}"
            if not (folder / "train" / "budget.json").is_file():
                subprocess.run([sys.executable, __file__, "--minutes", str(a.minutes), "--child", str(folder / "train"),
                                str(seed), config], env=env, check=True)  # fmt: skip
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
