"""The numbers and table of bench/dynamic_compare.py, computed from its run folders.

Usage: ``render({"plain/0": summarize(Path("output/dynamic-compare/plain/0"))}, 12, [0], base)``
"""

from __future__ import annotations

import json
import math
from pathlib import Path

CONFIGS = {"plain": [], "dynamic": ["--dynamic_sampling", "true", "--max_resample_rounds", "4"]}


def summarize(folder: Path) -> dict:
    from mathgrpo.report.reader import newest_state

    from benchkit.stats import metrics, read_samples

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
    return {
        "steps": len(history),
        "seconds_per_step": mean("step_time"),
        "reward": mean("reward"),
        "reward_thirds": [total / n if n else None for total, n in thirds],
        "generated_zero_signal": generated_zero / max(sum(rounds), 1.0),
        "trained_zero_signal": sum(trained_zero) / max(len(trained_zero), 1),
        "rounds": sum(rounds) / max(len(rounds), 1),
        # one group is trained per step (per_device_train_batch_size = num_generations)
        "groups_generated": 1.0 + mean("dynamic/prompts_drawn"),
        "points": points,
    }


def render(results: dict, minutes: float, seeds: list[int], base: float) -> str:
    from benchkit.learning_setup import VALIDATION

    third = lambda v: "–" if v is None else f"{v:.2f}"  # noqa: E731
    lines = [
        f"Budget: {minutes:g} min of training per run on the 2-core machine; seeds {', '.join(map(str, seeds))}; "
        f"validation facts ({VALIDATION['benchmark']}), {VALIDATION['n']} samples per problem. "
        f"Base model before training: {100 * base:.1f}%.",
        "",
        "| configuration | seed | optimizer steps | s/step | generation rounds per step | "
        "groups generated per trained group | groups without a signal: generated | trained | "
        "mean reward of the groups generated, by third of the budget | "
        "validation accuracy at 1/3, 2/3, 3/3 of the budget |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for key, r in results.items():
        config, seed = key.split("/")
        acc = ", ".join(f"{100 * p['accuracy']:.1f}% (step {p['step']}, {p['minutes']:.1f} min)" for p in r["points"])
        lines.append(
            f"| {config} | {seed} | {r['steps']} | {r['seconds_per_step']:.1f} | {r['rounds']:.2f} | "
            f"{r['groups_generated']:.2f} | "
            f"{100 * r['generated_zero_signal']:.0f}% | {100 * r['trained_zero_signal']:.0f}% | "
            f"{', '.join(third(v) for v in r['reward_thirds'])} | "
            f"{acc} |"
        )
    lines.append("")
    for config in CONFIGS:
        finals = [r["points"][-1]["accuracy"] for k, r in results.items() if k.startswith(config + "/")]
        if not finals:
            continue
        lines.append(
            f"- Mean validation accuracy at the end of the budget, {config}: "
            f"{100 * sum(finals) / len(finals):.1f}% over {len(finals)} seed(s)."
        )
    return "\n".join(lines) + "\n"
