"""Statistics of bench/learning.py and bench/dynamic_compare.py: per-problem accuracy over n
samples, pass@k curves, Wilson intervals, bootstrap intervals for a gain (over problems, and over
problems and training seeds),
and the rows that tell format from arithmetic (box use, last number, written equations).

Usage: ``from benchkit.stats import metrics``; ``metrics(read_samples(Path("DIR")), n=16)["accuracy"]``
"""

from __future__ import annotations

import math
import operator
import random
import re
from collections import defaultdict
from pathlib import Path


def read_samples(folder: Path) -> list[dict]:
    from mathgrpo.evaluation.folder import read_samples as read

    rows = list(read(folder / "samples.jsonl").values())
    return sorted(rows, key=lambda r: (str(r.get("id")), r.get("sample", 0)))


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval for k successes in n trials."""
    if n == 0:
        return (0.0, 0.0)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def per_problem(rows: list[dict]) -> dict[str, float]:
    """Each problem's share of correct samples (its pass@1 estimate)."""
    hits: dict[str, list[int]] = defaultdict(list)
    for r in rows:
        hits[str(r["id"])].append(1 if r.get("correct") else 0)
    return {pid: sum(v) / len(v) for pid, v in hits.items()}


def pass_curve(rows: list[dict]) -> list[float]:
    """Unbiased pass@k for k = 1..n (n samples per problem), averaged over problems."""
    from mathgrpo.evaluation.metrics import pass_at_k

    hits: dict[str, list[int]] = defaultdict(list)
    for r in rows:
        hits[str(r["id"])].append(1 if r.get("correct") else 0)
    n = min(len(v) for v in hits.values())
    return [sum(pass_at_k(n, sum(v[:n]), k) for v in hits.values()) / len(hits) for k in range(1, n + 1)]


def paired_bootstrap(before: list[float], after: list[float], reps: int = 10000, seed: int = 0) -> tuple[float, float]:
    """95% percentile interval of mean(after) - mean(before), resampling problems (the pairs)."""
    rng = random.Random(seed)
    n = len(before)
    diffs = [a - b for a, b in zip(after, before)]
    means = sorted(sum(diffs[rng.randrange(n)] for _ in range(n)) / n for _ in range(reps))
    return means[int(0.025 * reps)], means[int(0.975 * reps) - 1]


def seeds_and_problems_bootstrap(
    before: dict[str, float], after: list[dict[str, float]], reps: int = 4000, seed: int = 0
) -> tuple[float, float]:
    """95% interval of the gain averaged over training seeds, resampling both the seeds (the
    run-to-run spread of RL) and the problems (which problems the test happened to hold)."""
    rng = random.Random(seed)
    ids = sorted(before)
    gains = [[run[pid] - before[pid] for pid in ids] for run in after]
    s, n = len(gains), len(ids)
    means = []
    for _ in range(reps):
        runs = [gains[rng.randrange(s)] for _ in range(s)]
        picks = [rng.randrange(n) for _ in range(n)]
        means.append(sum(sum(run[i] for i in picks) / n for run in runs) / s)
    means.sort()
    return means[int(0.025 * reps)], means[int(0.975 * reps) - 1]


def last_number(text: str) -> str | None:
    found = re.findall(r"-?\d+(?:\.\d+)?", (text or "").replace(",", ""))
    return found[-1] if found else None


# `x` counts as a times sign: the model writes `4 x 2 = 8` as often as `4 * 2 = 8`.
EQUATION = re.compile(r"(-?\d+)\s*([-+*/×÷x]|\\times|\\div|\\cdot)\s*(-?\d+)\s*=\s*(-?\d+)")


def _divide(a: int, b: int) -> float | None:
    return a / b if b else None  # `5 / 0 = 3` is a wrong equation, not a crash


# Every spelling of a sign maps to one operation.
OPS = {
    "+": operator.add,
    "-": operator.sub,
    "/": _divide,
    "÷": _divide,
    "\\div": _divide,
    **dict.fromkeys(("*", "×", "x", "\\times", "\\cdot"), operator.mul),
}


def equations(text: str) -> tuple[int, int]:
    """(right, all) over the `a op b = c` equations a completion writes: its arithmetic, format aside."""
    found = EQUATION.findall(text or "")
    return sum(1 for a, op, b, c in found if OPS[op](int(a), int(b)) == int(c)), len(found)


def metrics(rows: list[dict]) -> dict:
    """Accuracy and its format / arithmetic parts over every sample of ``rows``."""
    from mathgrpo.grading.normalize import integer_literal

    n = len(rows)
    correct = [1 if r.get("correct") else 0 for r in rows]
    boxed = [r.get("answer") is not None for r in rows]
    k_boxed = sum(boxed)
    k_right_boxed = sum(c for c, b in zip(correct, boxed) if b)
    last_right = sum(1 for r in rows if last_number(r.get("completion", "")) == str(r.get("gold")).strip())
    # The reward hack the first run of this benchmark found: a box holding an expression (`4 * 1`)
    # rather than an integer. Every gold here is an integer, so "not an integer literal" is the
    # grader's own test; it should stay near zero.
    exprs = sum(1 for r, b in zip(rows, boxed) if b and integer_literal(r["answer"]) is None)
    eqs = [equations(r.get("completion", "")) for r in rows]
    eq_right, eq_all = sum(e[0] for e in eqs), sum(e[1] for e in eqs)
    problems = per_problem(rows)
    return {
        "n": n,
        "problems": len(problems),
        "accuracy": sum(correct) / n,
        "n_correct": sum(correct),
        "per_problem": problems,
        "boxed_rate": k_boxed / n,
        "n_boxed": k_boxed,
        "acc_boxed": k_right_boxed / k_boxed if k_boxed else 0.0,
        "last_number": last_right / n,
        "expr_rate": exprs / n,
        "n_expr": exprs,
        "eq_rate": eq_right / eq_all if eq_all else 0.0,
        "n_eq": eq_all,
        "mean_tokens": sum(int(r.get("n_tokens") or 0) for r in rows) / n if n else 0.0,
        "truncated": sum(1 for r in rows if r.get("truncated")) / n if n else 0.0,
    }
