"""Property tests (hypothesis): a wrong answer made by perturbing a right one is never accepted.

Each test builds a right answer, checks that the grader accepts it (so the test can fail), then
perturbs it -- a flipped sign, an added upright constant, a pair's digits joined, a set's element
dropped -- and checks that neither verdict, under either reading, accepts the result.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mathgrpo.grading import BOXED, EQUIVALENT, STRICT, TEXT, Grader

SETTINGS = settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
small = st.integers(1, 999)
# Constants in the spellings models write: upright (ISO 80000-2) and italic.
CONSTANTS = ["\\mathrm{e}", "\\operatorname{e}", "\\text{e}", "{\\rm e}", "e", "\\pi", "\\sqrt{2}", "\\sqrt{3}"]
UPRIGHT = [
    "\\mathrm{e}",
    "\\mathrm{i}",
    "\\operatorname{e}",
    "\\operatorname{i}",
    "\\text{e}",
    "\\text{i}",
    "\\textrm{i}",
    "{\\rm e}",
]


@pytest.fixture(scope="module")
def grader():
    g = Grader()
    yield g
    g.close()


def _box(answer: str) -> str:
    return f"So the answer is $\\boxed{{{answer}}}$."


def accepted(grader: Grader, answer: str, gold: str) -> list:
    """Every (verdict, reading) that accepts ``answer``: boxed, and stated in the text without a box."""
    completions = {BOXED: _box(answer), TEXT: f"The final answer is ${answer}$."}
    return [
        (v, r)
        for v in (STRICT, EQUIVALENT)
        for r in (BOXED, TEXT)
        if grader.grade(completions[r] if r == TEXT else completions[BOXED], gold, v, r) is True
    ]


@SETTINGS
@given(a=small, b=small, const=st.sampled_from(CONSTANTS), op=st.sampled_from(["+", "-"]))
def test_a_flipped_sign_is_never_accepted(grader, a, b, const, op):
    gold = f"{a} {op} \\frac{{{b}}}{{{const}}}"
    flipped = f"{a} {'-' if op == '+' else '+'} \\frac{{{b}}}{{{const}}}"
    assert grader.grade(_box(gold), gold, EQUIVALENT) is True
    assert accepted(grader, flipped, gold) == []
    assert accepted(grader, f"-{a}", str(a)) == []  # and the sign of a plain integer


@SETTINGS
@given(n=st.integers(1, 10**6), const=st.sampled_from(UPRIGHT), join=st.sampled_from(["", " ", "\\,", " + ", "-"]))
def test_an_added_upright_constant_is_never_accepted(grader, n, const, join):
    assert grader.grade(_box(str(n)), str(n), STRICT) is True  # (n = 0 is left out: 0e is 0)
    assert accepted(grader, f"{n}{join}{const}", str(n)) == []


@SETTINGS
@given(a=st.integers(1, 999), b=st.integers(0, 999), brackets=st.sampled_from(["()", "[]", "(]", "[)"]))
def test_a_pairs_joined_digits_are_never_accepted(grader, a, b, brackets):
    if brackets != "()" and a >= b:
        b = a + 1 + b  # an interval needs its ends in order
    gold = f"{brackets[0]}{a},{b}{brackets[1]}"
    assert grader.grade(_box(gold), gold, EQUIVALENT) is True
    assert accepted(grader, f"{a}{b}", gold) == []
    assert accepted(grader, f"{a}{{,}}{b:03d}", gold) == []  # the pair's digits as one grouped integer


@SETTINGS
@given(
    elements=st.lists(st.integers(-50, 50), min_size=2, max_size=5, unique=True),
    drop=st.integers(0, 4),
    style=st.sampled_from(["{}", "plain"]),
)
def test_a_set_missing_an_element_is_never_accepted(grader, elements, drop, style):
    def written(items):
        body = ", ".join(str(x) for x in items)
        return f"\\{{{body}\\}}" if style == "{}" else body

    gold = written(elements)
    assert grader.grade(_box(written(list(reversed(elements)))), gold, EQUIVALENT) is True  # order is free
    fewer = [x for i, x in enumerate(elements) if i != drop % len(elements)]
    assert accepted(grader, written(fewer), gold) == []
