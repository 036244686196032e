"""Resuming dynamic sampling (src/mathgrpo/train/dynamic.py) where Trainer's own arithmetic fails:
refills end epochs early, so ``len(dataloader)`` is only an upper bound on an epoch's steps."""

from __future__ import annotations

import json
import os

import pytest
from safetensors.torch import load_file
from test_dynamic import trainer_on

from mathgrpo.train.config import parse_train_args
from mathgrpo.train.dynamic import EpochPool
from mathgrpo.train.rewards import REWARDS

from conftest import tiny_run_argv


def test_a_resumed_epoch_is_the_checkpoint_pool_s_not_steps_over_the_plain_epoch_length(tiny_qwen_dir, tmp_path):
    """The arithmetic resume relies on: a checkpoint at step 13 of a run whose epochs hold 8 steps on
    paper but whose epoch 2 began at step 10 is 3 steps into epoch 2 (Trainer alone: 5 into epoch 1)."""
    trainer = trainer_on(tiny_qwen_dir, tmp_path, ["spread"] * 16)
    pool = EpochPool(seed=0, epoch=2, taken=5, first_step=10)
    ckpt = tmp_path / "checkpoint-13"
    ckpt.mkdir()
    state = {
        "global_step": 13,
        "max_steps": 24,
        "train_batch_size": 4,
        "stateful_callbacks": {"EpochPool": pool.state()},
    }
    (ckpt / "trainer_state.json").write_text(json.dumps(state))
    trainer.args.gradient_accumulation_steps = 2  # batches skipped = steps x accumulation
    assert trainer._init_training_state(24, 8, 3, str(ckpt), None) == (2, 6)
    assert (trainer.pool.epoch, trainer.pool.taken, trainer.pool.first_step) == (2, 5, 10)
    # Without a pool in the checkpoint, Trainer's own answer stands.
    state["stateful_callbacks"] = {}
    (ckpt / "trainer_state.json").write_text(json.dumps(state))
    assert trainer._init_training_state(24, 8, 3, str(ckpt), None) == (1, 10)


def test_the_pool_records_the_step_each_epoch_begins_at():
    from types import SimpleNamespace

    pool = EpochPool(seed=0)
    pool.start(8, 0)
    pool.on_epoch_begin(None, SimpleNamespace(global_step=3), None)
    pool.start(8, 0)  # the epoch resumed: its first step stays
    assert pool.first_step == 0
    pool.start(8, 1)
    assert pool.first_step == 3 and pool.state()["args"]["first_step"] == 3


# ----------------------------------------------------------------------------- real runs


def half_flat_reward(calls: list):
    def half_flat(completions, problem, **kwargs):
        calls.append(tuple(problem))  # every prompt scored: the sampler's and the refills'
        # No signal for problems of even length (one reward for the whole group): refills follow.
        return [0.5 if len(p) % 2 == 0 else min(len(c), 40) / 40.0 for c, p in zip(completions, problem)]

    return lambda opts: half_flat


class Trace:
    """Per optimizer step: (step, epoch, refills taken, epoch's first step), read off the live pool."""

    def __init__(self, monkeypatch):
        import mathgrpo.train.dynamic as dynamic

        self.steps: list[tuple] = []
        self.calls: list[tuple] = []
        self.pool = None
        restored = dynamic.restored_pool

        def keep(*args, **kwargs):
            self.pool = restored(*args, **kwargs)
            return self.pool

        monkeypatch.setattr(dynamic, "restored_pool", keep)
        monkeypatch.setitem(REWARDS, "half_flat", half_flat_reward(self.calls))

    def callback(self):
        from transformers import TrainerCallback

        trace = self

        class OnStep(TrainerCallback):
            def on_step_end(self, args, state, control, **kwargs):
                pool = trace.pool
                trace.steps.append((state.global_step, pool.epoch, pool.taken, pool.first_step, len(trace.calls)))

        return OnStep()


