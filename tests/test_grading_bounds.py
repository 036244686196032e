"""The grader's promises under hostile input: bounded time in any thread or process, never raising."""

from __future__ import annotations

import multiprocessing
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from mathgrpo.grading import TIME_LIMIT_S, Grader
from mathgrpo.grading.pool import WALL_FACTOR
from mathgrpo.train.rewards import RewardOptions, build_reward_funcs

from conftest import within

# The contract: a comparison math-verify cannot finish gets TIME_LIMIT_S of the worker's CPU, then
# one retry on a fresh worker; a starved worker gets at most WALL_FACTOR times that in wall time.
# (How fast grading is, is bench/grading.py's business, not a unit test's.)
BOUND_S = 2 * TIME_LIMIT_S * WALL_FACTOR + 1.0


UNFINISHABLE = ("huge power", "big factorial")  # sympy cannot decide these in time: unknown

HOSTILE = {
    "none": None,
    "200k chars": "x = 1 + " * 25_000,
    "200k boxes": "\\boxed{" * 30_000,
    "200k closers": "}" * 200_000,
    "200k backslashes": "\\" * 200_000,
    "5000 nested braces": "\\boxed{" + "{" * 5000 + "1" + "}" * 5000 + "}",
    "5000 unclosed braces": "\\boxed{" + "{" * 5000,
    "huge box": "\\boxed{" + "1" * 150_000 + "}",
    "tower": "\\boxed{9^{9^{9^{9}}}}",
    "huge power": "\\boxed{10^{10^{10}}}",  # depth 2: only the worker's kill stops sympy here
    "big factorial": "\\boxed{(10^{8})!}",
    "control chars": "\\boxed{\x00\x01\x02\x1b[31m5\x7f}" + "\x00" * 1000,
    "unicode": "\\boxed{\u2212\u00bd\u221e\U0001f600}",
    "chat": [{"role": "assistant", "content": "\\boxed{" + "(" * 3000 + "}"}],
    "junk types": [{"role": "assistant"}, 3, None, {"content": ["x"]}],
}


@pytest.fixture(scope="module")
def grader():
    g = Grader()
    assert g.warm_up(timeout=120), "math-verify workers did not start"
    yield g
    g.close()


@pytest.mark.parametrize("gold", ["5", "\\frac{1}{2}", "x+1"])
@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_completion_is_bounded(grader, name, gold):
    start = time.monotonic()
    verdict = grader.grade(HOSTILE[name], gold)
    assert time.monotonic() - start < within(BOUND_S), name
    # None of these is a right answer: wrong, or unknown where sympy could not finish twice.
    assert verdict is False or (verdict is None and name in UNFINISHABLE)


def test_rewards_on_hostile_batch_are_bounded_and_valid():
    funcs = build_reward_funcs(["accuracy", "format", "soft_overlong"], RewardOptions(max_completion_length=64))
    completions = list(HOSTILE.values())
    kwargs = {
        "answer": ["x+1"] * len(completions),
        "prompts": ["Q"] * len(completions),
        "completion_ids": [[0] * 70] * len(completions),
    }
    for func in funcs:
        start = time.monotonic()
        rewards = func(completions, **kwargs)
        assert time.monotonic() - start < within(BOUND_S * len(completions))
        assert len(rewards) == len(completions)
        assert set(rewards) <= {0.0, 1.0, -1.0, None}, func.__name__


def test_timeout_is_unknown_never_cached_and_the_spare_answers_at_once(grader):
    restarts, unknown = grader.pool.restarts, grader.stats.unknown
    start = time.monotonic()
    # Non-integer golds: an integer gold never reaches math-verify under the strict verdict.
    assert grader.grade("\\boxed{10^{10^{11}}}", "\\frac{7}{2}") is None  # out of time twice: unknown
    assert time.monotonic() - start < within(BOUND_S)
    assert grader.pool.restarts == restarts + 2 and grader.stats.unknown == unknown + 1
    assert grader.stats.retries >= 1 and grader.stats.timeouts >= 1
    assert grader.grade("\\boxed{10^{10^{11}}}", "\\frac{7}{2}") is None  # tried again: nothing was cached
    assert grader.stats.unknown == unknown + 2
    assert grader.grade("\\boxed{(x+3)^2}", "x^2+6x+9") is True  # needs math-verify: the spare is warm


def test_math_verify_path_off_the_main_thread(grader):
    # math-verify's own signal.alarm timeout raises off the main thread; ours does not care.
    cases = [
        ("\\boxed{2^{-1}}", "\\frac{1}{2}", True),
        ("\\boxed{(x+1)^2}", "x^2+2x+1", True),
        ("\\boxed{[-2,7)}", "[-2,7]", False),
        ("\\boxed{10^{10^{12}}}", "\\frac{1}{3}", None),
    ]
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = [pool.submit(grader.grade, c, g) for c, g, _ in cases]
        start = time.monotonic()
        results = [f.result(timeout=30) for f in futures]
    assert results == [e for *_, e in cases]
    assert time.monotonic() - start < within(4 * BOUND_S)
    assert threading.current_thread() is threading.main_thread()


def _grade_in_child(_):
    from mathgrpo.grading import grade

    return grade("\\boxed{\\frac{2}{4}+\\frac{1}{4}}", "\\frac{3}{4}")


def test_forked_child_starts_its_own_workers(grader):
    assert grader.grade("\\boxed{\\sqrt{8}}", "2\\sqrt{2}") is True  # the parent's default pool is live
    with multiprocessing.get_context("fork").Pool(1) as pool:
        assert pool.map(_grade_in_child, [0]) == [True]


def test_a_worker_killed_from_outside_is_replaced():
    g = Grader(workers=1)
    try:
        assert g.warm_up(timeout=120)
        (worker,) = g.pool._idle._items
        worker.proc.kill()  # e.g. the kernel's OOM killer
        worker.proc.wait()
        assert g.grade("\\boxed{x+x}", "2x") is True
        assert g.pool.restarts == 1
    finally:
        g.close()


def test_closed_pool_restarts_on_demand():
    g = Grader(workers=1)
    try:
        assert g.grade("\\boxed{x+x}", "2x") is True
        g.close()
        assert g.grade("\\boxed{x+x+x}", "3x") is True
    finally:
        g.close()
