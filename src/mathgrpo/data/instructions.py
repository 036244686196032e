"""Other frameworks' answer instructions, stripped from problems, each by name and counted.

Usage: ``problem = strip_instructions(problem, counts)`` (``counts``: name -> rows stripped)

Datasets prepared for another framework carry its answer instruction inside the problem:
DAPO-Math-17k its "Answer: $Answer" wrapper, verl's GSM8K "output the final answer after
\\"####\\"", verl's MATH / DeepScaleR and many Qwen-style sets "... within \\boxed{}". Departure
from those recipes, which train with the instruction and read its format: we strip it so the only
answer instruction the model sees is our template's ``\\boxed{}``, the format our one grader reads
-- two competing formats would teach the model neither. Each instruction is found by a fast
literal search first, so the regexes run only on the few rows that can match.
"""

from __future__ import annotations

import re

import pyarrow as pa
import pyarrow.compute as pc

# DAPO-Math-17k wraps every problem in its own answer instruction ("Answer: $Answer" on the last line).
DAPO_HEAD_TEXT = (
    "Solve the following math problem step by step. The last line of your response should be of the form "
    "Answer: $Answer (without quotes) where $Answer is the answer to the problem.\n\n"
)
DAPO_TAIL_TEXT = '\n\nRemember to put your answer on its own line after "Answer:".'
# The same wrapper with its whitespace altered (re-saved copies), for rows the exact fast path misses.
DAPO_HEAD = (
    r"(?s)^\s*Solve the following math problem step by step\.\s+The last line of your response should be "
    r"of the form Answer:\s*\$Answer \(without quotes\) where \$Answer is the answer to the problem\.\s*"
)
DAPO_TAIL = r"(?s)\s*Remember to put your answer on its own line after \"Answer:\"\.?\s*$"
DAPO_MARKERS = ("$Answer", 'on its own line after "Answer:"')
# 20 of DAPO's Chinese problems carry a second, Chinese instruction inside the wrapper ("Let's
# think step by step. Output the final answer as 'Answer: \boxed{...}' ..."); stripped likewise.
DAPO_ZH_MARKER = "让我们一步一步地思考。"
DAPO_ZH_TAIL = r"(?s)\s*让我们一步一步地思考。\s*请以“Answer:.*$"
# Other frameworks' instructions: (name, literal marker, regex removing it at the start or the end).
_BOXED = r"\\boxed\s*\{\s*\}"
INSTRUCTIONS = (
    (
        "verl_gsm8k",
        "output the final answer after",
        r"(?s)\s*Let's think step by step and output the final answer after \"####\"\.?\s*$",
    ),
    (
        "verl_boxed",
        "output the final answer within",
        rf"(?s)\s*Let's think step by step and output the final answer within \$?{_BOXED}\$?\.?\s*$",
    ),
    (
        "qwen_boxed",
        "put your final answer within",
        rf"(?s)(^\s*Please reason step by step, and put your final answer within \$?{_BOXED}\$?\.?\s*"
        rf"|\s*Please reason step by step, and put your final answer within \$?{_BOXED}\$?\.?\s*$)",
    ),
)
NAMES = ("dapo", *(name for name, _, _ in INSTRUCTIONS))
ANY_MARKER = "|".join(re.escape(m) for m in (*DAPO_MARKERS, DAPO_ZH_MARKER, *(m for _, m, _ in INSTRUCTIONS)))


def _replace_where(arr: pa.Array, mask: pa.Array, fn, all_change: bool = False) -> tuple[pa.Array, int]:
    """``fn`` applied to the rows of ``mask`` only; (new array, rows it changed). With
    ``all_change`` every masked row is known to change (no comparison needed)."""
    if not pc.any(mask).as_py():
        return arr, 0
    before = arr.filter(mask)
    after = fn(before)
    if all_change:
        changed = len(before)
    else:
        changed = pc.sum(pc.fill_null(pc.not_equal(before, after), False)).as_py() or 0
    return pc.replace_with_mask(arr, mask, after), changed


def _has(problem: pa.Array, *markers: str) -> pa.Array:
    return pc.fill_null(
        pc.or_(*(pc.match_substring(problem, m) for m in markers))
        if len(markers) > 1
        else pc.match_substring(problem, markers[0]),
        False,
    )


def strip_instructions(problem: pa.Array, counts: dict[str, int]) -> pa.Array:
    """Remove every known answer instruction (exact text fast, altered whitespace by regex); add the
    number of rows each one was removed from to ``counts``."""
    exact = pc.and_(pc.starts_with(problem, DAPO_HEAD_TEXT), pc.ends_with(problem, DAPO_TAIL_TEXT))
    problem, n_exact = _replace_where(
        problem,
        pc.fill_null(exact, False),
        lambda a: pc.utf8_slice_codeunits(a, len(DAPO_HEAD_TEXT), -len(DAPO_TAIL_TEXT)),
        all_change=True,
    )

    def loose_strip(a: pa.Array) -> pa.Array:
        a = pc.replace_substring_regex(a, DAPO_HEAD, "", max_replacements=1)
        return pc.replace_substring_regex(a, DAPO_TAIL, "")

    # One regex scan for every marker finds the few rows worth the regexes: on 20 copies of DAPO
    # (358,340 problems, wrapper stripped) it took 0.16 s of CPU, the four literal searches 0.60 s.
    candidates = pc.fill_null(pc.match_substring_regex(problem, ANY_MARKER), False)
    if pc.any(candidates).as_py():
        some = problem.filter(candidates)
        some, n_loose = _replace_where(some, _has(some, *DAPO_MARKERS), loose_strip)
        some, _ = _replace_where(  # inside the wrapper already counted
            some, _has(some, DAPO_ZH_MARKER), lambda a: pc.replace_substring_regex(a, DAPO_ZH_TAIL, "")
        )
        if n_exact + n_loose:
            counts["dapo"] = counts.get("dapo", 0) + n_exact + n_loose
        for name, marker, pattern in INSTRUCTIONS:
            strip = lambda a, p=pattern: pc.replace_substring_regex(a, p, "")  # noqa: E731
            some, n = _replace_where(some, _has(some, marker), strip)
            if n:
                counts[name] = counts.get(name, 0) + n
        problem = pc.replace_with_mask(problem, candidates, some)
    elif n_exact:
        counts["dapo"] = counts.get("dapo", 0) + n_exact
    return pc.utf8_trim_whitespace(problem)
