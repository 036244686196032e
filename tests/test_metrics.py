"""pass@k against brute-force enumeration, majority vote (ties, grouping by the real grader),
per-benchmark summaries and the markdown tables."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import pytest

from mathgrpo.evaluation.metrics import (
    average,
    compare_markdown,
    default_ks,
    majority_index,
    majority_vote,
    pass_at_k,
    results_markdown,
    summarize,
    vote_groups,
)


def brute_pass_at_k(n: int, c: int, k: int) -> Fraction:
    """Share of all k-subsets of n samples (c of them correct) that hold a correct one."""
    samples = [True] * c + [False] * (n - c)
    subsets = list(itertools.combinations(range(n), k))
    return Fraction(sum(any(samples[i] for i in s) for s in subsets), len(subsets))


@pytest.mark.parametrize("n", range(1, 9))
def test_pass_at_k_equals_enumeration_over_all_subsets(n):
    for c in range(n + 1):
        for k in range(1, n + 1):
            assert pass_at_k(n, c, k) == pytest.approx(float(brute_pass_at_k(n, c, k)), abs=1e-12), (n, c, k)


def test_pass_at_1_is_the_mean_accuracy():
    for n in (1, 5, 64):
        for c in range(n + 1):
            assert pass_at_k(n, c, 1) == pytest.approx(c / n)


def test_pass_at_k_is_stable_for_large_n():
    # Exact rational arithmetic with math.comb as the reference; the float product must agree
    # where the naive ratio of binomials would overflow a float.
    for n, c, k in ((1000, 1, 1), (5000, 10, 2500), (10_000, 3, 9_990), (2048, 7, 1024)):
        exact = 1 - Fraction(math.comb(n - c, k), math.comb(n, k))
        assert pass_at_k(n, c, k) == pytest.approx(float(exact), rel=1e-9, abs=1e-12)
    with pytest.raises(OverflowError):  # what the estimator avoids
        float(math.comb(5000, 2500))  # the premise: the plain ratio of binomials overflows
    assert 0.0 <= pass_at_k(100_000, 1, 50_000) <= 1.0


@pytest.mark.parametrize("n,c,k", [(4, 5, 1), (4, -1, 1), (4, 2, 0), (4, 2, 5), (0, 0, 1)])
def test_pass_at_k_rejects_impossible_counts(n, c, k):
    with pytest.raises(ValueError):
        pass_at_k(n, c, k)


def test_default_ks_are_powers_of_two_and_n():
    assert default_ks(1) == [1]
    assert default_ks(8) == [1, 2, 4, 8]
    assert default_ks(12) == [1, 2, 4, 8, 12]


def exact(a, b):
    return a == b


def test_majority_vote_picks_the_largest_group():
    assert majority_vote(["3", "5", "5", "7", "5", "3"], equivalent=exact) == "5"


def test_majority_vote_tie_goes_to_the_answer_seen_first():
    assert majority_vote(["7", "3", "3", "7"], equivalent=exact) == "7"
    assert majority_index(["7", "3", "3", "7"], equivalent=exact) == 0
    assert majority_vote(["3", "7", "7", "3"], equivalent=exact) == "3"
    # A later, larger group still wins over an earlier smaller one.
    assert majority_vote(["1", "2", "2"], equivalent=exact) == "2"


def test_missing_answers_cast_no_vote():
    assert majority_vote([None, None, "4", None], equivalent=exact) == "4"
    assert majority_vote([None, "", "  "], equivalent=exact) is None
    assert vote_groups([None, "4", None, "4"], equivalent=exact) == [[1, 3]]


def test_majority_vote_groups_by_the_graders_equivalence():
    # The real grader: 1/2, 0.5 and \frac{1}{2} are one answer and outvote the two 3s.
    answers = ["3", "\\frac{1}{2}", "0.5", "3", "1/2"]
    assert majority_vote(answers) == "\\frac{1}{2}"
    assert vote_groups(answers) == [[0, 3], [1, 2, 4]]


def rec(pid, sample, correct, answer=None, truncated=False, n_tokens=10):
    return {
        "id": pid,
        "sample": sample,
        "correct": correct,
        "answer": answer,
        "truncated": truncated,
        "n_tokens": n_tokens,
    }


def test_summarize_counts_accuracy_pass_at_k_majority_and_truncation():
    records = [
        # p1: 2 of 4 correct; majority answer "5" (3 votes) is wrong.
        rec("p1", 0, True, "4"),
        rec("p1", 1, False, "5"),
        rec("p1", 2, False, "5"),
        rec("p1", 3, True, "5"),
        # p2: 3 of 4 correct, one truncated without an answer.
        rec("p2", 0, True, "9"),
        rec("p2", 1, True, "9"),
        rec("p2", 2, False, None, truncated=True, n_tokens=30),
        rec("p2", 3, True, "9"),
        # p3: gold not gradeable -> unknown: left out (never counted wrong), and reported.
        *(dict(rec("p3", i, None, "1"), gold_ok=False) for i in range(4)),
        # p4: one timeout among right answers -> unknown: left out until re-graded.
        rec("p4", 0, True, "2"),
        rec("p4", 1, None, "2"),
        rec("p4", 2, True, "2"),
        rec("p4", 3, True, "2"),
    ]
    s = summarize(records, n=4, equivalent=exact)
    assert s["problems"] == 4 and s["samples_per_problem"] == 4 and s["graded"] == 2
    assert s["unknown"] == 5 and s["unknown_problems"] == 2 and s["ungradeable"] == 1
    assert s["accuracy"] == pytest.approx((2 / 4 + 3 / 4) / 2)
    assert s["pass_at_k"]["2"] == pytest.approx((pass_at_k(4, 2, 2) + pass_at_k(4, 3, 2)) / 2)
    assert s["pass_at_k"]["4"] == pytest.approx(1.0)
    # p1's majority "5" holds a correct sample (sample 3) but its first member is wrong: the vote
    # is judged by the representative answer, which is the answer the vote returns.
    assert s["majority"] == pytest.approx(1 / 2) == s["maj_at_k"]["4"]
    assert s["maj_at_k"]["1"] == pytest.approx(1.0)  # the first sample alone: p1 and p2 right
    assert set(s["pass_at_k"]) == set(s["maj_at_k"]) == {"1", "2", "3", "4"}  # every k <= n
    assert s["truncated"] == pytest.approx(1 / 8)
    assert s["mean_tokens"] == pytest.approx((7 * 10 + 30) / 8)
    # Had the unknowns counted as wrong, accuracy would be (2/4 + 3/4 + 0 + 3/4) / 4.
    assert s["accuracy"] != pytest.approx((2 / 4 + 3 / 4 + 0 + 3 / 4) / 4)
    strict_unknown = [
        dict(r, correct_strict=None if r["id"] == "p1" and r["sample"] == 0 else r["correct"]) for r in records
    ]
    assert summarize(strict_unknown, n=4, equivalent=exact)["unknown_problems"] == 3
    everything_unknown = summarize([r for r in records if r["id"] == "p3"], n=4, equivalent=exact)
    assert everything_unknown["graded"] == 0 and "accuracy" not in everything_unknown


def test_summarize_uses_only_the_first_n_samples_and_needs_all_of_them():
    records = [rec("p", 0, True, "1"), rec("p", 1, False, "2"), rec("p", 2, False, "2")]
    assert summarize(records, n=1, equivalent=exact)["accuracy"] == 1.0
    with pytest.raises(ValueError, match="lack"):
        summarize(records[:1], n=2, equivalent=exact)


def fake_summary(model, acc, n=4):
    bench = {
        "problems": 10,
        "samples_per_problem": n,
        "accuracy": acc,
        "accuracy_strict": acc - 0.1,
        "pass_at_k": {"1": acc, "4": acc + 0.1},
        "maj_at_k": {"4": acc},
        "majority": acc,
        "truncated": 0.05,
        "mean_tokens": 100.0,
        "ungradeable": 0,
        "unknown": 0,
        "unknown_problems": 0,
        "graded": 10,
    }
    benches = {"math500": bench, "aime24": {**bench, "accuracy": acc / 2}}
    return {
        "settings": {
            "model": model,
            "template": "qwen_math",
            "temperature": 0.6,
            "top_p": 1.0,
            "max_new_tokens": 3000,
            "seed": 0,
        },
        "run": {"n": n, "ks": [1, 4]},
        "benchmarks": benches,
        "average": average(benches),
    }


def test_tables_show_percentages_and_deltas():
    base, trained = fake_summary("base", 0.30), fake_summary("trained", 0.45)
    table = results_markdown(base)
    assert "| benchmark | problems | unknown | mean@4 | strict | pass@4 | maj@4 | truncated % | mean tokens |" in table
    assert "| math500 | 10 | 0 | 30.0 | 20.0 | 40.0 | 30.0 | 5.0 | 100 |" in table
    assert "| average |  |  | 22.5 |" in table and "Left out" not in table
    base["benchmarks"]["aime24"].update(unknown_problems=2, unknown=3, ungradeable=1)
    table = results_markdown(base)
    assert "| aime24 | 10 | 2 | 15.0 |" in table
    assert "neither right nor wrong" in table and "aime24 2 problem(s), 3 sample(s), 1 with a gold" in table
    diff = compare_markdown(base, trained, "base", "trained")
    assert "| math500 | mean@4 | 30.0 | 45.0 | +15.0 |" in diff
    assert "| aime24 | mean@4 | 15.0 | 22.5 | +7.5 |" in diff
    assert "| average | mean@4 |" in diff


def test_two_verdicts_breakdowns_and_the_oat_zero_average():
    from mathgrpo.evaluation.metrics import OAT_ZERO_BENCHMARKS, oat_zero_average

    records = [
        {**rec("a", 0, True, "10^3"), "correct_strict": False, "level": "Level 1", "subject": "Algebra"},
        {**rec("b", 0, True, "7"), "correct_strict": True, "level": "Level 5", "subject": "Algebra"},
    ]
    s = summarize(records, n=1, equivalent=exact, breakdowns=("level", "subject"))
    assert (s["accuracy"], s["accuracy_strict"]) == (1.0, 0.5)
    assert "by_level" not in summarize(records, n=1, equivalent=exact)  # only the fields the benchmark names
    assert s["by_level"] == {"Level 1": {"problems": 1, "accuracy": 1.0}, "Level 5": {"problems": 1, "accuracy": 1.0}}
    assert s["by_subject"] == {"Algebra": {"problems": 2, "accuracy": 1.0}}
    five = {b: {**s, "accuracy": i / 10} for i, b in enumerate(OAT_ZERO_BENCHMARKS)}
    assert oat_zero_average(five)["accuracy"] == pytest.approx(0.2)
    assert oat_zero_average({b: five[b] for b in OAT_ZERO_BENCHMARKS[:4]}) == {}
