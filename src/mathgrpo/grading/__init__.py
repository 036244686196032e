"""The one answer checker used by training rewards and by evaluation, so the two never drift.

Usage: ``from mathgrpo.grading import grade; grade(completion, "42")  # True / False / None``

- ``extract_boxed``: the last ``\\boxed{...}`` (``\\boxed 5``, ``\\fbox`` too); a truncated box is no answer.
- two readings of a completion (``extraction=``): ``boxed``, the last box only (the training reward's,
  as Oat-Zero's grader reads); ``text``, the final box with the boxes of the same answer just before
  it (``\\boxed{(2,2)}`` and ``\\boxed{(6,2)}``), or without a box the answer the text states, found by
  math-verify's own extraction, as math-verify, lighteval and the Qwen2.5-Math harness read.
- ``gold`` is one gold or a list of golds, any of which may match.
- ``grade``: two verdicts from one set of rules. ``strict`` (the training reward's default): an
  integer gold wants an integer written, as DAPO's verifier and PRM800K's grader do. ``equivalent``
  (evaluation's headline): mathematically equal answers count, as math-verify and the Qwen2.5-Math
  grader count them. Exact paths for integers (no floats anywhere) and plain numbers, math-verify
  for the rest in worker processes under a CPU-time deadline that works from any thread. ``None``
  when the gold cannot be graded or the verdict stayed unknown (out of time twice), never True.
- ``answers_equivalent``: symmetric, bounded; evaluation's majority vote groups answers with it.
See ``checker.py`` for the order of the paths and ``pool.py`` for the time bound.
"""

from __future__ import annotations

import os
import threading

from mathgrpo.grading.checker import (
    BOXED,
    EQUIVALENT,
    EXTRACTIONS,
    MAX_ANSWER_CHARS,
    STRICT,
    TEXT,
    TIME_LIMIT_S,
    VERDICTS,
    Grader,
    GradingStats,
)
from mathgrpo.grading.extract import completion_text, count_boxes, extract_boxed, extract_final_boxes

# Changes whenever a rule that can change a verdict changes: evaluation folders record it, and
# their summaries re-grade samples graded under another version.
GRADER_VERSION = "2026-12-07"

__all__ = [
    "BOXED",
    "EQUIVALENT",
    "EXTRACTIONS",
    "GRADER_VERSION",
    "MAX_ANSWER_CHARS",
    "STRICT",
    "TEXT",
    "TIME_LIMIT_S",
    "VERDICTS",
    "Grader",
    "GradingStats",
    "answers_equivalent",
    "completion_text",
    "count_boxes",
    "default_grader",
    "extract_answer",
    "extract_boxed",
    "extract_final_boxes",
    "grade",
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


def grade(
    completion, gold, *, verdict: str = STRICT, extraction: str = BOXED, grader: Grader | None = None
) -> bool | None:
    """True/False for the completion's answer (``extraction``: the last box, or the text reading)
    against ``gold`` (a gold or a list of golds, any may match); None when no gold can be graded
    or the verdict stayed unknown. No answer (no box, or a truncated one) is False."""
    return (grader or default_grader()).grade(completion, gold, verdict, extraction)


def extract_answer(completion, extraction: str = BOXED, *, grader: Grader | None = None) -> str | None:
    """The answer the ``extraction`` reading finds in a completion (None: none, or out of time)."""
    return (grader or default_grader()).answer(completion, extraction)[0]


def answers_equivalent(a: str, b: str, *, grader: Grader | None = None) -> bool:
    """Whether two extracted answers are the same answer (symmetric, bounded in time)."""
    return (grader or default_grader()).equivalent(a, b)
