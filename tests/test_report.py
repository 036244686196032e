"""The run report and the model card, on one real tiny GRPO run (TRL, tiny random Qwen2, real
Qwen2.5 tokenizer) evaluated by the real ``mathgrpo eval`` before and after training."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

from mathgrpo import cli
from mathgrpo.files import REPORT_DIR
from mathgrpo.files import REPORT_PAGE as SUMMARY_FILE
from mathgrpo.files import REPORT_SAMPLES as SAMPLES_FILE
from mathgrpo.report.plots import DPI, FIG_SIZE, ema
from mathgrpo.report.reader import RUN_FILE
from mathgrpo.report.summary import build_report, fmt
from mathgrpo.train.config import parse_train_args
from mathgrpo.train.rewards import REWARDS

from conftest import length_reward, tiny_run_argv

SECRET = "hf_notARealTokenButSecretShaped123"
PLOTS = (
    "reward",
    "accuracy",
    "completion_length",
    "zero_std_groups",
    "clip_ratio",
    "entropy",
    "kl",
    "learning_rate",
    "grad_norm",
)
BENCH = "generated:arithmetic?n=3&seed=7"


def evaluate(model: Path, out: Path) -> None:
    from mathgrpo.evaluation.evaluate import main as eval_main

    assert eval_main(["--model", str(model), "--benchmarks", BENCH, "--max-new-tokens", "6", "--output", str(out)]) == 0


@pytest.fixture(scope="module")
def trained(tiny_qwen_dir, tmp_path_factory):
    """Train 2 GRPO steps (checkpoints at 1 and 2), keep the card train wrote, then evaluate the
    base model and the trained one beside the run, as a user would."""
    from mathgrpo.train.run import run

    root = tmp_path_factory.mktemp("report")
    out = root / "run"
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(REWARDS, "length", length_reward)
        mp.setenv("HF_TOKEN", "placeholder")  # restored after; train moves a recipe token into it
        trainer = run(
            *parse_train_args(
                tiny_run_argv(
                    tiny_qwen_dir,
                    out,
                    "--reward_weights",
                    "1.0",
                    "0.5",
                    "2.0",
                    "--beta",
                    "0.04",
                    "--log_completions",
                    "true",
                    "--hub_token",
                    SECRET,
                )
            )
        )
    card_at_end = (out / "README.md").read_text()
    evaluate(tiny_qwen_dir, root / "eval-base")
    evaluate(out, out / "eval")
    return SimpleNamespace(out=out, root=root, trainer=trainer, card=card_at_end, base=tiny_qwen_dir)


def logged(trainer, key):
    return [(e["step"], e[key]) for e in trainer.state.log_history if isinstance(e.get(key), (int, float))]


@pytest.mark.slow
def test_train_ends_with_our_model_card(trained):
    card, info = trained.card, json.loads((trained.out / RUN_FILE).read_text())
    from huggingface_hub import ModelCard

    meta = ModelCard(card).data.to_dict()  # the front matter parses as the hub reads it
    assert "grpo" in meta["tags"] and "generated_from_trainer" not in card  # ours, not TRL's draft
    assert f"`{info['model']}`" in card and f"`{info['dataset']}`" in card and "`think_boxed`" in card
    stats = info["data_stats"]
    assert f"{stats['rows_in']} rows in" in card and f"{stats['rows_out']} rows trained on" in card
    assert "accuracy (1), format (0.5), length (2)" in card
    assert "| learning_rate | 0.001 |" in card and "| beta | 0.04 |" in card and "| num_generations | 2 |" in card
    assert info["hardware"]["torch"] in card and "optimizer steps" in card
    assert "Not evaluated yet" in card  # train ends before any evaluation
    for name in PLOTS:
        assert f"(report/{name}.png)" in card
        assert (trained.out / REPORT_DIR / f"{name}.png").is_file()
    assert info["training_args"]["num_generations"] == 2  # recorded for later reports


@pytest.mark.slow
def test_plots_decode_at_the_fixed_size(trained):
    from matplotlib.image import imread

    rep = build_report(trained.out)
    assert sorted(name for _, name in rep.plots) == sorted(f"{n}.png" for n in PLOTS)
    width, height = round(FIG_SIZE[0] * DPI), round(FIG_SIZE[1] * DPI)
    for name in PLOTS:
        image = imread(trained.out / REPORT_DIR / f"{name}.png")
        assert image.shape[:2] == (height, width), name
        assert image[..., :3].std() > 0.01, f"{name} is blank"


@pytest.mark.slow
def test_summary_holds_the_runs_final_numbers(trained):
    build_report(trained.out)
    text = (trained.out / REPORT_DIR / SUMMARY_FILE).read_text()
    assert "finished at step 2" in text
    for key in (
        "reward",
        "rewards/length/mean",
        "entropy",
        "kl",
        "grad_norm",
        "completions/mean_length",
        "frac_reward_zero_std",
        "learning_rate",
    ):
        points = logged(trained.trainer, key)
        assert len(points) == 2, key
        values = [v for _, v in points]
        row = f"| {key} | {fmt(values[0])} | {fmt(values[-1])} | {fmt(min(values))} | {fmt(max(values))} | 2 |"
        assert row in text, row
    info = json.loads((trained.out / RUN_FILE).read_text())
    minutes, seconds = divmod(round(info["wall_seconds"]), 60)
    assert f"Wall time: {minutes}m {seconds:02d}s" in text
    assert "| max_completion_length | 8 |" in text and "| template | `think_boxed` |" in text


@pytest.mark.slow
def test_summary_compares_base_and_trained_evaluations(trained):
    text = build_report(trained.out).summary_path.read_text()
    base = json.loads((trained.root / "eval-base" / "summary.json").read_text())
    after = json.loads((trained.out / "eval" / "summary.json").read_text())
    assert "A = base (eval-base)" in text and "B = trained (eval)" in text
    a, b = base["benchmarks"][BENCH]["accuracy"], after["benchmarks"][BENCH]["accuracy"]
    assert f"| {BENCH} | pass@1 | {100 * a:.1f} | {100 * b:.1f} | {100 * (b - a):+.1f} |" in text


@pytest.mark.slow
def test_samples_are_best_and_worst_at_start_and_end(trained):
    import pyarrow.parquet as pq

    rep = build_report(trained.out)
    lines = (trained.out / REPORT_DIR / SAMPLES_FILE).read_text().splitlines()
    samples = [json.loads(line) for line in lines]
    assert {(s["phase"], s["step"]) for s in samples} == {("start", 1), ("end", 2)}
    weights = {"accuracy": 1.0, "format": 0.5, "length": 2.0}
    for phase, step in (("start", 1), ("end", 2)):
        rows = pq.read_table(trained.out / "completions" / f"completions_{step:05d}.parquet").to_pylist()
        totals = sorted(sum(w * r[n] for n, w in weights.items()) for r in rows)
        mine = [s for s in samples if s["phase"] == phase]
        best = [s["total_reward"] for s in mine if s["rank"] == "best"]
        worst = [s["total_reward"] for s in mine if s["rank"] == "worst"]
        assert math.isclose(max(best), totals[-1]) and math.isclose(min(worst), totals[0])
        for s in mine:
            assert s["completion"] in {r["completion"] for r in rows}
    summary = rep.summary_path.read_text()
    assert samples[0]["completion"] in summary and "total reward" in summary


@pytest.mark.slow
def test_no_token_is_written(trained):
    build_report(trained.out)
    files = [trained.out / "README.md", trained.out / RUN_FILE, trained.out / "training_args.bin"]
    files += list((trained.out / REPORT_DIR).iterdir())
    for path in files:
        assert SECRET.encode() not in path.read_bytes(), path


@pytest.mark.slow
def test_running_run_reports_what_exists(trained, tmp_path):
    """A run killed after its step-1 save (a half-written checkpoint-2 beside it): the report
    uses checkpoint-1, leaves the run's folders alone and lists what it lacks."""
    live = tmp_path / "live"
    (live / "checkpoint-1").mkdir(parents=True)
    shutil.copy(trained.out / "checkpoint-1" / "trainer_state.json", live / "checkpoint-1")
    (live / "checkpoint-2").mkdir()
    (live / "checkpoint-2" / "trainer_state.json").write_text('{"log_history": [{"step"')
    info = json.loads((trained.out / RUN_FILE).read_text())
    info.update(finished=False)
    for key in ("training_args", "wall_seconds", "ended", "global_step"):
        info.pop(key)
    (live / RUN_FILE).write_text(json.dumps(info))

    rep = build_report(live)
    text = rep.summary_path.read_text()
    assert "in progress or interrupted: step 1 of 2" in text and "checkpoint-1/trainer_state.json" in text
    last_reward = logged(trained.trainer, "reward")[0][1]
    assert f"| {fmt(last_reward)} |" in text.split("| reward |")[1].split("\n")[0]
    assert "sample completions" in rep.missing and "log_completions" in rep.missing["sample completions"]
    assert "evaluation of the trained model" in rep.missing
    assert (live / "checkpoint-2").is_dir()  # never moved: the run may still be writing it
    assert "## Missing" in text


