"""Real GRPO steps (TRL) on a tiny random Qwen2 with the real Qwen2.5 tokenizer: weights move,
rewards are logged, checkpoints are saved, and an interrupted run resumes to the same end."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file
from transformers import TrainerCallback

from mathgrpo.files import RUN_FILE
from mathgrpo.train.config import parse_train_args
from mathgrpo.train.resume import last_complete_checkpoint
from mathgrpo.train.run import run

from conftest import TINY_RUN_TOKEN, tiny_run_argv

pytestmark = pytest.mark.slow


def tiny_args(model_dir, out, *extra):
    return parse_train_args(tiny_run_argv(model_dir, out, *extra))


def test_two_grpo_steps_change_weights_and_log_rewards(tiny_qwen_dir, tiny_run):
    out, trainer, secret = tiny_run.out, tiny_run.trainer, TINY_RUN_TOKEN  # the session's shared run
    assert trainer.state.global_step == 2
    before, after = load_file(tiny_qwen_dir / "model.safetensors"), load_file(out / "model.safetensors")
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    assert changed, "no weight changed after two GRPO steps"
    logged = {k for entry in trainer.state.log_history for k in entry}
    for name in ("accuracy", "format", "length"):
        assert f"rewards/{name}/mean" in logged
    assert (out / "checkpoint-1").is_dir() and (out / "checkpoint-2").is_dir()
    assert (out / "tokenizer.json").is_file()
    info = json.loads((out / RUN_FILE).read_text())
    assert info["finished"] and info["template"] == "think_boxed" and info["global_step"] == 2
    assert info["data_stats"]["rows_out"] == 16
    assert info["data_stats"]["golds"] == {"answer": {"rows": 16, "slow": 0}}  # how each gold was read
    from mathgrpo.files import file_mode

    for name in ("model.safetensors", RUN_FILE, "trainer_state.json"):  # not mkstemp's / save_file's 0600
        assert (out / name).stat().st_mode & 0o777 == file_mode(), name
    # Safe defaults: weights as safetensors only, and the token never lands on disk.
    assert not list(out.rglob("*.bin")) or all(p.name == "training_args.bin" for p in out.rglob("*.bin"))
    for path in out.rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), f"token written into {path}"


class StopAfter(TrainerCallback):
    def __init__(self, step):
        self.step = step

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step >= self.step:
            control.should_save = True
            control.should_training_stop = True
        return control


def test_interrupted_run_resumes_to_same_final_step(tiny_qwen_dir, tmp_path, with_length_reward, tiny_run):
    out = tmp_path / "run"
    first = run(*tiny_args(tiny_qwen_dir, out), callbacks=[StopAfter(1)])
    assert first.state.global_step == 1
    assert not (out / "model.safetensors").exists()  # no final model from an interrupted run
    from mathgrpo.files import file_mode

    for name in ("model.safetensors", "trainer_state.json"):  # its checkpoint is readable by colleagues at once
        assert (out / "checkpoint-1" / name).stat().st_mode & 0o777 == file_mode(), name
    assert last_complete_checkpoint(str(out)).endswith("checkpoint-1")

    resumed = run(*tiny_args(tiny_qwen_dir, out, "--resume", "true"))
    assert resumed.state.global_step == 2
    steps = [e["step"] for e in resumed.state.log_history if "loss" in e]
    assert steps == [1, 2]  # step 1's log came back from the checkpoint, step 2 was trained now

    # Resuming with optimizer, scheduler, RNG and data position restored gives the same
    # model as an uninterrupted run (the session's shared one: the same flags, plus a hub token,
    # which is moved to the environment and changes nothing trained).
    straight = tiny_run.out
    a, b = load_file(out / "model.safetensors"), load_file(straight / "model.safetensors")
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-4, atol=1e-5)


def test_half_written_checkpoint_is_never_resumed(tmp_path):
    (tmp_path / "checkpoint-1").mkdir()
    (tmp_path / "checkpoint-1" / "trainer_state.json").write_text('{"global_step": 1}')
    (tmp_path / "checkpoint-2").mkdir()  # interrupted save: no trainer_state.json
    assert last_complete_checkpoint(str(tmp_path)).endswith("checkpoint-1")
    assert (tmp_path / "incomplete-checkpoint-2").is_dir()
