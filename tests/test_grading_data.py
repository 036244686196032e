"""The grader on real data: reference solutions are judged right, other problems' answers wrong.

Known exceptions (Minerva, 2 of 272 golds, both ungradeable -> None, never False):
- ``np.arcsin(10/13)``: Python code, not mathematics math-verify can read;
- ``\\frac{dM}{dt}=... L_{\\odot} ... M_{\\odot}^{6}`` : ``\\odot`` is outside math-verify's LaTeX grammar.
"""

from __future__ import annotations

import json

import pytest

from mathgrpo.grading import Grader, extract_boxed
from mathgrpo.grading.checker import _mv_text
from mathgrpo.grading.normalize import basic_clean, canonical, exact_number, simple_latex


@pytest.fixture(scope="module")
def grader():
    g = Grader()
    g.warm_up(timeout=120)
    yield g
    g.close()


def _rows(shared_data, name):
    path = shared_data / "eval" / f"{name}.jsonl"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    return [json.loads(line) for line in path.open(encoding="utf-8")]


def _golds(shared_data, name):
    rows = _rows(shared_data, name)
    if name == "minerva_math":  # no answer field: the gold is the solution's last box
        return rows, [extract_boxed(r["solution"]) for r in rows]
    return rows, [r["answer"] for r in rows]


@pytest.mark.parametrize("name", ["math500", "minerva_math"])
def test_reference_solutions_are_judged_correct(grader, shared_data, name):
    rows, golds = _golds(shared_data, name)
    verdicts = [grader.grade(r["solution"], g) for r, g in zip(rows, golds)]
    misses = [(g, v) for g, v in zip(golds, verdicts) if v is not True]
    assert sum(v is True for v in verdicts) >= 0.99 * len(rows), misses
    assert all(v is None for _, v in misses), f"a reference solution was graded wrong: {misses}"


@pytest.mark.parametrize("name", ["math500", "minerva_math"])
def test_other_problems_answers_are_judged_wrong(grader, shared_data, name):
    # Solution i against gold i+1: wrong unless both answers are literally the same value.
    rows, golds = _golds(shared_data, name)
    if name == "minerva_math":  # sympy needs ~0.5 s per pair of physics expressions: a sample
        rows, golds = rows[:60], golds[:60]
    pairs = [(rows[i]["solution"], golds[i + 1], extract_boxed(rows[i]["solution"])) for i in range(len(rows) - 1)]
    pairs = [
        (s, g, b)
        for s, g, b in pairs
        if canonical(b) != canonical(g) and (exact_number(b) is None or exact_number(b) != exact_number(g))
    ]
    verdicts = [grader.grade(s, g) for s, g, _ in pairs]
    accepted = [(b, g) for (_, g, b), v in zip(pairs, verdicts) if v is True]
    assert len(pairs) > 0.8 * (len(rows) - 1)
    assert len(accepted) <= 0.01 * len(pairs), accepted


def test_dapo_golds_all_take_the_exact_integer_path(shared_data):
    pq = pytest.importorskip("pyarrow.parquet")
    path = shared_data / "dapo-math-17k.parquet"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    golds = [r["ground_truth"] for r in pq.read_table(path, columns=["reward_model"]).column(0).to_pylist()]
    grader = Grader(workers=1)
    try:
        for gold in golds:
            assert grader.grade(f"\\boxed{{{gold}}}", gold) is True, gold
            assert grader.grade(f"\\boxed{{{int(gold) + 1}}}", gold) is False, gold
        assert grader.stats.math_verify == 0 and grader.stats.integer_path > 0
    finally:
        grader.close()


def test_simple_latex_golds_really_parse(grader, shared_data):
    """The shortcut that skips math-verify's gold check must never vouch for a gold it cannot read."""
    golds = []
    for name in ["math500", "minerva_math", "aime24", "aime25", "amc23"]:
        golds += [str(g) for g in _golds(shared_data, name)[1]]
    for row in _rows(shared_data, "olympiadbench"):
        golds += row["final_answer"]
    vouched = [g for g in golds if exact_number(g) is None and simple_latex(basic_clean(g))]
    assert len(vouched) > 100
    for gold in vouched:
        assert grader.pool.call("gold_ok", (_mv_text(gold),), timeout=30) == ("ok", True), gold
