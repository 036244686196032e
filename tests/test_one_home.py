"""One home per concept: the one JSON Lines reader (and its error policy), the one local-path/hub-id
rule, the reward and dynamic-sampling checks run before anything loads, one overlong-buffer default."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from mathgrpo.errors import UserError
from mathgrpo.files import hub_id, iter_jsonl, looks_like_path, read_jsonl

PKG = Path(__file__).resolve().parents[1] / "src" / "mathgrpo"


def test_iter_jsonl_reports_each_bad_line_and_keeps_going(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_bytes(b'{"a": 1}\n\n[1, 2]\n{"a": \n\xff\xfe\n{"a": 2}\n')
    got = list(iter_jsonl(path))
    assert [(n, row) for n, row, err in got if err is None] == [(1, {"a": 1}), (6, {"a": 2})]
    errors = {n: err for n, _, err in got if err}
    assert set(errors) == {3, 4, 5}
    assert "not an object" in errors[3] and "not valid JSON" in errors[4] and "UTF-8" in errors[5]


def test_read_jsonl_stops_at_the_first_bad_line_naming_file_and_line(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text('{"a": 1}\n{oops}\n')
    with pytest.raises(UserError, match=r"x\.jsonl:2: not valid JSON .*; fix or remove that line"):
        list(read_jsonl(path))


def test_every_jsonl_reader_goes_through_files():
    """No module but files.py parses JSON Lines itself: json.loads of a loop's own variable (a line)."""
    offenders = []
    for path in PKG.rglob("*.py"):
        if path.name == "files.py" and path.parent == PKG:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.For):
                continue
            names = {n.id for n in ast.walk(node.target) if isinstance(n, ast.Name)}
            for call in ast.walk(node):
                if isinstance(call, ast.Call) and ast.unparse(call.func) == "json.loads" and call.args:
                    if {n.id for n in ast.walk(call.args[0]) if isinstance(n, ast.Name)} & names:
                        offenders.append(f"{path.relative_to(PKG)}:{call.lineno}")
    assert not offenders, f"JSON Lines parsed outside mathgrpo.files: {offenders}"


@pytest.mark.parametrize(
    "name, is_path",
    [
        ("Qwen/Qwen2.5-Math-1.5B", False),
        ("./run", True),
        ("/abs/model", True),
        ("~/m", True),
        ("a/b/c", True),
        ("org/name/", True),
        ("C:\\models\\x", True),
        ("gpt2", False),
    ],
)
def test_one_rule_tells_a_path_from_a_hub_id(name, is_path):
    assert looks_like_path(name) is is_path


def test_data_suffixes_make_a_path_and_hub_ids_need_an_org(tmp_path, monkeypatch):
    assert looks_like_path("train.jsonl", (".jsonl",)) and not looks_like_path("train.jsonl")
    assert hub_id("Qwen/Qwen2.5-Math-1.5B") == "Qwen/Qwen2.5-Math-1.5B"
    assert hub_id("gpt2") is None and hub_id("./a/b") is None and hub_id(None) is None
    monkeypatch.chdir(tmp_path)
    (tmp_path / "org" / "local").mkdir(parents=True)
    assert hub_id("org/local") is None  # it names a folder here


def _checked(argv: list[str]):
    from mathgrpo.train.config import parse_train_args
    from mathgrpo.train.run import check_config

    check_config(*parse_train_args(["--config", "recipes/demo/smollm2-cpu.yaml", *argv]))


def test_reward_and_dynamic_checks_run_before_anything_loads(monkeypatch):
    monkeypatch.chdir(PKG.parents[1])
    with pytest.raises(UserError, match="overlong_buffer=4096 must be in 1..max_completion_length"):
        _checked(["--reward_funcs", "accuracy", "soft_overlong", "--overlong_buffer", "4096"])
    with pytest.raises(UserError, match="accuracy_verdict must be one of"):
        _checked(["--accuracy_verdict", "loose"])
    with pytest.raises(UserError, match="max_resample_rounds must be at least 1"):
        _checked(["--dynamic_sampling", "true", "--max_resample_rounds", "0"])


def test_one_overlong_buffer_default():
    from mathgrpo.train.config import ScriptArguments
    from mathgrpo.train.rewards import RewardOptions, buffer_of

    assert ScriptArguments().overlong_buffer is None and RewardOptions(max_completion_length=1).overlong_buffer is None
    assert buffer_of(RewardOptions(max_completion_length=20480)) == 4096  # DAPO's 4096 of 20480
    assert buffer_of(RewardOptions(max_completion_length=20480, overlong_buffer=600)) == 600