@pytest.mark.slow
def test_the_reports_eval_commands_run_as_printed(trained, tmp_path):
    """The commands the report prints for missing evaluations work offline, as they are, and their
    output is then found by the report as base and trained."""
    import shlex

    run_dir = tmp_path / "copy"
    shutil.copytree(trained.out, run_dir, ignore=shutil.ignore_patterns("eval", "checkpoint-*"))
    info = json.loads((run_dir / RUN_FILE).read_text())
    (run_dir / RUN_FILE).write_text(json.dumps({**info, "model": str(trained.base)}))
    rep = build_report(run_dir)
    for what in ("evaluation of the trained model", "evaluation of the base model"):
        command = rep.missing[what].split("`")[1]
        argv = shlex.split(command)
        assert argv[:2] == ["mathgrpo", "eval"] and "generated:" in command and "split=test" in command
        assert cli.main(argv[1:] + ["--limit", "3"]) == 0  # --limit only keeps the test quick
    again = build_report(run_dir)
    assert {"base", "trained"} <= set(again.evals) and "evaluation of the base model" not in again.missing


@pytest.mark.slow
def test_an_interrupted_run_has_our_card_from_its_first_save(tiny_qwen_dir, tmp_path, with_length_reward):
    from test_train import StopAfter

    from mathgrpo.train.run import run

    out = tmp_path / "stopped"
    run(*parse_train_args(tiny_run_argv(tiny_qwen_dir, out)), callbacks=[StopAfter(1)])
    card = (out / "README.md").read_text()
    assert "generated_from_trainer" not in card and "mathgrpo" in card
    assert "in progress or interrupted: step 1 of 2" in card


