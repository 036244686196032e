"""Where a run starts: it ends where it says, never borrows another run's state, and a folder that
holds a run is never silently trained over (src/mathgrpo/train/resume.py)."""

from __future__ import annotations

import hashlib
import json
import time

import pytest
from safetensors.torch import load_file

from mathgrpo.cli import main as cli_main
from mathgrpo.errors import UserError
from mathgrpo.files import RUN_FILE, STATE_FILE
from mathgrpo.train.config import parse_train_args
from mathgrpo.train.resume import CheckpointJanitor, RunIdentity, plan_start

from conftest import tiny_run_argv


def args_for(out, *extra):
    return parse_train_args(tiny_run_argv("unused-model", out, *extra))


def fake_checkpoint(out, step: int, run_id: str | None, complete: bool = True):
    path = out / f"checkpoint-{step}"
    path.mkdir(parents=True)
    if complete:
        stamp = {RunIdentity.__name__: RunIdentity(run_id).state()} if run_id else {}
        state = {"global_step": step, "max_steps": 2, "log_history": [], "stateful_callbacks": stamp}
        (path / STATE_FILE).write_text(json.dumps(state))
    return path


def record(out, run_id: str, **extra):
    out.mkdir(parents=True, exist_ok=True)
    (out / RUN_FILE).write_text(json.dumps({"run_id": run_id, **extra}))


def ids():
    return iter(["new-id", "spare-id"]).__next__


# ----------------------------------------------------------------------------- fresh runs


def test_fresh_run_into_a_folder_with_a_run_is_one_line_and_fast(tmp_path, capsys, with_length_reward, tiny_qwen_dir):
    out = tmp_path / "run"
    fake_checkpoint(out, 2, "old")
    started = time.process_time()  # CPU of this process: load-proof
    assert cli_main(["train", *tiny_run_argv(tiny_qwen_dir, out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "already holds a run" in err and "--resume true" in err
    assert "--overwrite_output_dir true" in err and time.process_time() - started < 5
    assert (out / "checkpoint-2").is_dir()  # nothing lost


def test_overwrite_output_dir_deletes_the_old_checkpoints(tmp_path):
    out = tmp_path / "run"
    fake_checkpoint(out, 2, "old")
    fake_checkpoint(out, 3, "old", complete=False)
    script_args, args, _ = args_for(out, "--overwrite_output_dir", "true")
    plan = plan_start(script_args, args, new_run_id=ids())
    assert plan.run_id == "new-id" and plan.resume_from is None
    assert not list(out.glob("checkpoint-*"))


def test_output_dir_that_is_a_file_is_one_line(tmp_path, capsys, with_length_reward, tiny_qwen_dir):
    target = tmp_path / "a-file"
    target.write_text("x")
    assert cli_main(["train", *tiny_run_argv(tiny_qwen_dir, target)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "is a file" in err and "output_dir" in err


# ----------------------------------------------------------------------------- resume


def test_resume_takes_only_this_runs_checkpoints(tmp_path):
    out = tmp_path / "run"
    record(out, "mine")
    fake_checkpoint(out, 4, "someone-else")
    fake_checkpoint(out, 2, "mine")
    script_args, args, _ = args_for(out, "--resume", "true", "--max_steps", "6")
    plan = plan_start(script_args, args, new_run_id=ids())
    assert plan.resume_from.endswith("checkpoint-2") and plan.run_id == "mine" and not plan.trained


def test_resume_refuses_another_runs_checkpoints(tmp_path):
    out = tmp_path / "run"
    record(out, "mine")
    fake_checkpoint(out, 4, "someone-else")
    script_args, args, _ = args_for(out, "--resume", "true")
    with pytest.raises(UserError, match="belongs to run someone-else"):
        plan_start(script_args, args, new_run_id=ids())


def test_resume_names_the_settings_that_changed(tmp_path, caplog):
    out = tmp_path / "run"
    record(out, "mine", training_args={"learning_rate": 1e-3, "num_generations": 2})
    fake_checkpoint(out, 1, "mine")
    script_args, args, _ = args_for(out, "--resume", "true", "--learning_rate", "2e-5")
    with caplog.at_level("WARNING", logger="mathgrpo.train.resume"):
        plan_start(script_args, args, new_run_id=ids())
    assert "learning_rate 0.001 -> 2e-05" in caplog.text and "num_generations" not in caplog.text


def test_incomplete_checkpoints_are_set_aside_then_deleted(tmp_path):
    out = tmp_path / "run"
    record(out, "mine")
    fake_checkpoint(out, 1, "mine")
    fake_checkpoint(out, 2, "mine", complete=False)  # killed mid-save
    script_args, args, _ = args_for(out, "--resume", "true")
    plan = plan_start(script_args, args, new_run_id=ids())
    assert plan.resume_from.endswith("checkpoint-1") and (out / "incomplete-checkpoint-2").is_dir()
    # The next complete save at or after step 2 removes it.
    from types import SimpleNamespace

    state = SimpleNamespace(is_world_process_zero=True, global_step=2)
    CheckpointJanitor().on_save(SimpleNamespace(output_dir=str(out)), state, None)
    assert not (out / "incomplete-checkpoint-2").exists() and (out / "checkpoint-1").is_dir()


def test_fresh_run_leaves_incomplete_checkpoints_alone_until_resume(tmp_path):
    out = tmp_path / "run"
    fake_checkpoint(out, 2, None, complete=False)
    script_args, args, _ = args_for(out)
    with pytest.raises(UserError, match="already holds a run"):
        plan_start(script_args, args, new_run_id=ids())
    assert (out / "checkpoint-2").is_dir()  # not moved: only a resume touches checkpoints


# ----------------------------------------------------------------------------- real runs


def digests(folder) -> dict[str, tuple[str, float]]:
    return {
        str(p.relative_to(folder)): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.mark.slow
def test_a_run_ends_where_it_says(tiny_qwen_dir, tmp_path, with_length_reward, tiny_run):
    from mathgrpo.train.run import run

    out = tiny_run.copy(tmp_path / "run")  # the session's 2-step run of these flags (plus a hub token)
    assert tiny_run.trainer.state.global_step == 2
    final = load_file(out / "model.safetensors")
    before = digests(out)

    # A finished run resumes to "nothing to do" and changes no file.
    assert run(*parse_train_args(tiny_run_argv(tiny_qwen_dir, out, "--resume", "true"))) is None
    assert digests(out) == before

    # Killed during the final save (the last checkpoint is complete, the final model is not):
    # the resume only finishes the saving. No step 3, the same final weights.
    (out / "model.safetensors").unlink()
    info = json.loads((out / RUN_FILE).read_text())
    (out / RUN_FILE).write_text(json.dumps({**info, "finished": False}))
    again = run(*parse_train_args(tiny_run_argv(tiny_qwen_dir, out, "--resume", "true")))
    assert again.state.global_step == 2 and not (out / "checkpoint-3").exists()
    resaved = load_file(out / "model.safetensors")
    assert resaved.keys() == final.keys() and all((resaved[k] == final[k]).all() for k in final)
    assert json.loads((out / RUN_FILE).read_text())["finished"] is True
