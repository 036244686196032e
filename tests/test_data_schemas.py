"""Each published dataset schema read right: a few rows built in that schema (as the dataset card
and its framework's loader give it), loaded, and checked for problem, gold, gold rule and
slow-path count; GSM8K on its real 1,319 test rows when ../shared/data is present."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mathgrpo import cli
from mathgrpo.data.clean import load_problems
from mathgrpo.data.schemas import SCHEMAS, gsm8k_gold, json_golds
from mathgrpo.errors import UserError

CHAT = pa.list_(pa.struct([("content", pa.string()), ("role", pa.string())]))
VERL = pa.schema(
    [
        ("data_source", pa.string()),
        ("prompt", CHAT),
        ("ability", pa.string()),
        ("reward_model", pa.struct([("ground_truth", pa.string()), ("style", pa.string())])),
        ("extra_info", pa.struct([("index", pa.int64())])),
    ]
)


def verl_row(source: str, content: str, gold: str, i: int = 0) -> dict:
    return {
        "data_source": source,
        "prompt": [{"content": content, "role": "user"}],
        "ability": "math",
        "reward_model": {"ground_truth": gold, "style": "rule"},
        "extra_info": {"index": i},
    }


def parquet(tmp_path: Path, name: str, rows: list[dict], schema=None) -> Path:
    path = tmp_path / f"{name}.parquet"
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)
    return path


def load(path, **kwargs):
    ds, stats = load_problems(str(path), **kwargs)
    golds = ds["answers"] if "answers" in ds.column_names else None
    return list(zip(ds["problem"], ds["answer"])), golds, stats


# --------------------------------------------------------------------------- gold rules by schema

# Worked solutions: the last \boxed{} is the gold (MATH, MATH-lighteval, NuminaMath-CoT / -TIR).
MATH_ROWS = [
    {"problem": "What is $1+1$?", "level": "Level 1", "type": "Algebra", "solution": "We add: $1+1=\\boxed{2}$."},
    {
        "problem": "Simplify $\\frac{2}{4}$.",
        "level": "Level 2",
        "type": "Prealgebra",
        "solution": "Divide by 2: $\\boxed{\\frac{1}{2}}$.",
    },
    {"problem": "Prove it.", "level": "Level 5", "type": "Geometry", "solution": "A proof, no box."},
]
NUMINA_COT_ROWS = [
    {
        "source": "olympiads",
        "problem": "Find $x$: $x+3=5$.",
        "solution": "So $x=2$, i.e. $\\boxed{2}$.",
        "messages": [{"content": "Find $x$: $x+3=5$.", "role": "user"}, {"content": "...", "role": "assistant"}],
    },
    {
        "source": "cn_k12",
        "problem": "Area of a unit circle?",
        "solution": "It is $\\pi r^2 = \\boxed{\\pi}$.",
        "messages": [{"content": "Area?", "role": "user"}, {"content": "...", "role": "assistant"}],
    },
]


def test_worked_solutions_give_their_last_box(tmp_path):
    rows, golds, stats = load(parquet(tmp_path, "math", MATH_ROWS))
    assert rows == [("What is $1+1$?", "2"), ("Simplify $\\frac{2}{4}$.", "\\frac{1}{2}")] and golds is None
    assert stats.schema == "solution" and stats.missing_answer == 1
    assert stats.golds == {"boxed": {"rows": 2, "slow": 0}}  # 2 and 1/2: plain numbers, the fast path
    rows, _, stats = load(parquet(tmp_path, "numina_cot", NUMINA_COT_ROWS))
    assert rows == [("Find $x$: $x+3=5$.", "2"), ("Area of a unit circle?", "\\pi")]
    assert stats.golds == {"boxed": {"rows": 2, "slow": 1}}  # \pi needs math-verify


# A bare answer in `answer` (NuminaMath-1.5, OpenR1-Math-220k, DeepScaleR, Big-Math-RL-Verified).
ANSWER_ROWS = [
    {
        "problem": "P1",
        "solution": "... $\\boxed{7}$",
        "answer": "7",
        "problem_type": "Algebra",
        "question_type": "math-word-problem",
        "source": "olympiads",
        "uuid": "a",
    },
    {
        "problem": "P2",
        "solution": "A proof.",
        "answer": "proof",
        "problem_type": "Geometry",
        "question_type": "proof",
        "source": "olympiads",
        "uuid": "b",
    },
    {
        "problem": "P3",
        "solution": "Unknown.",
        "answer": "notfound",
        "problem_type": "Algebra",
        "question_type": "math-word-problem",
        "source": "olympiads",
        "uuid": "c",
    },
    {
        "problem": "P4",
        "solution": "... $\\boxed{(1, 2)}$",
        "answer": "(1, 2)",
        "problem_type": "Algebra",
        "question_type": "math-word-problem",
        "source": "aops_forum",
        "uuid": "d",
    },
]


def test_answer_column_wins_and_placeholders_are_dropped_and_counted(tmp_path):
    rows, _, stats = load(parquet(tmp_path, "numina15", ANSWER_ROWS))
    assert rows == [("P1", "7"), ("P4", "(1, 2)")]
    assert stats.schema == "answer" and stats.placeholder_gold == 2 and stats.missing_answer == 0
    assert stats.golds == {"answer": {"rows": 2, "slow": 1}}
    assert "2 placeholder gold (proof/notfound)" in stats.summary()
    big_math = [{"problem": "Q", "answer": "12", "source": "amc", "domain": ["Math"], "llama8b_solve_rate": 0.5}]
    assert load(parquet(tmp_path, "big_math", big_math))[0] == [("Q", "12")]
    deepmath = [
        {
            "question": "Q",
            "final_answer": "\\dfrac{1}{3}",
            "difficulty": 5.0,
            "topic": "Algebra",
            "r1_solution_1": "... \\boxed{\\dfrac{1}{3}}",
            "r1_solution_2": "x",
            "r1_solution_3": "y",
        }
    ]
    rows, _, stats = load(parquet(tmp_path, "zwhe99", deepmath))
    assert rows == [("Q", "\\dfrac{1}{3}")] and stats.schema == "final_answer"


def test_bare_answers_in_a_solution_column_are_read_as_answers(tmp_path):
    # trl-lib/DeepMath-103K (TRL's GRPO examples): chat `prompt`, bare answer in `solution`.
    trl = [
        {"prompt": [{"content": f"Q{i}", "role": "user"}], "solution": a}
        for i, a in enumerate(["4", "\\frac{\\pi}{2}", "x^2 + 1"])
    ]
    rows, _, stats = load(parquet(tmp_path, "trl", trl, pa.schema([("prompt", CHAT), ("solution", pa.string())])))
    assert rows == [("Q0", "4"), ("Q1", "\\frac{\\pi}{2}"), ("Q2", "x^2 + 1")]
    assert stats.schema == "trl-conversational" and stats.golds == {"answer": {"rows": 3, "slow": 2}}
    # open-r1/Big-Math-RL-Verified-Processed: text problem, bare answer in `solution`.
    big = [{"problem": "Q", "solution": "25", "source": "olympiads", "domain": ["Math"], "llama8b_solve_rate": 0.4}]
    assert load(parquet(tmp_path, "bigproc", big))[0] == [("Q", "25")]
    # An explicit --answer_field wins and works, on any of these.
    assert load(parquet(tmp_path, "trl2", trl), answer_field="solution")[0][0] == ("Q0", "4")
    both = [{"problem": "Q", "answer": "5", "solution": "\\boxed{6}"}]
    assert load(parquet(tmp_path, "both", both), answer_field="solution")[0] == [("Q", "6")]


# --------------------------------------------------------------------------- verl-style parquet

VERL_GSM8K = 'Let\'s think step by step and output the final answer after "####".'
VERL_MATH = "Let's think step by step and output the final answer within \\boxed{}."


def test_verl_parquet_and_its_instructions(tmp_path):
    rows = [
        verl_row("openai/gsm8k", "Tom has 3 apples and buys 4. How many? " + VERL_GSM8K, "7", 0),
        verl_row("lighteval/MATH", "Compute $2^{10}$. " + VERL_MATH, "1024", 1),
        verl_row(
            "deepscaler",
            "Find $\\sqrt{2}^2$.\n\nPlease reason step by step, and put your final answer within \\boxed{}.",
            "2",
            2,
        ),
    ]
    got, golds, stats = load(parquet(tmp_path, "verl", rows, VERL))
    assert got == [
        ("Tom has 3 apples and buys 4. How many?", "7"),
        ("Compute $2^{10}$.", "1024"),
        ("Find $\\sqrt{2}^2$.", "2"),
    ]
    assert stats.schema == "verl" and stats.instructions == {"verl_gsm8k": 1, "verl_boxed": 1, "qwen_boxed": 1}
    assert "instructions stripped: 1 qwen_boxed, 1 verl_boxed, 1 verl_gsm8k" in stats.summary()


def test_skywork_json_list_golds_are_all_kept(tmp_path):
    # Skywork-OR1: reward_model.ground_truth is a JSON-encoded list of golds.
    rows = [
        verl_row("train-math-deepscaler", "Q1", '["9"]', 0),
        verl_row("train-math-numinamath", "Q2", '["\\\\frac{1}{2}", "0.5"]', 1),
        verl_row("train-math-still3", "Q3", "[1, 2]", 2),
    ]
    got, golds, stats = load(parquet(tmp_path, "skywork", rows, VERL))
    assert got == [("Q1", "9"), ("Q2", "\\frac{1}{2}"), ("Q3", "[1, 2]")]  # an interval stays one gold
    assert golds == [["9"], ["\\frac{1}{2}", "0.5"], ["[1, 2]"]]
    assert stats.golds == {"json_list": {"rows": 2, "slow": 0}, "answer": {"rows": 1, "slow": 1}}
    assert json_golds('["a", 1]') is None and json_golds("[]") is None
    for fmt in ("jsonl", "parquet", "json"):  # prepare-data's output keeps every gold, and reads back
        out = tmp_path / f"prepared.{fmt}"
        assert cli.main(["prepare-data", "--dataset", str(tmp_path / "skywork.parquet"), "--output", str(out)]) == 0
        again, golds_again, stats = load(out)
        assert again == got and golds_again == golds and stats.schema == "mathgrpo", fmt


def test_skywork_folder_split_comes_from_the_file_names(tmp_path):
    folder = tmp_path / "Skywork-OR1-RL-Data" / "data"
    folder.mkdir(parents=True)
    pq.write_table(
        pa.Table.from_pylist([verl_row("m", "Q1", '["1"]')], schema=VERL), folder / "math-00000-of-00001.parquet"
    )
    code = verl_row("c", "Write a function.", '{"inputs": ["1"], "outputs": ["2"]}')
    pq.write_table(pa.Table.from_pylist([code], schema=VERL), folder / "code-00000-of-00001.parquet")
    with pytest.raises(UserError, match=r"no file name names the split 'train' \(2 files: data/code-.*pass --split"):
        load_problems(str(folder.parent))
    assert load(folder.parent, split="math")[0] == [("Q1", "1")]


# --------------------------------------------------------------------------- Open-Reasoner-Zero


def test_open_reasoner_zero_training_and_eval_json(tmp_path):
    train = [
        [{"from": "human", "value": "Compute $3 \\times 4$."}, {"from": "assistant", "ground_truth": {"value": "12"}}],
        [{"from": "human", "value": "Find $\\tan 45^\\circ$."}, {"from": "assistant", "ground_truth": {"value": "1"}}],
    ]
    path = tmp_path / "orz_math_57k_collected.json"
    path.write_text(json.dumps(train, indent=2))
    rows, _, stats = load(path)
    assert rows == [("Compute $3 \\times 4$.", "12"), ("Find $\\tan 45^\\circ$.", "1")]
    assert stats.schema == "open-reasoner-zero"
    aime = [
        {"prompt": [{"from": "user", "value": f"AIME problem {i}"}], "final_answer": str(100 + i)} for i in range(3)
    ]
    path = tmp_path / "aime2024.json"
    path.write_text(json.dumps(aime))
    rows, _, stats = load(path)
    assert rows == [(f"AIME problem {i}", str(100 + i)) for i in range(3)] and stats.schema == "open-reasoner-zero-eval"


# --------------------------------------------------------------------------- GSM8K

GSM8K_ROWS = [
    {"question": "Q1", "answer": "She has 2 * 3 = <<2*3=6>>6.\n#### 6"},
    {"question": "Q2", "answer": "Total 1,000 + 234 = 1,234\n#### 1,234"},
    {"question": "Q3", "answer": "Loss of 5.\n#### -5"},
]


def test_gsm8k_marker():
    assert [gsm8k_gold(r["answer"]) for r in GSM8K_ROWS] == ["6", "1234", "-5"]
    assert gsm8k_gold("#### 1,234,567") == "1234567" and gsm8k_gold("#### 3.5") == "3.5"


def test_gsm8k_rows(tmp_path):
    path = tmp_path / "gsm8k.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in GSM8K_ROWS))
    rows, _, stats = load(path)
    assert rows == [("Q1", "6"), ("Q2", "1234"), ("Q3", "-5")] and stats.schema == "gsm8k"
    assert stats.golds == {"gsm8k_marker": {"rows": 3, "slow": 0}}
    assert "golds read (gsm8k schema): 3 by GSM8K #### number (0 slow)" in stats.summary()


def test_real_gsm8k_test_file(shared_data):
    path = shared_data / "eval" / "gsm8k.jsonl"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    raw = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    rows, _, stats = load(path, dedup=False)
    assert len(raw) == len(rows) == 1319 and stats.golds == {"gsm8k_marker": {"rows": 1319, "slow": 0}}
    expected = [r["answer"].split("####")[-1].strip().replace(",", "") for r in raw]  # an independent reading
    assert [a for _, a in rows] == expected and all(re.fullmatch(r"-?\d+", a) for a in expected)
    # The same file given as a path to eval stores the gold the built-in gsm8k benchmark stores.
    from mathgrpo.evaluation.benchmarks import load_benchmark

    builtin = load_benchmark("gsm8k", str(shared_data / "eval"))
    assert load_benchmark(str(path))["answer"] == builtin["answer"] == expected


# --------------------------------------------------------------------------- the verb


def test_prepare_data_reports_gold_rules_and_refuses_zero_rows(tmp_path, capsys):
    path = tmp_path / "numina.parquet"
    pq.write_table(pa.Table.from_pylist(ANSWER_ROWS[:3]), path)
    out = tmp_path / "o.jsonl"
    assert cli.main(["prepare-data", "--dataset", str(path), "--output", str(out), "--limit", "1"]) == 0
    printed = capsys.readouterr().out
    assert "golds read (answer schema): 1 by answer field (0 slow)" in printed and "2 placeholder gold" in printed
    proofs = tmp_path / "proofs.parquet"
    pq.write_table(pa.Table.from_pylist(ANSWER_ROWS[1:3]), proofs)
    assert cli.main(["prepare-data", "--dataset", str(proofs), "--output", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "no rows left" in err and len(err.splitlines()) == 1


def test_every_schema_names_datasets():
    names = [s.name for s in SCHEMAS]
    assert len(set(names)) == len(names) and all(s.datasets for s in SCHEMAS)


def test_mostly_slow_golds_get_one_warning_with_the_measured_cost(tmp_path, caplog):
    from mathgrpo.data.clean import training_rows
    from mathgrpo.train.config import ScriptArguments

    path = tmp_path / "slow.jsonl"
    golds = ["\\sqrt{2}", "x^2+1", "\\pi", "7"]
    path.write_text("".join(json.dumps({"problem": f"Q{i}", "answer": g}) + "\n" for i, g in enumerate(golds)))
    with caplog.at_level("WARNING", logger="mathgrpo.data.clean"):
        ds, stats = training_rows(ScriptArguments(dataset_name=str(path)).data_source())
    assert stats.golds == {"answer": {"rows": 4, "slow": 3}}
    warned = [r.getMessage() for r in caplog.records if "need math-verify" in r.getMessage()]
    assert len(warned) == 1 and re.search(r"3 of 4 golds need math-verify .*measured \d+\.\d ms per grade", warned[0])
    caplog.clear()
    path.write_text("".join(json.dumps({"problem": f"Q{i}", "answer": str(i)}) + "\n" for i in range(4)))
    with caplog.at_level("WARNING", logger="mathgrpo.data.clean"):
        training_rows(ScriptArguments(dataset_name=str(path)).data_source())
    assert not [r for r in caplog.records if "need math-verify" in r.getMessage()]


def test_a_multi_gold_file_evaluated_as_a_benchmark_keeps_every_gold(tmp_path):
    # The same file given to `mathgrpo eval --benchmarks FILE`: any gold may match, as in training.
    from mathgrpo.evaluation.benchmarks import load_benchmark

    rows = [
        verl_row("train-math-numinamath", "Q2", '["\\\\frac{1}{2}", "0.5"]', 0),
        verl_row("train-math-deepscaler", "Q1", '["9"]', 1),
    ]
    ds = load_benchmark(str(parquet(tmp_path, "skywork-eval", rows, VERL)))
    assert ds["answers"] == [["\\frac{1}{2}", "0.5"], ["9"]] and ds["answer"] == ["\\frac{1}{2}", "9"]
