"""Every mistake a user can make with a file or a flag is one line naming it, exit 2, no traceback,
nothing half-written, and (where the check needs neither) before a model or dataset is loaded."""

from __future__ import annotations

import json
import time

import pytest

from mathgrpo import cli

DEMO = "recipes/demo/smollm2-cpu.yaml"


def setup_files(tmp_path):
    (tmp_path / "a-file").write_text("x")
    (tmp_path / "empty-model").mkdir()
    (tmp_path / "config-only").mkdir()
    (tmp_path / "config-only" / "config.json").write_text("{}")
    (tmp_path / "bad-utf8.jsonl").write_bytes(b'{"problem": "Q", "answer": "1"}\n{"problem": "Q\xff", "answer": "2"}\n')
    (tmp_path / "empty.jsonl").write_text("")
    (tmp_path / "empty.json").write_text("")
    (tmp_path / "dict.jsonl").write_text(json.dumps({"problem": "Q", "answer": {"a": 1}}) + "\n")
    (tmp_path / "ok.jsonl").write_text(json.dumps({"problem": "Q", "answer": "1", "completion": "\\boxed{1}"}) + "\n")


# (verb and flags, a pattern the one line must hold); T stands for the test's folder.
CASES = [
    # train
    (
        ["train", "--config", DEMO, "--model_name_or_path", "T/no-such-model", "--output_dir", "T/o1"],
        r"model folder .*no-such-model not found",
    ),
    (["train", "--config", DEMO, "--model_name_or_path", "T/empty-model", "--output_dir", "T/o2"], r"is empty"),
    (["train", "--config", DEMO, "--model_name_or_path", "T/config-only", "--output_dir", "T/o3"], r"no weights"),
    (["train", "--config", DEMO, "--output_dir", "T/a-file"], r"output_dir .*a-file is a file"),
    (["train", "--config", DEMO, "--output_dir", "/proc/no-way/out"], r"output_dir /proc/no-way/out is not writable"),
    (
        ["train", "--config", DEMO, "--learning_rat", "1e-5"],
        r"unknown option --learning_rat; did you mean 'learning_rate'",
    ),
    # prepare-data
    (["prepare-data", "--dataset", "T/bad-utf8.jsonl", "--output", "T/p1.jsonl"], r"bad-utf8.jsonl:2: not valid UTF-8"),
    (["prepare-data", "--dataset", "T/ok.jsonl", "--output", "T/a-file/p.jsonl"], r"its folder cannot be written"),
    (["prepare-data", "--dataset", "T/ok.jsonl", "--output", "/proc/p.jsonl"], r"its folder cannot be written"),
    (
        ["prepare-data", "--dataset", "T/ok.jsonl", "--output", "T/p.jsonl", "--tokenizer", "T/nope"],
        r"not found \(field `--tokenizer`\)",
    ),
    (["prepare-data", "--dataset", "T/ok.jsonl", "--output", "T/p.csv"], r"unknown format .csv"),
    (["prepare-data", "--dataset", "T/empty.jsonl", "--output", "T/p2.jsonl"], r"empty.jsonl is empty"),
    (["prepare-data", "--dataset", "T/empty.json", "--output", "T/p3.jsonl"], r"empty.json is empty"),
    (
        ["prepare-data", "--dataset", "T/dict.jsonl", "--output", "T/p4.jsonl"],
        r"row 1, field 'answer': the answer is dict",
    ),
    (["prepare-data", "--dataset", "T/ok.jsonl", "--outp", "T/p5.jsonl"], r"required: --output"),
    # grade
    (["grade", "T/ok.jsonl", "-o", "T"], r"-o .* is a folder"),
    (["grade", "T/ok.jsonl", "-o", "/proc/g.jsonl"], r"its folder cannot be written"),
    (["grade", "T/ok.jsonl", "--answer", "answer"], r"unrecognized arguments: --answer"),
    # eval
    (["eval", "--model", "T/empty-model", "--output", "T/e1"], r"is empty"),
    (["eval", "--model", "T/config-only", "--output", "T/e2"], r"no weights"),
    (["eval", "--model", "smollm2-135m-instruct", "--out", "T/e3"], r"unrecognized arguments: --out"),
    # report
    (["report", "T/a-file", "--car"], r"unrecognized arguments: --car"),
]


@pytest.mark.parametrize(("argv", "pattern"), CASES, ids=[f"{c[0][0]}:{i}" for i, c in enumerate(CASES)])
def test_one_line_exit_2_fast_and_nothing_written(argv, pattern, tmp_path, capsys):
    import re

    setup_files(tmp_path)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    argv = [a.replace("T/", f"{tmp_path}/").replace("T", str(tmp_path)) if a.startswith("T") else a for a in argv]
    started = time.process_time()  # this process's CPU: a loaded machine does not inflate it
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Traceback" not in err, err
    assert re.search(pattern, err), err
    # The file-system checks run before TRL is imported; a flag is only known once TRL's parser is built.
    bound = 60 if argv[0] == "train" and any(a.startswith("--learning") for a in argv) else 5
    assert time.process_time() - started < bound, "a mistake that needs no model must be found at once"
    after = sorted(p.name for p in tmp_path.rglob("*"))
    assert [n for n in after if n not in before] == [], "partial output"


def test_grade_survives_a_lone_surrogate_and_writes_every_row(tmp_path, capsys):
    src = tmp_path / "in.jsonl"
    src.write_text('{"answer": "5", "completion": "\\\\boxed{5} \\ud800"}\n{"answer": "6", "completion": "x"}\n')
    out = tmp_path / "out.jsonl"
    assert cli.main(["grade", str(src), "-o", str(out)]) == 0
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["correct"] for r in rows] == [True, False] and rows[0]["completion"].endswith("\ud800")


def test_two_writers_of_one_grade_output_the_second_is_refused(tmp_path, capsys):
    from mathgrpo.files import exclusive

    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    src.write_text('{"answer": "5", "completion": "\\\\boxed{5}"}\n')
    with exclusive(out.with_name(f".{out.name}.lock"), out):  # another mathgrpo grade is writing it
        assert cli.main(["grade", str(src), "-o", str(out)]) == 2
    assert "another mathgrpo is writing" in capsys.readouterr().err and not out.exists()
