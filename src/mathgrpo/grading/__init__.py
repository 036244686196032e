"""The one answer checker used by training rewards and by evaluation, so the two never drift.

Usage: ``from mathgrpo.grading import grade; grade(completion, "42")  # True / False / None``

- ``extract_boxed``: the last ``\\boxed{...}`` (``\\boxed 5``, ``\\fbox`` too); a truncated box is no answer.
- ``grade``: exact paths for integer golds (no floats anywhere) and plain numbers, math-verify for
  the rest in worker processes under a hard deadline that works from any thread; ``None`` when the
  gold cannot be graded (TRL then leaves the sample out), never True.
- ``answers_equivalent``: symmetric, bounded; evaluation's majority vote groups answers with it.
See ``checker.py`` for the order of the paths and ``pool.py`` for the time bound.
"""

from __future__ import annotations

import os
import threading

from mathgrpo.grading.checker import MAX_ANSWER_CHARS, TIME_LIMIT_S, Grader, GradingStats
from mathgrpo.grading.extract import completion_text, count_boxes, extract_boxed

__all__ = [
    "MAX_ANSWER_CHARS",
    "TIME_LIMIT_S",
    "Grader",
    "GradingStats",
    "answers_equivalent",
    "completion_text",
    "count_boxes",
    "default_grader",
    "extract_boxed",
    "grade",
    "grading_stats",
]

# One grader per process: its worker pool and caches are worth sharing between rewards and
# evaluation. Keyed by pid so that a forked child never talks to its parent's workers.
_DEFAULT: dict[int, Grader] = {}
_DEFAULT_LOCK = threading.Lock()


def default_grader() -> Grader:
    """This process's shared grader (made on first use; workers start on first need)."""
    pid = os.getpid()
    with _DEFAULT_LOCK:
        grader = _DEFAULT.get(pid)
        if grader is None:
            grader = _DEFAULT[pid] = Grader()
        return grader


def grade(completion, gold, *, grader: Grader | None = None) -> bool | None:
    """True/False for the completion's last boxed answer against ``gold``; None when the gold
    cannot be graded. No box (or a truncated one) is False."""
    return (grader or default_grader()).grade(completion, gold)


def answers_equivalent(a: str, b: str, *, grader: Grader | None = None) -> bool:
    """Whether two extracted answers are the same answer (symmetric, bounded in time)."""
    return (grader or default_grader()).equivalent(a, b)


def grading_stats() -> GradingStats:
    """Counters of the shared grader (calls, paths taken, timeouts, ungradeable golds)."""
    return default_grader().stats
