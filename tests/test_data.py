"""Data loading and normalisation: DAPO's hub schema (wrapper, duplicates, conflicting and
missing answers), every input format, bad inputs, prompts and the too-long filter, the
``prepare-data`` verb; and the real DAPO-Math-17k file when ../shared/data is present."""

from __future__ import annotations

import json
import re
from pathlib import Path

import datasets
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mathgrpo import cli
from mathgrpo.data.clean import PrepStats, add_prompts, load_problems
from mathgrpo.data.templates import get_template
from mathgrpo.errors import UserError

# DAPO-Math-17k's wrapper, exactly as the shared data README gives it.
HEAD = (
    "Solve the following math problem step by step. The last line of your response should be of the form "
    "Answer: $Answer (without quotes) where $Answer is the answer to the problem.\n\n"
)
TAIL = '\n\nRemember to put your answer on its own line after "Answer:".'
ZH_INSTRUCTION = (
    "\n让我们一步一步地思考。请以“Answer: \\boxed{<final_answer>}”的格式输出最终答案。"
    "如果是选择题，请按顺序输出正确的选项，不带任何标点或空格。对于其他类型的问题，请只输出最终答案的数值。"
)
DAPO_SCHEMA = pa.schema(
    [
        ("data_source", pa.string()),
        ("prompt", pa.list_(pa.struct([("content", pa.string()), ("role", pa.string())]))),
        ("ability", pa.string()),
        ("reward_model", pa.struct([("ground_truth", pa.string()), ("style", pa.string())])),
        ("extra_info", pa.struct([("index", pa.int64())])),
    ]
)


def dapo_row(problem: str, answer: str | None, index: int = 0, wrap=(HEAD, TAIL)) -> dict:
    return {
        "data_source": "math_dapo",
        "prompt": [{"content": wrap[0] + problem + wrap[1], "role": "user"}],
        "ability": "MATH",
        "reward_model": {"ground_truth": answer, "style": "rule-lighteval/MATH_v2"},
        "extra_info": {"index": index},
    }


P1 = "Find $x$ if $2x = 6$."
P2 = "Let $n$ be the\nsmallest prime above 10. Find $n$."
P3 = "What is $3^3$?"
P4 = "求 $1+1$ 的值."

# (row, what the loader must do with it)
HUB_ROWS = [
    dapo_row(P1, "3", 0),  # kept
    dapo_row(P2, "11", 1),  # kept (its first occurrence keeps the newline)
    dapo_row(P1, "3", 2),  # duplicate
    dapo_row("Let $n$  be the smallest\tprime above 10.  Find $n$.", "11", 3),  # duplicate (whitespace only)
    dapo_row(P3, "27", 4),  # conflict: copies disagree ...
    dapo_row(P3, "9", 5),  # ... so both go (one conflict + one duplicate)
    dapo_row("What is 7 - 2?", None, 6),  # missing answer
    dapo_row("What is 7 - 3?", "   ", 7),  # empty answer
    dapo_row("What is 7 - 3?", "4", 8),  # kept: an unanswered copy does not shadow it
    dapo_row(P4, "2", 9, wrap=(HEAD, ZH_INSTRUCTION + TAIL)),  # kept, both instructions stripped
    dapo_row("How many primes are below 10?", "4", 10, wrap=(HEAD.replace("\n\n", "\n  "), TAIL.replace("\n\n", " "))),
]
HUB_EXPECTED = [(P1, "3"), (P2, "11"), ("What is 7 - 3?", "4"), (P4, "2"), ("How many primes are below 10?", "4")]


def rows_of(ds) -> list[tuple[str, str]]:
    assert ds.column_names == ["problem", "answer"]
    return list(zip(ds["problem"], ds["answer"]))


def accounted(stats: PrepStats) -> int:
    s = stats
    return (
        s.missing_answer
        + s.placeholder_gold
        + s.missing_problem
        + s.language_filtered
        + s.duplicates
        + s.conflicts
        + s.over_limit
        + s.ungradeable
        + s.too_long
        + s.out_of_band
        + s.rows_out
    )


