"""Our own regression cases for each way the peers' test tables found us disagreeing (issue 32).

Written for this project (none is copied from a peer's table), one or more per class, so that CI
guards the classes even where the extracted peer cases (bench/peers/extract.py) are absent:

  text      no box: the text states the answer (text reading); the box reading stays box-only
  boxes     one final answer spread over several boxes, read together by the text reading
  upright   an upright constant (``\\mathrm{e}``, ``\\mathrm{i}``) after an operator or a number
  grouping  digits grouped by commas: unambiguous thousands only
  units     percent spelled as a word
  golds     several golds, any of which may match
  strict    strict's documented rule for integer golds (an unfinished computation is not the integer): a design refusal

Each row: (class, gold, completion, extraction, strict verdict, equivalent verdict, needs).
``needs`` names what the row depends on that the grader before issue 32 (GRADER_VERSION
2026-11-30) lacked: "text" (the ``extraction="text"`` reading), "fix" (the rule fixes of issue 32),
or None (true of that grader too).
"""

from __future__ import annotations

BOXED, TEXT = "boxed", "text"

CASES = [
    # -- text: the answer stated without a box ------------------------------------------------
    ("text", "12", "Adding the two counts, the final answer is 12.", TEXT, True, True, "text"),
    ("text", "12", "Adding the two counts, the final answer is 12.", BOXED, False, False, None),
    ("text", "12", "Adding the two counts, the final answer is 13.", TEXT, False, False, None),
    ("text", "y \\le -3", "Solving the inequality gives $y \\leq -3$.", TEXT, True, True, "text"),
    (
        "text",
        "\\begin{pmatrix} 2 & 0 \\\\ 0 & 2 \\end{pmatrix}",
        "So twice the identity is $\\begin{pmatrix} 2 & 0 \\\\ 0 & 2 \\end{pmatrix}$.",
        TEXT,
        True,
        True,
        "text",
    ),
    ("text", "\\frac{3}{7}", "The probability is therefore $\\frac{3}{7}$.", TEXT, True, True, "text"),
    # -- boxes: one answer over several boxes --------------------------------------------------
    ("boxes", "(1,3),(5,7)", "The pairs are $\\boxed{(1,3)}$ and $\\boxed{(5,7)}$.", TEXT, True, True, "text"),
    ("boxes", "(1,3),(5,7)", "The pairs are $\\boxed{(1,3)}$ and $\\boxed{(5,8)}$.", TEXT, False, False, None),
    ("boxes", "(1,3),(5,7)", "The only pair is $\\boxed{(1,3)}$.", TEXT, False, False, None),
    ("boxes", "(1,3),(5,7)", "The pairs are $\\boxed{(1,3)}$ and $\\boxed{(5,7)}$.", BOXED, False, False, None),
    # -- upright: constants written upright are the constants ---------------------------------
    ("upright", "2 - \\mathrm{e}", "\\boxed{2 + \\mathrm{e}}", BOXED, False, False, "fix"),
    ("upright", "2 - \\mathrm{e}", "\\boxed{2 - \\mathrm{e}}", BOXED, True, True, None),
    ("upright", "3 + \\frac{2}{\\mathrm{e}}", "\\boxed{3 - \\frac{2}{\\mathrm{e}}}", BOXED, False, False, "fix"),
    ("upright", "4", "\\boxed{4\\mathrm{i}}", BOXED, False, False, "fix"),
    ("upright", "4", "\\boxed{4\\text{ cm}}", BOXED, True, True, None),
    # -- grouping: commas group thousands only where that is the one reading -------------------
    ("grouping", "0,375", "\\boxed{375}", BOXED, False, False, "fix"),
    ("grouping", "(20,300)", "\\boxed{20300}", BOXED, False, False, "fix"),
    ("grouping", "20300", "\\boxed{(20,300)}", BOXED, False, False, "fix"),
    ("grouping", "20300", "\\boxed{20,300}", BOXED, True, True, None),
    # -- units: percent as a word --------------------------------------------------------------
    ("units", "35\\%", "\\boxed{35 percent}", BOXED, True, True, None),
    ("units", "35\\%", "\\boxed{35 pct}", BOXED, True, True, "fix"),
    ("units", "35\\%", "\\boxed{35 percentage}", BOXED, True, True, "fix"),
    ("units", "35\\%", "\\boxed{36 pct}", BOXED, False, False, None),
    # -- golds: a list of golds ------------------------------------------------------------------
    ("golds", ["\\frac{1}{4}", "0.25"], "\\boxed{0.25}", BOXED, True, True, "fix"),
    ("golds", ["7", "-7"], "\\boxed{-7}", BOXED, True, True, "fix"),
    ("golds", ["7", "-7"], "\\boxed{9}", BOXED, False, False, None),
    # -- strict: the documented refusal; equivalent accepts --------------------------------------
    ("strict", "12", "\\boxed{10+2}", BOXED, False, True, None),
    ("strict", "12", "So the answer is $10 + 2$.", TEXT, False, True, "text"),
]
