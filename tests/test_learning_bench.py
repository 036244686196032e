"""bench/learning.py's statistics and page, on hand-made eval folders (no model is run)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def bench():
    from benchkit import learning_page, learning_setup, stats

    return learning_setup, stats, learning_page


def test_wilson_matches_the_textbook_values(bench):
    stats = bench[1]
    # 5 of 10: 0.2366 .. 0.7634 (Wilson 1927; Newcombe 1998, table I method 3)
    low, high = stats.wilson(5, 10)
    assert (round(low, 4), round(high, 4)) == (0.2366, 0.7634)
    low, high = stats.wilson(0, 10)
    assert low == 0.0 and round(high, 4) == 0.2775
    assert stats.wilson(0, 0) == (0.0, 0.0)


def test_bootstraps_bracket_the_gain_and_widen_with_seed_spread(bench):
    stats = bench[1]
    before = [0.0] * 100
    after = [1.0] * 30 + [0.0] * 70
    low, high = stats.paired_bootstrap(before, after, reps=2000)
    assert low < 0.30 < high and low > 0.15 and high < 0.45
    ids = {str(i): 0.0 for i in range(100)}
    same = [{str(i): v for i, v in enumerate(after)}] * 3
    spread = [
        {str(i): v for i, v in enumerate(after)},
        {str(i): 0.0 for i in range(100)},
        {str(i): 1.0 if i < 60 else 0.0 for i in range(100)},
    ]
    tight, wide = (
        stats.seeds_and_problems_bootstrap(ids, same, reps=1000),
        stats.seeds_and_problems_bootstrap(ids, spread, reps=1000),
    )
    assert tight[0] < 0.3 < tight[1] and wide[1] - wide[0] > tight[1] - tight[0]


def test_pass_curve_is_the_unbiased_estimator(bench):
    stats = bench[1]
    rows = [{"id": "a", "sample": s, "correct": s < 2} for s in range(4)]
    rows += [{"id": "b", "sample": s, "correct": False} for s in range(4)]
    curve = stats.pass_curve(rows)
    # problem a: 2 of 4 right -> pass@1 0.5, pass@2 1 - C(2,2)/C(4,2) = 5/6, pass@3 = pass@4 = 1
    assert curve == pytest.approx([0.25, 5 / 12, 0.5, 0.5])


def test_equations_count_right_and_wrong_arithmetic(bench):
    stats = bench[1]
    assert stats.equations("so 4 x 2 = 8 pencils, 5 x 5 = 20") == (1, 2)
    assert stats.equations("3 + 4 = 7 and 4 * 1 = 24, 8 / 2 = 4") == (2, 3)
    assert stats.equations("5 \\times 3 = 15; 6 \\div 2 = 3") == (2, 2)
    assert stats.equations("The answer is \\boxed{7}.") == (0, 0)
    assert stats.last_number("gets 1,000 then 12.5 coins") == "12.5"
    assert stats.last_number(None) is None


def write_eval(folder: Path, rows: list[tuple[str, str, bool, str | None]], samples: int = 1) -> None:
    folder.mkdir(parents=True)
    lines = [
        json.dumps(
            {
                "benchmark": "b",
                "id": str(i // samples),
                "sample": i % samples,
                "completion": c,
                "gold": g,
                "correct": ok,
                "answer": a,
            }
        )
        for i, (c, g, ok, a) in enumerate(rows)
    ]
    (folder / "samples.jsonl").write_text("\n".join(lines) + "\n")
    (folder / "summary.json").write_text("{}")


def test_metrics_separate_format_from_arithmetic(bench, tmp_path):
    stats = bench[1]
    rows = [
        ("3 + 4 = 7. The answer is \\boxed{7}.", "7", True, "7"),
        ("4 * 1 = 24. The answer is \\boxed{24}.", "4", False, "24"),
        ("The answer is \\boxed{4 * 1}.", "4", False, "4 * 1"),  # the old reward hack: an expression
        ("I think it is 12", "12", False, None),  # right number, no box
    ]
    write_eval(tmp_path / "e", rows)
    m = stats.metrics(stats.read_samples(tmp_path / "e"))
    assert m["n"] == 4 and m["accuracy"] == 0.25 and m["boxed_rate"] == 0.75
    assert m["acc_boxed"] == pytest.approx(1 / 3) and m["n_expr"] == 1
    assert m["last_number"] == 0.5  # "7" and "12"
    assert (m["n_eq"], m["eq_rate"]) == (2, 0.5)


def test_page_is_computed_from_the_run_folder(bench, tmp_path):
    learning, _, report = bench
    out, docs = tmp_path / "run", tmp_path / "docs"
    n = learning.SETS["unseen"]["n"]
    right, wrong = ("x = 7. \\boxed{7}", "7", True, "7"), ("no box 3", "7", False, None)
    write_eval(out / "before" / "unseen", ([wrong] * (n - 1) + [right]) * 4, samples=n)  # 1 of n right
    for seed in (0, 1):
        write_eval(out / f"seed{seed}" / "unseen", ([right] * (n // 2) + [wrong] * (n // 2)) * 4, samples=n)
        train = out / f"seed{seed}" / "train"
        train.mkdir(parents=True)
        log = [
            {"step": s, "reward": s / 4, "entropy": 0.5, "frac_reward_zero_std": 0.0, "step_time": 1.0}
            for s in range(1, 5)
        ]
        (train / "trainer_state.json").write_text(json.dumps({"global_step": 4, "log_history": log}))
    setup = bench[0]
    command = f"mathgrpo eval --model {setup.REPO}/output/x --data-dir {setup.REPO.parent}/shared/data/eval"
    stage = {"seconds": 60, "ended": "today", "machine": "m; load 1", "command": command}
    (out / "stages.json").write_text(json.dumps({"before-unseen": stage}))
    prof = {**learning.PROFILES["cpu"], "seeds": [0, 1]}
    text = report.write_page(out, prof, docs).read_text()
    before, after = 100 / n, 50.0
    assert f"{before:.1f}% before, {after:.1f}% after (mean of 2 training seeds): {after - before:+.1f} points" in text
    assert "The target (+15 points, interval above zero) is reached" in text
    assert (docs / "learning-pass-at-k.png").is_file() and (docs / "learning-training.png").is_file()
    assert "learning_rate:" in text  # the recipe is quoted as it is on disk
    assert "`d4ddc8d`" in text  # the history of earlier held-out results names its commits
    assert "- before-unseen: 1.0 min" in text
    # no machine paths on the page: commands are relative to the repository
    assert "`mathgrpo eval --model output/x --data-dir ../shared/data/eval`" in text and str(setup.REPO) not in text


def test_dynamic_compare_counts_every_generated_group(bench, tmp_path):
    """bench/dynamic_compare.py: TRL logs a dynamic step's reward and zero-signal share as means over
    its generation rounds, so the generated shares are weighted by rounds; the trained share is the
    dynamic trainer's own count, and the accuracy points come from the saved models' eval folders."""
    from benchkit import dynamic_page as dynamic_compare

    run = tmp_path / "dynamic-seed0"
    (run / "train").mkdir(parents=True)
    history = [  # step 1: one round with a signal; step 2: three rounds, the first two without
        {
            "step": 1,
            "reward": 0.5,
            "frac_reward_zero_std": 0.0,
            "step_time": 30.0,
            "dynamic/rounds": 1.0,
            "dynamic/prompts_drawn": 0.0,
            "dynamic/zero_signal_trained": 0.0,
        },
        {
            "step": 2,
            "reward": 0.25,
            "frac_reward_zero_std": 2 / 3,
            "step_time": 60.0,
            "dynamic/rounds": 3.0,
            "dynamic/prompts_drawn": 2.0,
            "dynamic/zero_signal_trained": 0.0,
        },
    ]
    state = {"global_step": 2, "log_history": history}
    (run / "train" / "trainer_state.json").write_text(json.dumps(state))
    saved = [{"step": 1, "seconds": 30.0}, {"step": 2, "seconds": 90.0}]
    (run / "train" / "budget.json").write_text(json.dumps({"minutes": 1.5, "saved": saved}))
    for step, right in ((1, 1), (2, 3)):
        (run / f"eval-step{step}").mkdir()
        rows = [
            {
                "benchmark": "b",
                "id": str(i),
                "sample": 0,
                "completion": "\\boxed{1}",
                "answer": "1",
                "gold": "1" if i < right else "2",
                "correct": i < right,
            }
            for i in range(4)
        ]
        (run / f"eval-step{step}" / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    got = dynamic_compare.summarize(run)
    assert got["steps"] == 2 and got["rounds"] == 2.0 and got["groups_generated"] == 2.0
    assert got["generated_zero_signal"] == pytest.approx(2 / 4)  # 2 of the 4 generated groups
    assert got["trained_zero_signal"] == 0.0
    assert got["reward_thirds"] == [0.5, None, pytest.approx(0.25)]  # by the step's clock
    assert [p["accuracy"] for p in got["points"]] == [0.25, 0.75]
    page = dynamic_compare.render({"dynamic/0": got}, 1.5, [0], 0.1)
    assert "| dynamic | 0 | 2 |" in page and "50%" in page and "75.0% (step 2, 1.5 min)" in page
