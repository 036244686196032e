"""Statistics of bench/learning.py: accuracy with Wilson intervals, a paired bootstrap for the
gain, and the rows that tell format from arithmetic (box use, last number, written equations).

Usage: ``from learning_stats import metrics, read_samples``;
``metrics(read_samples(Path("output/learning-cpu/eval-after")))["accuracy"]``
"""

from __future__ import annotations

import json
import math
import operator
import random
import re
from pathlib import Path


def read_samples(folder: Path) -> list[dict]:
    rows = [json.loads(line) for line in (folder / "samples.jsonl").read_text().splitlines() if line.strip()]
    return sorted(rows, key=lambda r: (str(r.get("id")), r.get("sample", 0)))


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval for k successes in n trials."""
    if n == 0:
        return (0.0, 0.0)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def paired_bootstrap(before: list[int], after: list[int], reps: int = 10000, seed: int = 0) -> tuple[float, float]:
    """95% percentile interval of mean(after) - mean(before), resampling problems (the pairs)."""
    rng = random.Random(seed)
    n = len(before)
    diffs = [a - b for a, b in zip(after, before)]
    means = sorted(sum(diffs[rng.randrange(n)] for _ in range(n)) / n for _ in range(reps))
    return means[int(0.025 * reps)], means[int(0.975 * reps) - 1]


def last_number(text: str) -> str | None:
    found = re.findall(r"-?\d+(?:\.\d+)?", (text or "").replace(",", ""))
    return found[-1] if found else None


# `x` counts as a times sign: the model writes `4 x 2 = 8` as often as `4 * 2 = 8`.
EQUATION = re.compile(r"(-?\d+)\s*([-+*/×÷x]|\\times|\\div|\\cdot)\s*(-?\d+)\s*=\s*(-?\d+)")


def _divide(a: int, b: int) -> float | None:
    return a / b if b else None  # `5 / 0 = 3` is a wrong equation, not a crash


# Every spelling of a sign maps to one operation.
OPS = {"+": operator.add, "-": operator.sub, "/": _divide, "÷": _divide, "\\div": _divide,
       **dict.fromkeys(("*", "×", "x", "\\times", "\\cdot"), operator.mul)}  # fmt: skip


def equations(text: str) -> tuple[int, int]:
    """(right, all) over the `a op b = c` equations a completion writes: its arithmetic, format aside."""
    found = EQUATION.findall(text or "")
    return sum(1 for a, op, b, c in found if OPS[op](int(a), int(b)) == int(c)), len(found)


def metrics(rows: list[dict]) -> dict:
    from mathgrpo.grading import answers_equivalent
    from mathgrpo.grading.normalize import integer_literal

    n = len(rows)
    correct = [1 if r.get("correct") else 0 for r in rows]
    boxed = [r.get("answer") is not None for r in rows]
    k_boxed = sum(boxed)
    k_right_boxed = sum(c for c, b in zip(correct, boxed) if b)
    last_right = sum(1 for r in rows if last_number(r.get("completion", "")) == str(r.get("gold")).strip())
    # The reward hack of the first run (see EARLIER_RUN): boxes that hold an expression rather than
    # an integer (`4 * 1`), which the grader then accepted by value. Every gold here is an integer, so
    # "not an integer literal" is the grader's own test; `lenient` counts the ones that evaluate to the
    # gold (math-verify's value equivalence, the earlier grader's rule) -- reward the strict grader
    # now withholds. Both should stay near zero if the hack is gone.
    exprs = [b and integer_literal(r["answer"]) is None for r, b in zip(rows, boxed)]
    lenient = sum(1 for r, e in zip(rows, exprs) if e and answers_equivalent(r["answer"], str(r.get("gold"))))
    eqs = [equations(r.get("completion", "")) for r in rows]
    eq_right, eq_all = sum(e[0] for e in eqs), sum(e[1] for e in eqs)
    return {
        "eq_rate": eq_right / eq_all if eq_all else 0.0, "eq_ci": wilson(eq_right, eq_all), "n_eq": eq_all,
        "n": n, "correct": correct, "accuracy": sum(correct) / n, "accuracy_ci": wilson(sum(correct), n),
        "boxed_rate": k_boxed / n, "boxed_ci": wilson(k_boxed, n),
        "acc_boxed": k_right_boxed / k_boxed if k_boxed else 0.0, "acc_boxed_ci": wilson(k_right_boxed, k_boxed),
        "n_boxed": k_boxed, "last_number": last_right / n, "last_number_ci": wilson(last_right, n),
        "expr_rate": sum(exprs) / n, "expr_ci": wilson(sum(exprs), n), "n_expr": sum(exprs),
        "lenient_rate": lenient / n, "lenient_ci": wilson(lenient, n), "n_lenient": lenient,
        "n_correct": sum(correct),
        "examples": [(r.get("completion", ""), r.get("gold"), bool(r.get("correct"))) for r in rows[:3]],
    }  # fmt: skip