def long_argv(model, out, *extra):
    # 8 problems, 2 per step: Trainer plans 4 steps an epoch, 12 in 3 epochs; the refills of the flat
    # half end each epoch after 3 (9 steps in all).
    return tiny_run_argv(
        model,
        out,
        "--dataset_name",
        "generated:arithmetic?n=8&seed=0",
        "--dynamic_sampling",
        "true",
        "--reward_funcs",
        "half_flat",
        "--dynamic_sampling_metric",
        "half_flat",
        "--reward_weights",
        "1.0",
        "--max_steps",
        "-1",
        "--num_train_epochs",
        "3",
        "--max_resample_rounds",
        "2",
        "--save_steps",
        "1000",
        "--max_completion_length",
        "4",
        *extra,
    )


@pytest.mark.slow
def test_a_long_dynamic_run_killed_in_epochs_1_and_2_resumes_exactly(tiny_qwen_dir, tmp_path, monkeypatch):
    from test_train import StopAfter

    from mathgrpo.train.run import run

    trace = Trace(monkeypatch)
    straight = run(*parse_train_args(long_argv(tiny_qwen_dir, tmp_path / "straight")), callbacks=[trace.callback()])
    steps, calls = list(trace.steps), list(trace.calls)
    epochs = [s[1] for s in steps]
    assert max(epochs) == 2 and straight.state.global_step == len(steps) < straight.state.max_steps
    # Mid-epoch kills: the second step of epoch 1 and of epoch 2 (each epoch needs two steps or more).
    kills = [steps[epochs.index(e) + 1][0] for e in (1, 2)]
    assert [steps[k - 1][1] for k in kills] == [1, 2], steps

    trace.steps.clear(), trace.calls.clear()
    out = tmp_path / "resumed"
    run(*parse_train_args(long_argv(tiny_qwen_dir, out)), callbacks=[trace.callback(), StopAfter(kills[0])])
    run(
        *parse_train_args(long_argv(tiny_qwen_dir, out, "--resume", "true")),
        callbacks=[trace.callback(), StopAfter(kills[1])],
    )
    last = run(*parse_train_args(long_argv(tiny_qwen_dir, out, "--resume", "true")), callbacks=[trace.callback()])
    # Every step: the same epoch, refills and epoch start; every generation round scored the same prompts.
    assert [s[:4] for s in trace.steps] == [s[:4] for s in steps]
    assert trace.calls == calls
    assert last.state.global_step == straight.state.global_step
    a, b = load_file(tmp_path / "straight" / "model.safetensors"), load_file(out / "model.safetensors")
    assert a.keys() == b.keys() and all((a[k] == b[k]).all() for k in a)


def snapshot(folder) -> dict:
    """Every file under ``folder``: its bytes' hash and its modification time."""
    import hashlib

    found = {}
    for root, _, files in os.walk(folder):
        for name in files:
            path = os.path.join(root, name)
            found[os.path.relpath(path, folder)] = (
                hashlib.sha256(open(path, "rb").read()).hexdigest(),
                os.stat(path).st_mtime_ns,
            )
    return found


@pytest.mark.slow
def test_a_dynamic_run_that_used_its_data_up_resumes_to_nothing(tiny_qwen_dir, tmp_path, monkeypatch, caplog):
    from mathgrpo.train.run import run

    Trace(monkeypatch)
    out = tmp_path / "done"
    # One epoch of 8 problems: Trainer plans 4 steps, the refills end it sooner; every step is kept.
    argv = long_argv(tiny_qwen_dir, out, "--num_train_epochs", "1", "--save_steps", "1")
    first = run(*parse_train_args(argv))
    assert first.state.global_step < first.state.max_steps
    assert (out / f"checkpoint-{first.state.global_step}").is_dir()  # the last step's checkpoint is kept
    before = snapshot(out)
    with caplog.at_level("INFO", logger="mathgrpo.train.run"):
        assert run(*parse_train_args([*argv, "--resume", "true"])) is None
    assert "already finished" in caplog.text and snapshot(out) == before
