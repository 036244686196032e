"""The two readings of a completion (``boxed``, ``text``) and several golds per problem."""

from __future__ import annotations

import json
import time

import pytest

from mathgrpo.grading import (
    BOXED,
    EQUIVALENT,
    STRICT,
    TEXT,
    TIME_LIMIT_S,
    Grader,
    extract_answer,
    extract_final_boxes,
    grade,
)
from mathgrpo.grading.pool import WALL_FACTOR
from mathgrpo.train.rewards import RewardOptions, build_reward_funcs

from conftest import within

BOUND_S = 2 * TIME_LIMIT_S * WALL_FACTOR + 1.0  # the grader's contract (tests/test_grading_bounds.py)


@pytest.fixture(scope="module")
def grader():
    g = Grader()
    yield g
    g.close()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("so $\\boxed{(2,2)}$ and $\\boxed{(6,2)}$.", "(2,2), (6,2)"),
        ("\\boxed{1}, \\boxed{2} or \\boxed{3}", "1, 2, 3"),
        ("\\(y_1 = \\boxed{2x}\\) and \\(y_2 = \\boxed{3x}\\)", "2x, 3x"),
        ("$$\\boxed{(3,3)} \\text{ for part (a) and } \\boxed{(1,1)}$$", "(3,3), (1,1)"),
        ("\\boxed{5} \\text{ is wrong; so } \\boxed{6}", "6"),
        ("\\boxed{5} so the answer is \\boxed{5}", "5"),  # a restated answer is one answer
        ("\\boxed{5} is wrong; the answer is \\boxed{6}", "6"),  # words between: only the last
        ("\\boxed{1} and \\boxed{2", None),  # the last box truncated: no answer, no fallback
        ("no box", None),
    ],
)
def test_final_boxes_are_read_together(text, expected):
    assert extract_final_boxes(text) == expected


@pytest.mark.parametrize(
    ("completion", "answer"),
    [
        ("The final answer is 9", "9"),
        ("Answer: 5", "5"),
        ("So $x = \\frac{1}{\\mathrm{e}}$.", "x = \\frac{1}{e}"),
        ("The matrix is $\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}$.", "\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}"),
        # a box is the answer, unless a "final answer is" statement follows it
        ("$\\boxed{7}$. The final answer is $8$. I hope it is correct.", "8"),
        ("The final answer is $\\boxed{7}$.", "7"),
        ("no number at all", None),
        # what the text states, without its surroundings
        ("La réponse est (35 + 70 = 105).", "105"),
        ("The answer is **92**.", "92"),
        ("So the set is $[0,1)$.", "[0,1)"),
        ("The count is $96+48 = {144}$.", "{144}"),  # a worked chain ends in its value
        ("The circle is $x^2+y^2=25$.", "x^2+y^2=25"),  # an equation is no chain
        ("$\\boxed{1}$ papers and $\\boxed{2}$ bins", "1, 2"),  # one unit word before the joiner
    ],
)
def test_text_reading_finds_the_stated_answer(grader, completion, answer):
    assert extract_answer(completion, TEXT, grader=grader) == answer


def test_boxed_reading_is_the_training_rewards(grader):
    two = "$\\boxed{(2,2)}$ and $\\boxed{(6,2)}$"
    assert extract_answer(two, BOXED, grader=grader) == "(6,2)"
    assert grade(two, "(2,2),(6,2)", verdict=EQUIVALENT, grader=grader) is False
    assert grade(two, "(2,2),(6,2)", verdict=EQUIVALENT, extraction=TEXT, grader=grader) is True
    assert grade("The final answer is 9", "9", grader=grader) is False  # no box, no answer
    for verdict in (STRICT, EQUIVALENT):
        assert grade("The final answer is 9", "9", verdict=verdict, extraction=TEXT, grader=grader) is True
        assert grade("The final answer is 8", "9", verdict=verdict, extraction=TEXT, grader=grader) is False
    assert grade("nothing", "\\frac{1}{", extraction=TEXT, grader=grader) is None  # the gold decides None
    with pytest.raises(ValueError, match="extraction"):
        grade("\\boxed{1}", "1", extraction="last_number", grader=grader)