def test_folder_without_logs_is_one_line_error(tmp_path, capsys):
    assert cli.main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "no training logs" in err and str(tmp_path) in err
    assert cli.main(["report", str(tmp_path / "absent")]) == 2
    assert "is not a folder" in capsys.readouterr().err


@pytest.mark.slow
def test_push_to_hub_publishes_the_final_folder_once(tiny_qwen_dir, tmp_path, with_length_reward, recording_hub):
    import hashlib

    from mathgrpo.train.run import run

    out = tmp_path / "pushed"
    run(
        *parse_train_args(
            tiny_run_argv(
                tiny_qwen_dir, out, "--push_to_hub", "true", "--hub_model_id", "me/tiny-grpo", "--hub_token", SECRET
            )
        )
    )
    (upload,) = recording_hub  # Trainer pushed nothing itself (not at saves, not inside save_model)
    assert upload["repo_id"] == "me/tiny-grpo"
    files = set(upload["files"])
    assert {"model.safetensors", "config.json", "tokenizer.json", "README.md", RUN_FILE, "report/summary.md"} <= files
    assert not any(f.startswith(("checkpoint-", "incomplete-", ".")) for f in files)
    # What was sent is what was finally saved, and the card is ours.
    for name in ("model.safetensors", "README.md"):
        assert upload["digests"][name] == hashlib.sha256((out / name).read_bytes()).hexdigest()
    card = (out / "README.md").read_text()
    assert "generated_from_trainer" not in card and SECRET not in card
    assert "algorithm: custom, nearest GRPO but not loss_type grpo" in card and "loss_type dapo" in card


def test_a_failed_push_is_an_error_with_a_retry_that_pushes(
    tiny_qwen_dir, tmp_path, with_length_reward, recording_hub, monkeypatch, capsys
):
    import huggingface_hub

    from conftest import RecordingHub

    class Offline(RecordingHub):
        def upload_folder(self, *args, **kwargs):
            raise ConnectionError("the Hub cannot be reached")

    monkeypatch.setattr(huggingface_hub, "HfApi", Offline)
    out = tmp_path / "push-fails"
    argv = [
        "train",
        *tiny_run_argv(
            tiny_qwen_dir, out, "--push_to_hub", "true", "--hub_model_id", "me/tiny-retry", "--max_steps", "1"
        ),
    ]
    assert cli.main(argv) == 2  # not a warning and exit 0
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "the trained model is saved in" in err and "ConnectionError: the Hub cannot be reached" in err
    assert err.endswith(f"retry with: mathgrpo report {out} --push")
    assert (out / "model.safetensors").is_file() and recording_hub == []
    # The retry the message names: it uploads the finished run to the run's own hub_model_id.
    monkeypatch.setattr(huggingface_hub, "HfApi", RecordingHub)
    assert cli.main(["report", str(out), "--push"]) == 0
    (upload,) = recording_hub
    assert upload["repo_id"] == "me/tiny-retry" and "model.safetensors" in upload["files"]
    assert "README.md" in upload["files"] and not any(f.startswith("checkpoint-") for f in upload["files"])


