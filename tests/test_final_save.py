"""The final save is whole (src/mathgrpo/train/final.py): a model with empty or missing tensors is
never declared saved, a kill while the files move in is finished by ``--resume true`` with exactly
one model left, and ``--overwrite_output_dir true`` leaves nothing of the old run to mix in or push."""

from __future__ import annotations

import hashlib
import json
import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file

import mathgrpo.train.final as final
from mathgrpo.errors import UserError
from mathgrpo.files import RUN_FILE
from mathgrpo.models import check_reference
from mathgrpo.train.config import parse_train_args
from mathgrpo.train.final import FinalSpec, check_complete
from mathgrpo.train.run import run

from conftest import tiny_run_argv


def spec():
    return FinalSpec(model_path="unused", dtype=torch.float32, load_kwargs={})


def test_an_empty_or_partial_model_is_never_declared_saved(tiny_qwen_dir, tmp_path):
    # What ZeRO-3 wrote before (issue 29): every tensor of shape (0,), as partitioned parameters are.
    stage = tmp_path / "stage"
    stage.mkdir()
    shutil.copy(tiny_qwen_dir / "config.json", stage)
    whole = load_file(tiny_qwen_dir / "model.safetensors")
    save_file({k: torch.empty(0) for k in whole}, stage / "model.safetensors")
    with pytest.raises(RuntimeError, match="26 tensors are empty"):
        check_complete(stage, spec())
    save_file({k: v for k, v in whole.items() if "layers.1." not in k}, stage / "model.safetensors")
    with pytest.raises(RuntimeError, match="missing or misshapen"):
        check_complete(stage, spec())
    save_file(whole, stage / "model.safetensors")
    check_complete(stage, spec())  # the real model passes


class Killed(BaseException):
    """Stands in for SIGKILL inside the process: nothing after it runs, no except clause catches it."""


@pytest.mark.slow
def test_a_kill_inside_the_move_then_resume_leaves_exactly_one_model(
    tiny_qwen_dir, tmp_path, monkeypatch, with_length_reward
):
    out = tmp_path / "run"
    argv = tiny_run_argv(tiny_qwen_dir, out, "--save_steps", "2")

    class DiesAfterTheWeights:  # the first files (config, weights) are in place, the rest still staged
        def __getattr__(self, name):
            return getattr(self._os, name)

        def replace(self, src, dst):
            self._os.replace(src, dst)
            if str(dst).endswith("model.safetensors"):
                raise Killed

    shim = DiesAfterTheWeights()
    shim._os = final.os
    monkeypatch.setattr(final, "os", shim)
    with pytest.raises(Killed):
        run(*parse_train_args(argv))
    monkeypatch.setattr(final, "os", shim._os)
    assert (out / ".final-tmp").is_dir() and not json.loads((out / RUN_FILE).read_text())["finished"]
    with pytest.raises(UserError, match="has not finished its final save"):
        check_reference(str(out))  # eval (and training from it) refuse the half-moved folder
    # A shard an older, differently sharded save left behind: the finished save must remove it.
    save_file({"x": torch.ones(1)}, out / "model-00001-of-00002.safetensors")

    trainer = run(*parse_train_args(argv + ["--resume", "true"]))
    assert trainer.state.global_step == 2
    assert not (out / ".final-tmp").exists()
    assert sorted(p.name for p in out.glob("*.safetensors")) == ["model.safetensors"]
    assert json.loads((out / RUN_FILE).read_text())["finished"] and check_reference(str(out)) == "folder"
    saved, last = load_file(out / "model.safetensors"), load_file(out / "checkpoint-2" / "model.safetensors")
    assert set(saved) == set(last) and all(torch.equal(saved[k], last[k]) for k in last)


@pytest.mark.slow
def test_overwrite_output_dir_leaves_nothing_of_the_old_run(tiny_qwen_dir, tmp_path, with_length_reward, recording_hub):
    out = tmp_path / "run"
    # An old LoRA run: checkpoint, adapter, completions, report, card, record, merged model, and a
    # file of the user's own making inside the run folder.
    old = {
        "checkpoint-4/trainer_state.json": "{}",
        "adapter/adapter_config.json": "{}",
        "adapter/adapter_model.safetensors": "old",
        "completions/completions_00004.parquet": "old",
        "report/summary.md": "old",
        "README.md": "old card",
        RUN_FILE: json.dumps({"run_id": "old"}),
        "notes.txt": "old",
    }
    for name, text in old.items():
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_text(text)
    save_file({"old": torch.ones(3)}, out / "model-00002-of-00002.safetensors")
    argv = tiny_run_argv(
        tiny_qwen_dir,
        out,
        "--max_steps",
        "1",
        "--overwrite_output_dir",
        "true",
        "--push_to_hub",
        "true",
        "--hub_model_id",
        "me/tiny",
    )
    run(*parse_train_args(argv))
    left = {str(p.relative_to(out)): p for p in out.rglob("*") if p.is_file()}
    # The new run writes its own record, card and report; nothing else of the old run is there.
    assert not [n for n, p in left.items() if n in old and p.read_bytes() == old[n].encode()], left
    assert not any(n.startswith(("adapter", "completions", "checkpoint-4", "model-0", "notes")) for n in left), left
    assert (
        json.loads((out / RUN_FILE).read_text())["run_id"] != "old"
        and "old card" not in (out / "README.md").read_text()
    )
    (upload,) = recording_hub
    assert not any(
        f.startswith(("adapter/", "completions/", "checkpoint-", "model-0")) or f == "notes.txt"
        for f in upload["files"]
    ), upload["files"]
    assert (
        upload["digests"]["model.safetensors"] == hashlib.sha256((out / "model.safetensors").read_bytes()).hexdigest()
    )
