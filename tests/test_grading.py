"""The answer checker on labelled cases, extraction and normalisation (mathgrpo.grading)."""

from __future__ import annotations

import logging
from fractions import Fraction

import pytest
from grading_cases import CASES

from mathgrpo.grading import Grader, answers_equivalent, completion_text, count_boxes, extract_boxed, grade
from mathgrpo.grading.normalize import canonical, exact_number, integer_literal, simple_latex, too_complex


def test_there_are_enough_labelled_cases():
    assert len(CASES) >= 80
    assert {e for *_, e, _ in CASES} == {True, False, None}


@pytest.mark.parametrize(("completion", "gold", "expected", "why"), CASES, ids=[c[3] for c in CASES])
def test_labelled_case(completion, gold, expected, why):
    assert grade(completion, gold) is expected, why


# --- extraction -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("\\boxed{5}", "5"),
        ("a \\boxed{1} b \\boxed{ 2 } c", " 2 "),  # the last box, content as written
        ("\\boxed{\\frac{1}{\\sqrt{2}}}", "\\frac{1}{\\sqrt{2}}"),  # nested
        ("\\boxed{\\{1\\}}", "\\{1\\}"),  # escaped braces do not close the box
        ("\\boxed {7}", "7"),  # space before the brace
        ("$\\boxed 42$.", "42"),  # single token ends at $
        ("\\boxed 42.", "42"),  # trailing sentence period dropped
        ("\\boxed\\pi", "\\pi"),  # a control word as the token
        ("\\fbox{3}", "3"),
        ("\\boxed{1} \\fbox{2}", "2"),  # last of either command
        ("\\boxedx{1} \\boxed{2} \\boxedy{3}", "2"),  # \boxedy is not \boxed
        ("\\boxed{}", ""),  # an empty box is an (empty) answer
        ("\\boxed{5", None),  # truncated
        ("\\boxed{1} then \\boxed{", None),  # truncated last box: no fallback to the earlier one
        ("\\boxed", None),
        ("{\\boxed}", None),
        ("no box", None),
        ("", None),
    ],
)
def test_extract_boxed(text, expected):
    assert extract_boxed(text) == expected


def test_extract_boxed_deep_nesting_is_linear():
    deep = "\\boxed{" + "{" * 5000 + "x" + "}" * 5000 + "}"
    assert extract_boxed(deep) == "{" * 5000 + "x" + "}" * 5000
    assert extract_boxed("\\boxed{" + "{" * 5000) is None


def test_completion_text_shapes():
    assert completion_text(None) == ""
    assert completion_text("plain") == "plain"
    msgs = [
        {"role": "assistant", "content": "a"},
        {"role": "tool", "content": "x"},
        {"role": "assistant", "content": "b"},
    ]
    assert completion_text(msgs) == "a\nb"
    assert completion_text({"role": "assistant", "content": "c"}) == "c"
    assert completion_text([{"role": "assistant", "content": [{"type": "text", "text": "d"}]}]) == "d"
    assert completion_text(42) == ""


def test_count_boxes():
    assert count_boxes("\\boxed{1} \\fbox{2} \\boxed 3") == 3
    assert count_boxes(None) == 0


# --- normalisation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("025", 25),
        ("1,000", 1000),
        ("1{,}000", 1000),
        ("10,\\!080", 10080),
        ("1 000", 1000),
        ("5.0", 5),
        ("-7", -7),
        ("- 7", -7),
        ("x = 5", 5),
        ("90^\\circ", 90),
        ("12 \\text{ cm}", 12),
        ("\\$5", 5),
        ("10\\%", 10),
        ("\\frac{10}{4}", Fraction(5, 2)),
        ("\\dfrac12", Fraction(1, 2)),
        ("3/4", Fraction(3, 4)),
        ("0.125", Fraction(1, 8)),
        ("{5}", 5),
        ("\\boxed{7}", 7),
        ("1, 234", None),
        ("1 2", None),
        ("5x", None),
        ("2^{10}", None),
        ("\\frac{1}{0}", None),
        ("", None),
        (".", None),
        ("(0.5)", Fraction(1, 2)),
        ("(1, 234)", None),
        ("()", None),
    ],
)
def test_exact_number(text, value):
    assert exact_number(text) == value


