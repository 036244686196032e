"""Benchmark loaders on the real harness files in ../shared/data/eval: row counts, clean golds
that the grader reads, golds that match the reference solutions, and the error paths."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from mathgrpo.errors import UserError
from mathgrpo.evaluation.benchmarks import (
    BENCHMARKS,
    DATA_DIR_ENV,
    after_hashes,
    latex_list,
    load_benchmark,
    plain_gold,
)
from mathgrpo.grading import extract_boxed, grade

SIZES = {"math500": 500, "aime24": 30, "aime25": 30, "amc23": 40, "minerva": 272, "olympiadbench": 675, "gsm8k": 1319}
FILES = {"minerva": "minerva_math.jsonl"}


def raw_rows(eval_dir, name):
    with open(eval_dir / FILES.get(name, f"{name}.jsonl"), encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def test_every_builtin_has_a_test_size():
    assert set(BENCHMARKS) == set(SIZES)


@pytest.mark.parametrize("name", list(SIZES))
def test_loader_row_counts_and_columns(eval_dir, name):
    ds = load_benchmark(name, data_dir=str(eval_dir))
    assert len(ds) == SIZES[name]
    assert ds.column_names == ["problem", "answer", "id", *(["level", "subject"] if name == "math500" else [])]
    assert len(set(ds["id"])) == len(ds), "ids key resumable outputs; they must be unique"
    assert all(p.strip() for p in ds["problem"]) and all(a.strip() for a in ds["answer"])
    assert all(a == a.strip() for a in ds["answer"])


@pytest.mark.parametrize("name", list(SIZES))
def test_every_gold_accepts_itself_or_is_reported_ungradeable(eval_dir, name):
    ds = load_benchmark(name, data_dir=str(eval_dir))
    verdicts = [grade(f"The answer is \\boxed{{{gold}}}.", gold) for gold in ds["answer"]]
    rejected = [gold for gold, v in zip(ds["answer"], verdicts) if v is False]
    assert not rejected, f"{name}: golds the grader rejects from themselves: {rejected[:5]}"
    # A few harness golds are not math (``np.arcsin(10/13)``, ``t(0,4]``): the grader says
    # None for them and evaluation reports them; they must stay rare.
    ungradeable = [gold for gold, v in zip(ds["answer"], verdicts) if v is None]
    assert len(ungradeable) <= 0.01 * len(ds), f"{name}: ungradeable golds: {ungradeable[:10]}"


def test_math500_golds_match_the_reference_solutions(eval_dir):
    rows = raw_rows(eval_dir, "math500")
    ds = load_benchmark("math500", data_dir=str(eval_dir))
    assert ds["problem"] == [r["problem"] for r in rows]
    failed = [
        (g, extract_boxed(r["solution"])) for g, r in zip(ds["answer"], rows) if grade(r["solution"], g) is not True
    ]
    assert not failed, f"reference solutions the grader rejects: {failed[:5]}"


def test_aime24_golds_match_the_boxed_reference_solutions(eval_dir):
    rows = raw_rows(eval_dir, "aime24")
    ds = load_benchmark("aime24", data_dir=str(eval_dir))
    boxed = [(g, extract_boxed(r["solution"])) for g, r in zip(ds["answer"], rows) if "\\boxed" in r["solution"]]
    assert len(boxed) >= 25
    # AoPS boxes answers as answer choices, "\textbf{(073)}"; the grader reads the number in them.
    failed = [(g, b) for g, b in boxed if grade(f"\\boxed{{{b}}}", g) is not True]
    assert not failed, f"reference answers the grader rejects: {failed}"


def test_gsm8k_golds_match_the_worked_answers(eval_dir):
    rows = raw_rows(eval_dir, "gsm8k")
    ds = load_benchmark("gsm8k", data_dir=str(eval_dir))
    for gold, row in zip(ds["answer"], rows):
        final = row["answer"].rsplit("####", 1)[1].strip()
        assert grade(f"\\boxed{{{final}}}", gold) is True, (final, gold)
    assert "," not in "".join(ds["answer"]), "thousands separators stay out of the golds"


def test_minerva_gold_is_the_last_box_of_the_solution(eval_dir):
    rows = raw_rows(eval_dir, "minerva")
    ds = load_benchmark("minerva", data_dir=str(eval_dir))
    assert ds["answer"] == [extract_boxed(r["solution"]).strip() for r in rows]
    verdicts = [grade(r["solution"], g) for g, r in zip(ds["answer"], rows)]
    assert False not in verdicts
    assert verdicts.count(True) >= 0.99 * len(rows)


def test_the_golds_each_file_stores_in_its_own_shape(eval_dir):
    aime = dict(
        zip(
            load_benchmark("aime24", data_dir=str(eval_dir))["id"],
            load_benchmark("aime24", data_dir=str(eval_dir))["answer"],
        )
    )
    raw_aime = {str(r["id"]): r["answer"] for r in raw_rows(eval_dir, "aime24")}
    padded = [i for i, a in raw_aime.items() if a.startswith("0")]
    assert padded and all(aime[i] == str(int(raw_aime[i])) for i in padded)  # "025" -> "25"
    amc_raw = [r["answer"] for r in raw_rows(eval_dir, "amc23")]
    assert all(isinstance(a, float) for a in amc_raw)
    assert load_benchmark("amc23", data_dir=str(eval_dir))["answer"] == [str(int(a)) for a in amc_raw]  # 27.0 -> "27"
    olymp = load_benchmark("olympiadbench", data_dir=str(eval_dir))["answer"]
    assert not any("$" in a for a in olymp)
    assert "69, 84" in olymp  # "$69$,$84$": a two-part answer


def test_gold_readers():
    assert plain_gold(27.0) == "27" and plain_gold(2.5) == "2.5" and plain_gold("025") == "25"
    assert plain_gold("336^\\circ") == "336^\\circ" and plain_gold("  ") is None
    assert latex_list(["$\\frac{1}{2}$"]) == "\\frac{1}{2}" and latex_list(["1,3,5"]) == "1,3,5"
    assert latex_list(["$(2,4)$", "$x$"]) == "(2,4), x"
    assert after_hashes("so 3 + 4 = 7\n#### 1,250") == "1250" and after_hashes("no marker") is None


def test_limit_keeps_the_first_problems(eval_dir):
    full = load_benchmark("math500", data_dir=str(eval_dir))
    first = load_benchmark("math500", data_dir=str(eval_dir), limit=7)
    assert first["id"] == full["id"][:7]
    with pytest.raises(UserError, match="limit"):
        load_benchmark("math500", data_dir=str(eval_dir), limit=0)


def test_data_dir_from_the_environment(eval_dir, monkeypatch):
    monkeypatch.setenv(DATA_DIR_ENV, str(eval_dir))
    assert len(load_benchmark("aime25")) == 30


def test_missing_files_and_names_are_one_line_errors(eval_dir, tmp_path):
    with pytest.raises(UserError, match="math500.jsonl.*--data-dir"):
        load_benchmark("math500", data_dir=str(tmp_path))
    with pytest.raises(UserError, match="does not exist"):
        load_benchmark("math500", data_dir=str(tmp_path / "nowhere"))
    with pytest.raises(UserError, match="unknown benchmark 'math501'"):
        load_benchmark("math501", data_dir=str(eval_dir))
    with pytest.raises(UserError, match="not found"):
        load_benchmark(str(tmp_path / "mine.jsonl"))


def test_no_data_dir_and_no_hub_tells_the_user_to_pass_data_dir(tmp_path):
    # The real hub path (datasets.load_dataset), made to fail fast by offline mode.
    env = {k: v for k, v in os.environ.items() if k != DATA_DIR_ENV}
    env.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", HF_HOME=str(tmp_path / "hf"))
    code = "from mathgrpo.evaluation.benchmarks import load_benchmark; load_benchmark('aime24')"
    proc = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    assert "UserError" in last and "--data-dir" in last and "math-ai/aime24" in last


def test_users_own_file_with_named_fields(tmp_path):
    path = tmp_path / "mine.jsonl"
    rows = [{"q": "What is 2+2?", "gold": 4}, {"q": "Half of 1?", "gold": "\\frac{1}{2}"}, {"q": "x?", "gold": None}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    ds = load_benchmark(str(path), problem_field="q", answer_field="gold")
    assert ds["problem"] == ["What is 2+2?", "Half of 1?"]
    assert ds["answer"] == ["4", "\\frac{1}{2}"]
    assert ds["id"] == ["0", "1"]
    with pytest.raises(UserError, match="answer"):
        load_benchmark(str(path), problem_field="q", answer_field="nope")


def test_users_parquet_file_with_detected_fields(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "mine.parquet"
    pq.write_table(pa.table({"question": ["1+1?", "2+3?"], "answer": ["2", "5"]}), path)
    ds = load_benchmark(str(path), limit=1)
    assert ds[0] == {"problem": "1+1?", "answer": "2", "id": "0"}


def test_generated_spec():
    ds = load_benchmark("generated:arithmetic?n=6&seed=1&split=test")
    assert len(ds) == 6 and ds["id"] == [str(i) for i in range(6)]
    assert all(a.lstrip("-").isdigit() for a in ds["answer"])