def test_push_refuses_an_unfinished_run(tmp_path, capsys):
    (tmp_path / RUN_FILE).write_text(json.dumps({"finished": False}))
    assert cli.main(["report", str(tmp_path), "--push"]) == 2
    assert "has not finished" in capsys.readouterr().err


def test_ema_smooths_and_starts_at_the_first_point():
    assert ema([]) == []
    assert ema([3.0, 3.0, 3.0], span=5) == pytest.approx([3.0, 3.0, 3.0])
    steps = ema([0.0] * 10 + [1.0] * 30, span=5)
    assert steps[0] == 0.0 and 0 < steps[11] < 1 and steps[-1] == pytest.approx(1.0, abs=1e-3)
    noisy = [(-1.0) ** i for i in range(100)]
    assert max(abs(v) for v in ema(noisy)[20:]) < 0.5  # the default span damps step-to-step noise


def test_dynamic_sampling_panel_only_for_runs_that_log_it(tmp_path):
    from mathgrpo.report.plots import write_plots

    plain = [{"step": s, "reward": 0.1 * s, "frac_reward_zero_std": 0.5} for s in range(1, 5)]
    written, missing = write_plots(plain, tmp_path / "plain")
    names = [name for _, name in written]
    assert "zero_std_groups.png" in names and "dynamic_sampling.png" not in names
    assert "dynamic_sampling" not in missing  # optional: absent is not "missing"
    dynamic = [{**e, "dynamic/rounds": 2.0, "dynamic/zero_signal_trained": 0.0} for e in plain]
    written, _ = write_plots(dynamic, tmp_path / "dynamic")
    assert "dynamic_sampling.png" in [name for _, name in written]


def test_the_vllm_correction_panel_draws_trl_s_ratios_and_the_capped_share(tmp_path):
    from trl.trainer import grpo_trainer

    from mathgrpo.report.plots import panels, series, write_plots

    names = ("min", "mean", "max")
    history = [
        {
            "step": s,
            "reward": 0.1,
            "is_correction/capped_or_masked": 0.25,
            **{f"sampling/importance_sampling_ratio/{n}": v for n, v in zip(names, (0.5, 0.98, 2.0))},
        }
        for s in range(1, 5)
    ]
    written, missing = write_plots(history, tmp_path / "vllm")
    assert "vllm_correction.png" in [name for _, name in written] and "vllm_correction" not in missing
    panel = next(p for p in panels(history) if p.name == "vllm_correction")
    drawn = {key: series(history, key)[1] for key, _ in (*panel.lines, *panel.right)}
    assert drawn["is_correction/capped_or_masked"] == [0.25] * 4 and drawn[panel.lines[1][0]] == [0.98] * 4
    # The names are TRL 1.16's own (it logs them only with vLLM, so no CPU run can produce them).
    source = open(grpo_trainer.__file__).read()
    assert all(f'"{key}"' in source for key, _ in panel.lines)
    # A run without vLLM has no such panel, and it is not reported missing.
    written, missing = write_plots(
        [{k: v for k, v in e.items() if "sampl" not in k and "is_" not in k} for e in history], tmp_path / "plain"
    )
    assert "vllm_correction.png" not in [n for _, n in written] and "vllm_correction" not in missing


def test_the_capped_or_masked_share_counts_what_trl_capped_or_zeroed():
    import torch

    from mathgrpo.train.trainer import corrected_share

    mask = torch.tensor([[1, 1, 0], [1, 1, 1], [0, 0, 0]])
    # sequence_mask: TRL zeroes a sequence's ratio outside the bounds; the empty third row does not count.
    seq = torch.tensor([[0.0], [1.2], [0.0]])
    assert [t.item() for t in corrected_share(seq, mask, "sequence_mask", None, 3.0)] == [1.0, 2.0]
    # token_truncate: a token's ratio clamped to the cap (or to the floor, when one is set).
    tok = torch.tensor([[2.0, 0.9, 2.0], [1.0, 0.5, 1.1], [2.0, 2.0, 2.0]])
    assert [t.item() for t in corrected_share(tok, mask, "token_truncate", None, 2.0)] == [1.0, 5.0]
    assert [t.item() for t in corrected_share(tok, mask, "token_truncate", 0.5, 2.0)] == [2.0, 5.0]