def test_integer_literal_never_goes_through_float():
    big = "22099999999999998951425"  # its float is ...424, the real DAPO gold
    assert integer_literal(big) == int(big) and integer_literal(big) != int(float(big))
    assert integer_literal("0.5") is None
    assert integer_literal("\\frac{8}{2}") is None and integer_literal("4.00") == 4  # written as an integer


@pytest.mark.parametrize(
    ("boxed", "gold", "expected"),
    [
        ("\\textbf{(113)}", "113", True),
        ("\\textbf{(073) }", "73", True),
        ("(113)", "113", True),
        ("(-5)", "-5", True),
        ("(113)", "13", False),
        ("(1, 2)", "1", False),
        ("(4*1)", "4", False),
        ("((113))", "113", False),  # one pair only: more is not how anyone writes a number
    ],
)
def test_a_number_in_one_pair_of_parentheses_is_that_number(boxed, gold, expected):
    # AoPS writes AIME answers as answer choices; the strict integer rule still holds inside.
    assert grade(f"The answer is \\boxed{{{boxed}}}", gold) is expected


def test_canonical():
    assert canonical("\\dfrac{1}{2}") == canonical("\\frac{1}{2}")
    assert canonical("\\left( 1, 2 \\right)") == "(1,2)"
    assert canonical("\\text{(C)}") == "(C)"
    assert canonical("\\pi r") != canonical("\\pir")  # a space between letters is kept


def test_simple_latex():
    assert simple_latex("\\frac{\\sqrt{3}}{2}") and simple_latex("(-\\infty,3]") and simple_latex("x^2+1")
    assert not simple_latex("E_{1}")  # math-verify reads E as Euler's number
    assert not simple_latex("f(x)") and not simple_latex("Devon") and not simple_latex("\\odot")
    assert simple_latex("\\text{Devon}") and simple_latex("\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}")
    assert not simple_latex("}{") and not simple_latex("+")


def test_too_complex():
    assert too_complex("9^{9^{9^{9}}}")
    assert too_complex("10^{1000000000}") and too_complex("100000!")
    assert not too_complex("e^{x^2}") and not too_complex("2^{10}") and not too_complex("5!")


# --- answers_equivalent (majority voting) -----------------------------------------------------

EQUIVALENT = [
    ("\\frac{1}{2}", "0.5", True),
    ("1/2", "\\dfrac{1}{2}", True),
    ("025", "25", True),
    ("22099999999999998951424", "22099999999999998951425", False),
    ("[-2,7]", "(-2,7)", False),
    ("2^{10}", "1024", True),
    ("\\sqrt{8}", "2\\sqrt{2}", True),
    ("(x+1)^2", "x^2+2x+1", True),
    ("C", "\\text{(C)}", True),
    ("2", "3", False),
    ("", "", False),  # nothing is not an answer
]


@pytest.mark.parametrize(("a", "b", "expected"), EQUIVALENT)
def test_answers_equivalent_is_symmetric(a, b, expected):
    assert answers_equivalent(a, b) is expected
    assert answers_equivalent(b, a) is expected


def test_answers_equivalent_rejects_non_answers():
    assert answers_equivalent(None, "1") is False
    assert answers_equivalent("x" * 5000, "y" * 5000) is False


# --- golds and stats --------------------------------------------------------------------------


def test_ungradeable_gold_is_counted_and_logged_once(caplog):
    grader = Grader(workers=1)
    try:
        with caplog.at_level(logging.WARNING, logger="mathgrpo.grading.checker"):
            assert grader.grade("\\boxed{5}", "\\frac{1}{") is None
            assert grader.grade("\\boxed{6}", "\\frac{1}{") is None
        assert grader.stats.ungradeable_gold == 2
        assert sum("ungradeable gold" in r.getMessage() for r in caplog.records) == 1
    finally:
        grader.close()