@pytest.fixture
def hub_parquet(tmp_path) -> Path:
    path = tmp_path / "hub.parquet"
    pq.write_table(pa.Table.from_pylist(HUB_ROWS, schema=DAPO_SCHEMA), path, row_group_size=4)
    return path


# --------------------------------------------------------------------------- normalisation


def test_hub_schema_rows_are_normalised(hub_parquet):
    ds, stats = load_problems(str(hub_parquet))
    assert rows_of(ds) == HUB_EXPECTED
    assert stats.to_dict() == {
        "rows_in": 11,
        "duplicates": 3,
        "conflicts": 1,
        "missing_answer": 2,
        "language_filtered": 0,
        "too_long": 0,
        "rows_out": 5,
        "missing_problem": 0,
        "over_limit": 0,
        "ungradeable": 0,
        "out_of_band": 0,
        "placeholder_gold": 0,
        "schema": "verl",
        "golds": {"answer": {"rows": 5, "slow": 0}},
        "instructions": {"dapo": 11},
    }
    assert accounted(stats) == stats.rows_in
    summary = stats.summary()
    for part in ("rows in 11", "3 duplicates", "1 with conflicting answers", "2 missing answer", "rows out 5"):
        assert part in summary


def test_language_filter_and_limit_and_no_dedup(hub_parquet):
    zh, stats = load_problems(str(hub_parquet), language="zh")
    assert rows_of(zh) == [(P4, "2")] and stats.language_filtered == 8 and accounted(stats) == 11
    en, _ = load_problems(str(hub_parquet), language="en")
    assert rows_of(en) == [r for r in HUB_EXPECTED if r[0] != P4]
    first, stats = load_problems(str(hub_parquet), limit=2)
    assert rows_of(first) == HUB_EXPECTED[:2] and stats.over_limit == 3 and accounted(stats) == 11
    every, stats = load_problems(str(hub_parquet), dedup=False)
    assert len(every) == 9 and stats.duplicates == stats.conflicts == 0 and stats.rows_out == 9
    with pytest.raises(UserError, match="language"):
        load_problems(str(hub_parquet), language="fr")