def test_an_extracted_answer_with_a_stray_final_backslash_is_its_integer(grader):
    assert grader.grade_answer("185\\", "185", STRICT) is True  # NeMo-Skills' test table has this one
    assert grader.grade_answer("185\\\\", "185", STRICT) is False  # `\\` is a line break, not a stray


def test_a_gold_that_is_a_worked_solution_is_read_by_its_final_boxes(grader):
    gold = "Adding, we get $\\boxed{2}$ and $\\boxed{3}$."
    assert grader.grade_answer("\\{2, 3\\}", gold, EQUIVALENT) is True
    assert grader.grade_answer("2", gold, EQUIVALENT) is False


@pytest.mark.parametrize("verdict", [STRICT, EQUIVALENT])
def test_several_golds_any_may_match(grader, verdict):
    assert grader.grade_answer("5", ["4", "5"], verdict) is True
    assert grader.grade_answer("5", ("\\frac{1}{2}", "5"), verdict) is True
    assert grader.grade_answer("5", ["4", "6"], verdict) is False
    # an ungradeable gold among gradeable ones is skipped; all ungradeable: None, never True
    assert grader.grade_answer("5", ["\\frac{", "5"], verdict) is True
    assert grader.grade_answer("5", ["\\frac{", "6"], verdict) is False
    assert grader.grade_answer("5", ["\\frac{", ""], verdict) is None
    assert grader.grade_answer("5", [], verdict) is None
    assert grader.grade("\\boxed{0.5}", ["1/3", "\\frac{1}{2}"], verdict) is True
    # each gold keeps its own rules: 8/2 is not an integer written, for strict
    assert grader.grade("\\boxed{\\frac{8}{2}}", ["3", "4"], verdict) is (verdict == EQUIVALENT)
    assert grader.gradeable(["\\frac{", "5"]) is True and grader.gradeable(["\\frac{"]) is False


def test_the_accuracy_reward_takes_the_answers_column():
    (accuracy,) = build_reward_funcs(["accuracy"], RewardOptions(max_completion_length=1))
    completions = ["\\boxed{5}", "\\boxed{6}", "The final answer is 4"]
    got = accuracy(completions, answer=["4", "4", "4"], answers=[["4", "5"], ["4"], ["4"]])
    assert got == [1.0, 0.0, 0.0]  # the reward reads boxes only, as the format reward asks
    assert accuracy(completions, answer=["5", "4", "4"]) == [1.0, 0.0, 0.0]


def test_grade_cli_reads_lists_of_golds_and_the_text_reading(tmp_path, capsys):
    from mathgrpo.cli import main as cli_main

    rows = [
        {"completion": "The final answer is $9$.", "answer": ["8", "9"]},
        {"completion": "\\boxed{8}", "answer": ["8", "9"]},
        {"completion": "\\boxed{7}", "answer": ["8", "9"]},
    ]
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    for extraction, correct in ((BOXED, [False, True, False]), (TEXT, [True, True, False])):
        out = tmp_path / f"{extraction}.jsonl"
        assert cli_main(["grade", str(src), "-o", str(out), "--extraction", extraction]) == 0
        graded = [json.loads(x) for x in out.read_text().splitlines()]
        assert [r["correct"] for r in graded] == correct
        assert [r["accuracy_reward"] for r in graded] == [0.0, 1.0, 0.0]  # the training reward: boxes only
        assert f"reading {extraction}" in capsys.readouterr().out


@pytest.mark.parametrize(
    "text",
    ["$" * 100_000, "x = 1 + " * 25_000, "The final answer is " + "(" * 20_000, "Answer: " + "9^{" * 10_000],
    ids=["dollars", "a long sum", "open parentheses", "a power tower"],
)
def test_the_text_reading_is_bounded_on_hostile_text(grader, text):
    start = time.monotonic()
    for verdict in (STRICT, EQUIVALENT):
        assert grader.grade(text, "5", verdict, TEXT) in (False, None)
    assert time.monotonic() - start < within(2 * BOUND_S)