def test_integer_golds_never_touch_math_verify():
    grader = Grader(workers=1)
    try:
        for pred, gold in [("34", "34"), ("1{,}000", "1000"), ("x=5", "5"), ("7", "8")]:
            grader.grade(f"\\boxed{{{pred}}}", gold)
        assert grader.stats.math_verify == 0 and grader.stats.integer_path == 4
        assert grader.pool._idle is None  # no worker was even started
    finally:
        grader.close()


def test_grade_answer_caps_length():
    grader = Grader(workers=1)
    try:
        assert grader.grade_answer("1" * 2000, "1") is False and grader.stats.too_long == 1
        assert grader.grade_answer("1", "1" * 2000) is None
    finally:
        grader.close()


# --- issue probes: identical spellings, verdicts under load, the two verdicts ------------------


def test_a_gold_spelled_as_a_fraction_accepts_its_own_spelling():
    for verdict in ("strict", "equivalent"):
        assert grade("\\boxed{\\frac{8}{2}}", "\\frac{8}{2}", verdict=verdict) is True
        assert grade("\\boxed{4}", "\\frac{8}{2}", verdict=verdict) is True  # its value, written plainly
    assert grade("\\boxed{\\frac{8}{2}}", "4") is False  # an integer gold still wants an integer


@pytest.mark.parametrize(
    ("pred", "gold"),
    [("10^3", "1000"), ("\\dfrac{68}{2}", "34"), ("\\sqrt{4}", "2"), ("4*1", "4"), ("2^{10}", "1024")],
)
def test_equivalent_verdict_counts_equal_values_strict_does_not(pred, gold):
    assert grade(f"\\boxed{{{pred}}}", gold, verdict="strict") is False
    assert grade(f"\\boxed{{{pred}}}", gold, verdict="equivalent") is True
    assert grade("\\boxed{1001}", gold, verdict="equivalent") is False


PROBES = [
    ("\\boxed{2\\sqrt{2}}", "\\sqrt{8}"),
    ("\\boxed{x^2+2x+1}", "(x+1)^2"),
    ("\\boxed{\\frac{\\sqrt{3}}{2}}", "\\frac{\\sqrt{3}}{2}+0"),
]


def test_a_timeout_is_unknown_and_never_cached():
    g = Grader(time_limit=0.001)  # no comparison can finish in a millisecond of CPU
    try:
        assert g.warm_up(timeout=120)
        assert [g.grade(c, gold) for c, gold in PROBES] == [None, None, None]
        assert g.stats.unknown == 3
        g.time_limit = 5.0  # the same grader, given time: the right answers are right
        assert [g.grade(c, gold) for c, gold in PROBES] == [True, True, True]
    finally:
        g.close()


def test_a_worker_starved_of_cpu_is_not_failed():
    # A loaded machine (a training step beside the grader) starves the worker of CPU. Simulated
    # exactly: the workers are stopped (SIGSTOP) for longer than the limit, then continued. A
    # wall-clock deadline would kill them and score the right answer 0; the deadline counts the
    # worker's CPU time, so the answer comes back right.
    import os
    import signal
    import threading
    import time

    from mathgrpo.grading import TIME_LIMIT_S

    g = Grader()
    try:
        assert g.warm_up(timeout=120)
        pids = [w.proc.pid for w in g.pool._idle._items]
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
        resume = threading.Timer(TIME_LIMIT_S + 0.5, lambda: [_signal(pid, signal.SIGCONT) for pid in pids])
        resume.start()
        started = time.monotonic()
        assert g.grade(*PROBES[0]) is True
        assert time.monotonic() - started > TIME_LIMIT_S  # it did wait past the wall-clock limit
        assert g.stats.unknown == 0 and g.pool.restarts == 0
    finally:
        for pid in pids:
            _signal(pid, signal.SIGCONT)
        g.close()


def _signal(pid: int, sig) -> None:
    import contextlib
    import os

    with contextlib.suppress(ProcessLookupError):  # a worker the pool killed and replaced
        os.kill(pid, sig)
