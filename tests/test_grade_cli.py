"""`mathgrpo grade`: re-grading saved JSONL with the training reward functions."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from mathgrpo.cli import main as cli_main

ROWS = [
    {"id": 1, "completion": "<think>2+3</think> $\\boxed{5}$", "answer": "5"},
    {"id": 2, "completion": [{"role": "assistant", "content": "\\boxed{6}"}], "answer": "5"},
    {"id": 3, "completion": None, "answer": "\\frac{14}{3}"},
    {"id": 4, "completion": "<think>x</think> \\boxed{\\dfrac{14}{3}}", "answer": "\\frac{14}{3}"},
    {"id": 5, "completion": "\\boxed{5}", "answer": ""},
]


def _write(path, rows, extra_lines=()):
    lines = [json.dumps(r) for r in rows] + list(extra_lines)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _read(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_grade_writes_fields_and_summary(tmp_path, capsys):
    src = _write(tmp_path / "in.jsonl", ROWS)
    assert cli_main(["grade", str(src), "-o", str(tmp_path / "out" / "graded.jsonl")]) == 0
    out = _read(tmp_path / "out" / "graded.jsonl")
    assert [r["id"] for r in out] == [1, 2, 3, 4, 5]  # every row, in order, other fields kept
    assert [r["correct"] for r in out] == [True, False, False, True, None]
    assert [r["accuracy_reward"] for r in out] == [1.0, 0.0, 0.0, 1.0, None]
    # raw 1.0 x weight 0.5; the last gold cannot be graded, so as in training every reward is None for it
    assert [r["format_reward"] for r in out] == [0.5, 0.0, 0.0, 0.5, None]
    summary = capsys.readouterr().out
    assert "rows 5" in summary and "accuracy 0.5000 (2/4)" in summary and "ungradeable 1" in summary
    assert not list((tmp_path / "out").glob("*.tmp"))  # no temp file left behind


def test_grade_custom_fields_and_weights(tmp_path):
    rows = [{"gen": r["completion"], "gold": r["answer"]} for r in ROWS[:2]]
    src = _write(tmp_path / "in.jsonl", rows)
    dst = tmp_path / "graded.jsonl"
    args = [
        "grade",
        str(src),
        "-o",
        str(dst),
        "--answer-field",
        "gold",
        "--completion-field",
        "gen",
        "--format-weight",
        "0.2",
        "--accuracy-weight",
        "2",
    ]
    assert cli_main(args) == 0
    assert [(r["accuracy_reward"], r["format_reward"]) for r in _read(dst)] == [(2.0, 0.2), (0.0, 0.0)]


def test_malformed_lines_are_reported_and_the_rest_kept(tmp_path, capsys):
    src = _write(tmp_path / "in.jsonl", ROWS[:2], extra_lines=["{not json", "[1, 2]", "", json.dumps(ROWS[3])])
    dst = tmp_path / "graded.jsonl"
    assert cli_main(["grade", str(src), "-o", str(dst)]) == 1
    assert [r["id"] for r in _read(dst)] == [1, 2, 4]
    err = capsys.readouterr().err
    assert "line 3: not valid JSON" in err and "line 4: a JSON list" in err


def test_wrong_field_name_is_a_one_line_error(tmp_path, capsys):
    src = _write(tmp_path / "in.jsonl", ROWS)
    assert cli_main(["grade", str(src), "--answer-field", "gold"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no field 'gold'" in err[0] and "--answer-field" in err[0]


def test_missing_input_is_a_one_line_error(tmp_path, capsys):
    assert cli_main(["grade", str(tmp_path / "nope.jsonl")]) == 2
    assert "nope.jsonl: no such file" in capsys.readouterr().err


def test_failed_run_keeps_the_previous_output(tmp_path):
    dst = tmp_path / "graded.jsonl"
    dst.write_text("previous\n", encoding="utf-8")
    src = _write(tmp_path / "in.jsonl", ROWS)
    assert cli_main(["grade", str(src), "-o", str(dst), "--completion-field", "nope"]) == 2
    assert dst.read_text(encoding="utf-8") == "previous\n"
    assert not list(tmp_path.glob(".graded.jsonl.*"))


@pytest.mark.parametrize("via_stdin", [False, True])
def test_stdout_mode_keeps_jsonl_clean(tmp_path, via_stdin):
    src = _write(tmp_path / "in.jsonl", ROWS)
    cmd = [sys.executable, "-m", "mathgrpo.cli", "grade", "-" if via_stdin else str(src)]
    proc = subprocess.run(
        cmd, input=src.read_text() if via_stdin else None, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert [json.loads(line)["correct"] for line in proc.stdout.splitlines()] == [True, False, False, True, None]
    assert "rows 5" in proc.stderr


# --- fuzz: whatever a saved-completions file holds, the verb grades it or names the bad line ----

_pieces = ["\\boxed{", "}", "5", "\\frac{1}{2}", "<think>", "</think>", "\\ud800", "\\udfff", "\\u0000", "é", "$", " "]


def _fuzz_lines(seed: int, n: int = 60) -> bytes:
    """JSON lines with lone surrogates, chat-format completions and golds of every JSON type,
    plus raw bytes that are not UTF-8 and lines that are not JSON."""
    import random

    rng = random.Random(seed)
    golds = ['"5"', "5", "2.5", "null", "true", '["1", "2"]', '{"a": 1}', '"\\\\frac{1}{2}"', '"\\ud800"', '""']
    out = []
    for i in range(n):
        text = "".join(rng.choice(_pieces) for _ in range(rng.randrange(12)))
        completion = rng.choice([f'"{text}"', f'[{{"role": "assistant", "content": "{text}"}}]', "null", "42"])
        line = f'{{"id": {i}, "answer": {rng.choice(golds)}, "completion": {completion}}}'.encode()
        roll = rng.random()
        if roll < 0.08:
            line = line[: rng.randrange(len(line))]  # cut: not JSON
        elif roll < 0.15:
            line = line.replace(b"5", b"\xff\xfe", 1)  # not UTF-8
        out.append(line)
    return b"\n".join(out) + b"\n"


@pytest.mark.parametrize("seed", range(4))
def test_fuzzed_files_are_graded_row_by_row_without_a_crash(seed, tmp_path, capsys):
    src, out = tmp_path / "fuzz.jsonl", tmp_path / "graded.jsonl"
    src.write_bytes(_fuzz_lines(seed))
    code = cli_main(["grade", str(src), "-o", str(out)])
    captured = capsys.readouterr()
    assert code in (0, 1) and "Traceback" not in captured.err
    graded = _read(out)
    bad = captured.err.count("left out")
    assert len(graded) + bad == len(src.read_bytes().splitlines())  # every line: graded or named
    assert all(r["correct"] in (True, False, None) for r in graded)


@pytest.mark.slow  # the session's shared tiny run (trained once for several tests)
def test_grade_with_every_reward_a_run_used_at_its_weights(tiny_run, with_length_reward, tmp_path):
    # The tiny run used accuracy, format and the test's length reward, weighted 1.0, 0.5 and 1.0.
    src, dst = _write(tmp_path / "in.jsonl", ROWS[:2]), tmp_path / "out.jsonl"
    assert cli_main(["grade", str(src), "-o", str(dst), "--run", str(tiny_run.out)]) == 0
    out = _read(dst)
    assert [r["accuracy_reward"] for r in out] == [1.0, 0.0] and [r["format_reward"] for r in out] == [0.5, 0.0]
    assert out[0]["length_reward"] == min(len(ROWS[0]["completion"]), 40) / 40  # every reward, by its name


def test_grade_named_rewards_with_token_ids_and_a_dotted_path(tiny_qwen_dir, tmp_path, monkeypatch):
    reward = "def brevity(completions, **kwargs):\n    return [0.25] * len(completions)\n"
    (tmp_path / "extra_rewards.py").write_text(reward)
    monkeypatch.syspath_prepend(str(tmp_path))
    rows = [{"completion": "\\boxed{5}", "answer": "5"}, {"completion": "word " * 40 + "\\boxed{5}", "answer": "5"}]
    src, dst = _write(tmp_path / "in.jsonl", rows), tmp_path / "out.jsonl"
    argv = [
        "grade",
        str(src),
        "-o",
        str(dst),
        "--rewards",
        "accuracy",
        "soft_overlong",
        "extra_rewards.brevity",
        "--weights",
        "1",
        "1",
        "2",
        "--tokenizer",
        str(tiny_qwen_dir),
        "--max-completion-length",
        "20",
    ]
    assert cli_main(argv) == 0
    out = _read(dst)
    assert [r["brevity_reward"] for r in out] == [0.5, 0.5] and "format_reward" not in out[0]
    # soft_overlong read real token ids: the short answer is far from the limit, the long one past it.
    assert out[0]["soft_overlong_reward"] == 0.0 and out[1]["soft_overlong_reward"] == -1.0


def test_grade_refuses_weights_that_do_not_match_the_rewards(tmp_path, capsys):
    src = _write(tmp_path / "in.jsonl", ROWS[:1])
    assert cli_main(["grade", str(src), "--rewards", "accuracy", "format", "--weights", "1"]) == 2
    assert "--weights has 1 values for 2 rewards" in capsys.readouterr().err