def test_missing_problem_is_counted(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text(
        '{"problem": "", "answer": "1"}\n{"problem": null, "answer": "2"}\n{"problem": "Q", "answer": "3"}\n'
    )
    ds, stats = load_problems(str(path))
    assert rows_of(ds) == [("Q", "3")] and stats.missing_problem == 2 and accounted(stats) == 3


# --------------------------------------------------------------------------- formats


def write_all_formats(tmp_path: Path, rows: list[dict], schema=None) -> dict[str, Path]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pylist(rows, schema=schema)
    out = {"parquet": tmp_path / "d.parquet", "jsonl": tmp_path / "d.jsonl", "json": tmp_path / "d.json"}
    pq.write_table(table, out["parquet"])
    out["jsonl"].write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    out["json"].write_text(json.dumps(rows, ensure_ascii=False, indent=2), encoding="utf-8")
    out["json_lines"] = tmp_path / "lines.json"  # many hub files name JSON Lines ".json"
    out["json_lines"].write_text(out["jsonl"].read_text(encoding="utf-8"), encoding="utf-8")
    out["save_to_disk"] = tmp_path / "saved"
    datasets.Dataset(table).save_to_disk(str(out["save_to_disk"]))
    out["hub_folder"] = tmp_path / "snapshot"  # a hub-style folder of data files, two splits
    (out["hub_folder"] / "data").mkdir(parents=True)
    pq.write_table(table, out["hub_folder"] / "data" / "train-00000-of-00001.parquet")
    pq.write_table(table.slice(0, 1), out["hub_folder"] / "data" / "test-00000-of-00001.parquet")
    (out["hub_folder"] / "dataset_infos.json").write_text("{}")  # metadata, not rows
    (out["hub_folder"] / ".cache").mkdir()
    (out["hub_folder"] / ".cache" / "train.json").write_text("[]")
    return out


def test_every_format_gives_the_same_rows(tmp_path):
    for name, path in write_all_formats(tmp_path, HUB_ROWS, DAPO_SCHEMA).items():
        ds, stats = load_problems(str(path))
        assert rows_of(ds) == HUB_EXPECTED, name
        assert stats.rows_in == len(HUB_ROWS), name


def test_chat_prompts_take_the_one_user_turn_and_refuse_others(tmp_path):
    # One user turn (role/content or ShareGPT's from/value) is the problem; a system or few-shot
    # turn is never dropped silently: the file is refused in one line naming the row and its turns.
    good = [[{"role": "user", "content": "Q1"}], [{"role": "user", "content": "Q2"}], []]
    rows = [{"prompt": c, "answer": str(i)} for i, c in enumerate(good)]
    for name, path in write_all_formats(tmp_path / "good", rows).items():
        ds, stats = load_problems(str(path))
        assert rows_of(ds) == [("Q1", "0"), ("Q2", "1")] and stats.missing_problem == 1, name
    sharegpt = [{"prompt": [{"from": "human", "value": f"Q{i}"}], "answer": str(i)} for i in range(2)]
    for name, path in write_all_formats(tmp_path / "sharegpt", sharegpt).items():
        assert rows_of(load_problems(str(path))[0]) == [("Q0", "0"), ("Q1", "1")], name
    for turns in (
        [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Q1"}],
        [{"role": "user", "content": "1+1?"}, {"role": "assistant", "content": "2"}],
        [{"role": "system", "content": "no user turn"}],
    ):
        rows = [{"prompt": [{"role": "user", "content": "Q0"}], "answer": "0"}, {"prompt": turns, "answer": "1"}]
        for name, path in write_all_formats(tmp_path / str(len(turns)) / turns[-1]["role"], rows).items():
            with pytest.raises(UserError, match=r"row 2: the chat prompt has turns \[") as err:
                load_problems(str(path))
            assert "\n" not in str(err.value) and turns[0]["role"] in str(err.value), name


def test_save_to_disk_dataset_dict_split(tmp_path):
    dd = datasets.DatasetDict(
        {
            "train": datasets.Dataset.from_list([{"question": "Q1", "answer": "1"}, {"question": "Q2", "answer": "2"}]),
            "test": datasets.Dataset.from_list([{"question": "T1", "answer": "5"}]),
        }
    )
    dd.save_to_disk(str(tmp_path / "dd"))
    assert rows_of(load_problems(str(tmp_path / "dd"))[0]) == [("Q1", "1"), ("Q2", "2")]
    assert rows_of(load_problems(str(tmp_path / "dd"), split="test")[0]) == [("T1", "5")]
    with pytest.raises(UserError, match="no split 'validation'.*train, test"):
        load_problems(str(tmp_path / "dd"), split="validation")


# Answers of every type a file may hold, each group one type (parquet needs one per column).
PLAIN_GROUPS = [
    ([12345678901, -7], ["12345678901", "-7"]),
    ([27.0, 1.5], ["27", "1.5"]),
    ([["$\\frac{1}{2}$", "$3$"], ["4"]], ["$\\frac{1}{2}$, $3$", "4"]),
    ([" 025 ", "336^\\circ"], ["025", "336^\\circ"]),
]


@pytest.mark.parametrize("answers,expected", PLAIN_GROUPS)
def test_plain_files_with_named_fields(tmp_path, answers, expected):
    rows = [{"id": i, "question": f"Q{i}", "final": a} for i, a in enumerate(answers)]
    for name, path in write_all_formats(tmp_path, rows).items():
        ds, _ = load_problems(str(path), problem_field="question", answer_field="final")
        assert rows_of(ds) == [(f"Q{i}", e) for i, e in enumerate(expected)], name


def test_json_rows_are_converted_one_by_one(tmp_path):
    # JSON may mix types in one field, and integers of any size (no float rounding).
    answers = [12345678901234567890123, 27.0, ["a", "b"], " 025 "]
    jsonl = tmp_path / "mixed.jsonl"
    jsonl.write_text(
        "".join(json.dumps({"question": f"Q{i}", "final": a, "id": i}) + "\n" for i, a in enumerate(answers))
    )
    ds, _ = load_problems(str(jsonl), problem_field="question", answer_field="final")
    assert ds["answer"] == ["12345678901234567890123", "27", "a, b", "025"]
    with pytest.raises(UserError, match="no answer column found.*final, id, question"):
        load_problems(str(jsonl))


@pytest.mark.parametrize("bad", [True, {"a": 1}])
def test_json_and_parquet_refuse_the_same_answers(tmp_path, bad):
    # A boolean or a dict is no answer: refused in JSON, as parquet refuses the same column,
    # instead of training on "True" or "{'a': 1}".
    jsonl = tmp_path / "bad.jsonl"
    jsonl.write_text(
        json.dumps({"problem": "Q1", "answer": "1"}) + "\n" + json.dumps({"problem": "Q2", "answer": bad}) + "\n"
    )
    with pytest.raises(UserError, match=r"row 2, field 'answer': the answer is (bool|dict)") as err:
        load_problems(str(jsonl))
    assert "\n" not in str(err.value)
    table = pa.Table.from_pylist([{"problem": "Q2", "answer": bad}])
    pq.write_table(table, tmp_path / "bad.parquet")
    with pytest.raises(UserError, match="not answers"):
        load_problems(str(tmp_path / "bad.parquet"))


def test_field_auto_detection_and_boxed_solutions(tmp_path):
    path = tmp_path / "math.jsonl"
    rows = [
        {"problem": "P1", "solution": "So $x=\\frac{1}{2}$, i.e. \\boxed{\\frac{1}{2}}.", "level": 1},
        {"problem": "P2", "solution": "No box here.", "level": 2},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    ds, stats = load_problems(str(path))  # only `solution`: its last \boxed{} is the gold
    assert rows_of(ds) == [("P1", "\\frac{1}{2}")] and stats.missing_answer == 1
    gsm = tmp_path / "q.jsonl"
    gsm.write_text(json.dumps({"question": "Q", "answer": "4", "solution": "\\boxed{5}"}) + "\n")
    assert rows_of(load_problems(str(gsm))[0]) == [("Q", "4")]  # `answer` wins over `solution`


def test_generated_source():
    ds, stats = load_problems("generated:arithmetic?n=12&seed=3")
    assert len(ds) == 12 and stats.rows_in == 12 and stats.duplicates == 0
    assert all(re.fullmatch(r"-?\d+", a) for a in ds["answer"])


def test_hub_name_goes_to_load_dataset(monkeypatch):
    calls = []

    def fake_load_dataset(name, config=None, *, split=None):
        calls.append((name, config, split))
        return datasets.Dataset.from_list(HUB_ROWS[:3], features=datasets.Features.from_arrow_schema(DAPO_SCHEMA))

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # the (fake) load may use the local cache: no hub probe
    ds, stats = load_problems("BytedTsinghua-SIA/DAPO-Math-17k", split="train", config_name="default")
    assert calls == [("BytedTsinghua-SIA/DAPO-Math-17k", "default", "train")]
    assert rows_of(ds) == HUB_EXPECTED[:2] and stats.duplicates == 1

    def offline(*args, **kwargs):
        raise ConnectionError("Couldn't reach the Hub")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(UserError, match="could not load dataset 'someone/nothing'.*ConnectionError"):
        load_problems("someone/nothing")
    # Not offline and the hub unreachable: one line at once, without calling load_dataset at all.
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setattr(datasets, "load_dataset", lambda *a, **k: pytest.fail("load_dataset was called"))
    with pytest.raises(UserError, match="'someone/nothing': the Hugging Face Hub cannot be reached"):
        load_problems("someone/nothing")


# --------------------------------------------------------------------------- bad inputs


def test_bad_inputs_give_one_line_errors(tmp_path):
    cases = []
    with pytest.raises(UserError, match="no/such/file.parquet not found") as err:
        load_problems("no/such/file.parquet")
    cases.append(err)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"problem": "a", "answer": "1"}\n\n{"problem": "b", "answer": 2,}\n')
    with pytest.raises(UserError, match=re.escape(f"{bad}:3: not valid JSON")) as err:
        load_problems(str(bad))
    cases.append(err)
    no_answer = tmp_path / "no_answer.parquet"
    pq.write_table(pa.table({"problem": ["a"], "level": [1]}), no_answer)
    with pytest.raises(
        UserError,
        match="no answer column found \\(columns: problem, level\\); set the answer column with --answer_field",
    ) as err:
        load_problems(str(no_answer))
    cases.append(err)
    with pytest.raises(UserError, match="no field 'gold'.*columns: problem, level") as err:
        load_problems(str(no_answer), answer_field="gold")
    cases.append(err)
    empty = tmp_path / "empty_answers.jsonl"
    empty.write_text('{"problem": "a", "answer": null}\n{"problem": "b", "answer": ""}\n')
    with pytest.raises(UserError, match="'answer' has no answer in any of 2 rows") as err:
        load_problems(str(empty))
    cases.append(err)
    not_parquet = tmp_path / "x.parquet"
    not_parquet.write_text("hello")
    with pytest.raises(UserError, match="not a readable parquet file") as err:
        load_problems(str(not_parquet))
    cases.append(err)
    csv = tmp_path / "x.csv"
    csv.write_text("problem,answer\n")
    with pytest.raises(UserError, match="unsupported file type .csv") as err:
        load_problems(str(csv))
    cases.append(err)
    assert all("\n" not in str(e.value) for e in cases)


# --------------------------------------------------------------------------- prompts


def test_add_prompts_renders_and_drops_too_long(qwen_tokenizer):
    problems = ["What is 1+1?", "Compute " + " + ".join(str(i) for i in range(200)) + ".", "What is 2+2?"]
    ds = datasets.Dataset.from_dict({"problem": problems, "answer": ["2", "19900", "4"]})
    template = get_template("qwen_math")
    lengths = [
        len(qwen_tokenizer.encode(template.render(p, qwen_tokenizer), add_special_tokens=False)) for p in problems
    ]
    limit = sorted(lengths)[1]  # the long one is over it, the two short ones are not
    out, dropped = add_prompts(ds, qwen_tokenizer, template, limit)
    assert dropped == 1 and out.column_names == ["prompt", "problem", "answer"]
    assert out["problem"] == [problems[0], problems[2]]
    assert out["prompt"] == [template.render(p, qwen_tokenizer) for p in out["problem"]]
    assert "<|im_start|>" in out["prompt"][0]
    kept, dropped = add_prompts(ds, qwen_tokenizer, template, None)
    assert dropped == 0 and len(kept) == 3


# --------------------------------------------------------------------------- the verb


def test_prepare_data_verb(tmp_path, hub_parquet, capsys, qwen_tokenizer):
    out = tmp_path / "out" / "dapo.jsonl"
    assert cli.main(["prepare-data", "--dataset", str(hub_parquet), "--output", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "rows in 11" in printed and "rows out 5" in printed
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [(r["problem"], r["answer"]) for r in rows] == HUB_EXPECTED
    assert rows_of(load_problems(str(out))[0]) == HUB_EXPECTED  # the output loads back as it is
    assert sorted(p.name for p in out.parent.iterdir()) == ["dapo.jsonl"]  # no temp file left

    for fmt in ("json", "parquet"):
        path = tmp_path / f"zh.{fmt}"
        assert cli.main(["prepare-data", "--dataset", str(hub_parquet), "--output", str(path), "--language", "zh"]) == 0
        assert rows_of(load_problems(str(path))[0]) == [(P4, "2")]

    tok_dir = tmp_path / "tok"
    qwen_tokenizer.save_pretrained(tok_dir)
    prompts = tmp_path / "prompts.jsonl"
    argv = [
        "prepare-data",
        "--dataset",
        str(hub_parquet),
        "--output",
        str(prompts),
        "--tokenizer",
        str(tok_dir),
        "--template",
        "qwen_math",
        "--max-prompt-length",
        "44",
    ]
    assert cli.main(argv) == 0
    rows = [json.loads(line) for line in prompts.read_text(encoding="utf-8").splitlines()]
    template = get_template("qwen_math")
    lengths = {p: len(qwen_tokenizer.encode(template.render(p, qwen_tokenizer))) for p, _ in HUB_EXPECTED}
    assert 0 < sum(n > 44 for n in lengths.values()) < len(lengths)  # the limit cuts somewhere inside
    assert [r["problem"] for r in rows] == [p for p, _ in HUB_EXPECTED if lengths[p] <= 44]
    assert all(r["prompt"] == template.render(r["problem"], qwen_tokenizer) for r in rows)
    too_long = sum(n > 44 for n in lengths.values())
    assert f"{too_long} too long" in capsys.readouterr().out


def test_prepare_data_errors_are_one_line(tmp_path, hub_parquet, capsys):
    assert (
        cli.main(["prepare-data", "--dataset", str(tmp_path / "nope.jsonl"), "--output", str(tmp_path / "o.jsonl")])
        == 2
    )
    err = capsys.readouterr().err.strip()
    assert "nope.jsonl not found" in err and len(err.splitlines()) == 1
    assert cli.main(["prepare-data", "--dataset", str(hub_parquet), "--output", str(tmp_path / "o.csv")]) == 2
    assert "unknown format .csv" in capsys.readouterr().err
    assert not (tmp_path / "o.csv").exists()


# --------------------------------------------------------------------------- the real file


@pytest.fixture(scope="module")
def dapo_path(shared_data) -> Path:
    path = shared_data / "dapo-math-17k.parquet"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    return path


@pytest.fixture(scope="module")
def dapo(dapo_path):
    return load_problems(str(dapo_path))


def reference_counts(path: Path) -> tuple[int, int, int]:
    """Independent plain-Python count: (distinct raw prompts, distinct problems, conflicting ones)."""
    table = pq.read_table(path, columns=["prompt", "reward_model"]).to_pylist()
    raw = [r["prompt"][0]["content"] for r in table]
    answers: dict[str, set[str]] = {}
    for text, r in zip(raw, table):
        assert text.startswith(HEAD) and text.endswith(TAIL)
        key = " ".join(text[len(HEAD) : -len(TAIL)].split())
        answers.setdefault(key, set()).add(r["reward_model"]["ground_truth"])
    return len(set(raw)), len(answers), sum(len(v) > 1 for v in answers.values())


def test_dapo_math_17k(dapo, dapo_path):
    ds, stats = dapo
    raw_unique, unique, conflicting = reference_counts(dapo_path)
    assert stats.rows_in == 17_917 and raw_unique == 17_290  # the data README's numbers
    assert stats.conflicts == conflicting > 0
    assert stats.rows_out == len(ds) == unique - conflicting
    assert stats.duplicates == stats.rows_in - unique and accounted(stats) == stats.rows_in
    assert 16_500 < len(ds) < 17_290  # whitespace-only variants merged, conflicts dropped
    wrapper = (
        "Answer: $Answer",
        "Remember to put your answer",
        "The last line of your response",
        "让我们一步一步地思考",
    )
    assert not [p for p in ds["problem"] if any(w in p for w in wrapper)]
    assert all(p == p.strip() and p for p in ds["problem"])
    assert all(re.fullmatch(r"-?\d+", a) for a in ds["answer"])
    assert len(set(ds["problem"])) == len(ds)


def test_dapo_math_17k_languages(dapo, dapo_path):
    ds, _ = dapo
    zh, zh_stats = load_problems(str(dapo_path), language="zh")
    en, _ = load_problems(str(dapo_path), language="en")
    assert 3_000 < len(zh) < 3_600  # "about 3,300 prompts are Chinese"
    han = re.compile(r"[\u4e00-\u9fff]")
    assert all(han.search(p) for p in zh["problem"]) and not any(han.search(p) for p in en["problem"])
    assert len(zh) + len(en) == len(ds) and zh_stats.language_filtered > 14_000


def test_rows_with_an_ungradeable_gold_are_left_out_and_counted(tmp_path):
    from mathgrpo.data.clean import drop_ungradeable

    path = tmp_path / "golds.jsonl"
    rows = [("Q1", "5"), ("Q2", "np.arcsin(10/13)"), ("Q3", "\\frac{1}{2}"), ("Q4", "}{")]
    path.write_text("".join(json.dumps({"problem": q, "answer": a}) + "\n" for q, a in rows))
    ds, stats = load_problems(str(path))
    ds = drop_ungradeable(ds, stats)
    assert rows_of(ds) == [("Q1", "5"), ("Q3", "\\frac{1}{2}")]
    assert stats.ungradeable == 2 and stats.rows_out == 2 and accounted(stats) == stats.rows_in
