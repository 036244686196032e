"""Property tests (hypothesis): any text gives a reward in the allowed set, in bounded time."""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mathgrpo.grading import (
    TIME_LIMIT_S,  # noqa: E402
    Grader,
    extract_boxed,
)
from mathgrpo.grading.pool import WALL_FACTOR  # noqa: E402
from mathgrpo.train.rewards import RewardOptions, build_reward_funcs

from conftest import within  # the bound plus load-scaled slack

# The grader's contract: TIME_LIMIT_S of CPU, one retry, at most WALL_FACTOR times that in wall time.
BOUND_S = 2 * TIME_LIMIT_S * WALL_FACTOR + 1.0

FRAGMENTS = [
    "\\boxed{",
    "\\boxed ",
    "\\fbox{",
    "{",
    "}",
    "\\{",
    "\\}",
    "\\\\",
    "$",
    "^",
    "_",
    "\\frac",
    "\\sqrt",
    "\\pi",
    "\\infty",
    "\\text{",
    "\\left(",
    "\\right)",
    "(",
    ")",
    "[",
    "]",
    ",",
    "{,}",
    "\\!",
    "\\,",
    "=",
    "x",
    "y",
    "E_",
    "-",
    "+",
    "/",
    ".",
    "0",
    "1",
    "2",
    "9",
    "025",
    "10^{",
    "!",
    "%",
    "\\%",
    "^\\circ",
    "<think>",
    "</think>",
    " ",
    "\n",
    "\x00",
    "\u2212",
    "\\begin{pmatrix}",
    "\\end{pmatrix}",
    "&",
]
latexish = st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=8), max_size=40).map("".join)
completions = st.one_of(
    st.none(),
    st.text(max_size=300),
    latexish,
    latexish.map(lambda s: f"<think>{s}</think> \\boxed{{{s}}}"),
    latexish.map(lambda s: [{"role": "assistant", "content": s}]),
)
GOLDS = [
    "5",
    "025",
    "-366",
    "22099999999999998951424",
    "\\frac{14}{3}",
    "(3, \\frac{\\pi}{3})",
    "[-2,7]",
    "x^2+1",
    "\\text{(C)}",
    "\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}",
]


@pytest.fixture(scope="module")
def funcs():
    return build_reward_funcs(["accuracy", "format", "soft_overlong"], RewardOptions(max_completion_length=100))


@pytest.fixture(scope="module")
def grader():
    g = Grader()
    yield g
    g.close()


@settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(completion=completions, gold=st.sampled_from(GOLDS), prompt_opens=st.booleans())
def test_any_completion_gets_an_allowed_reward_in_time(funcs, completion, gold, prompt_opens):
    prompt = "Solve.\n<think>" if prompt_opens else "Solve."
    ids = [0] * (len(completion) if isinstance(completion, str) else 3)
    # These golds are all gradeable; None is a verdict sympy could not reach in time (then every
    # reward leaves the sample out).
    allowed = {"accuracy": {0.0, 1.0, None}, "format": {0.0, 1.0, None}}
    for func in funcs:
        start = time.monotonic()
        (reward,) = func([completion], answer=[gold], prompts=[prompt], completion_ids=[ids])
        assert time.monotonic() - start < within(BOUND_S)
        if func.__name__ in allowed:
            assert reward in allowed[func.__name__]
        else:
            assert reward is None or -1.0 <= reward <= 0.0


@settings(max_examples=300, deadline=None, derandomize=True)
@given(text=st.text(max_size=500) | latexish)
def test_extract_boxed_total(text):
    got = extract_boxed(text)
    assert got is None or (isinstance(got, str) and got in text)


@settings(max_examples=200, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(
    a=st.integers(-(10**30), 10**30),
    delta=st.integers(-2, 2),
    style=st.sampled_from(["plain", "comma", "zeros", "dot0"]),
)
def test_integer_golds_are_exact(grader, a, delta, style):
    b = a + delta
    body = str(abs(b))
    if style == "comma":
        body = f"{abs(b):,}"
    elif style == "zeros":
        body = "00" + body
    elif style == "dot0":
        body += ".0"
    pred = ("-" if b < 0 else "") + body
    before = grader.stats.math_verify
    assert grader.grade(f"\\boxed{{{pred}}}", str(a)) is (delta == 0)
    assert grader.stats.math_verify == before  # no floats, no sympy: the exact integer path only


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(a=latexish, b=latexish)
def test_answers_equivalent_symmetric_and_bounded(grader, a, b):
    start = time.monotonic()
    ab, ba = grader.equivalent(a, b), grader.equivalent(b, a)
    assert time.monotonic() - start < within(2 * BOUND_S)
    assert ab is ba
