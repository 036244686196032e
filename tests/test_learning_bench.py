"""bench/learning.py's statistics and report, on hand-made eval folders (no model is run)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def learning():
    sys.path.insert(0, str(REPO / "bench"))  # learning.py imports its helpers from its own folder
    try:
        import learning

        yield learning
    finally:
        sys.path.remove(str(REPO / "bench"))


@pytest.fixture(scope="module")
def stats(learning):
    import learning_stats

    return learning_stats


def test_wilson_matches_the_textbook_values(stats):
    # 5 of 10: 0.2366 .. 0.7634 (Wilson 1927; Newcombe 1998, table I method 3)
    low, high = stats.wilson(5, 10)
    assert (round(low, 4), round(high, 4)) == (0.2366, 0.7634)
    low, high = stats.wilson(0, 10)
    assert low == 0.0 and round(high, 4) == 0.2775
    assert stats.wilson(0, 0) == (0.0, 0.0)


def test_paired_bootstrap_brackets_the_gain(stats):
    before = [0] * 100
    after = [1] * 30 + [0] * 70
    low, high = stats.paired_bootstrap(before, after, reps=2000)
    assert low < 0.30 < high and low > 0.15 and high < 0.45
    assert stats.paired_bootstrap(after, after, reps=200) == (0.0, 0.0)


def test_equations_count_right_and_wrong_arithmetic(stats):
    assert stats.equations("so 4 x 2 = 8 pencils, 5 x 5 = 20") == (1, 2)
    assert stats.equations("3 + 4 = 7 and 4 * 1 = 24, 8 / 2 = 4") == (2, 3)
    assert stats.equations("5 \\times 3 = 15; 6 \\div 2 = 3") == (2, 2)
    assert stats.equations("The answer is \\boxed{7}.") == (0, 0)
    assert stats.last_number("gets 1,000 then 12.5 coins") == "12.5"
    assert stats.last_number(None) is None


def write_eval(folder: Path, rows: list[tuple[str, str, bool, str | None]]) -> None:
    folder.mkdir(parents=True)
    lines = [json.dumps({"id": str(i), "sample": 0, "completion": c, "gold": g, "correct": ok, "answer": a})
             for i, (c, g, ok, a) in enumerate(rows)]  # fmt: skip
    (folder / "samples.jsonl").write_text("\n".join(lines) + "\n")
    (folder / "summary.json").write_text("{}")


def test_metrics_separate_format_from_arithmetic(stats, tmp_path):
    rows = [
        ("3 + 4 = 7. The answer is \\boxed{7}.", "7", True, "7"),
        ("4 * 1 = 24. The answer is \\boxed{24}.", "4", False, "24"),
        ("The answer is \\boxed{4 * 1}.", "4", False, "4 * 1"),  # the old reward hack: an expression
        ("I think it is 12", "12", False, None),  # right number, no box
    ]
    write_eval(tmp_path / "e", rows)
    m = stats.metrics(stats.read_samples(tmp_path / "e"))
    assert m["n"] == 4 and m["accuracy"] == 0.25 and m["boxed_rate"] == 0.75
    assert m["acc_boxed"] == pytest.approx(1 / 3)
    assert m["n_expr"] == 1 and m["n_lenient"] == 1  # `4 * 1` is not an integer, but equals the gold 4
    assert m["last_number"] == 0.5  # "7" and "12"
    assert (m["n_eq"], m["eq_rate"]) == (2, 0.5)


def test_report_is_written_from_eval_folders_and_training_log(learning, tmp_path):
    out = tmp_path / "run"
    write_eval(out / "eval-before", [("no box 3", "7", False, None)] * 3 + [("\\boxed{7}", "7", True, "7")])
    write_eval(out / "eval-after", [("3 + 4 = 7. \\boxed{7}", "7", True, "7")] * 4)
    train = out / "train"
    train.mkdir()
    history = [{"step": s, "reward": s / 4, "entropy": 0.5, "frac_reward_zero_std": 0.0, "step_time": 1.0,
                "completions/mean_length": 30.0, "completions/clipped_ratio": 0.0} for s in range(1, 5)]  # fmt: skip
    (train / "trainer_state.json").write_text(json.dumps({"log_history": history}))
    before = learning.metrics(learning.read_samples(out / "eval-before"))
    after = learning.metrics(learning.read_samples(out / "eval-after"))
    info = {"date": "today", "commands": ["mathgrpo eval ..."], "wall": {"eval_before": 1, "train": 2, "eval_after": 3},
            "machine": "test", "recipe": "recipes/demo/learning-cpu.yaml"}  # fmt: skip
    page = tmp_path / "learning.md"
    learning.write_report(page, "cpu", before, after, learning.log_history(train), info)
    text = page.read_text()
    assert "25.0% -> 100.0%, a change of\n+75.0 points" in text
    assert "The target of +15 points is reached" in text
    assert "learning_rate: 1.0e-5" in text  # the recipe is quoted as it is on disk
    assert "from 0.25 over the first 1 logged steps to 1.00 over the last 1" in text
