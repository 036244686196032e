"""Where a training run starts: fresh, from its own last complete checkpoint, or already done.

Usage: ``plan = plan_start(script_args, args)`` before any model is loaded; pass
``RunIdentity(plan.run_id)`` and ``CheckpointJanitor()`` to the trainer.

Rules (each a test in tests/test_resume.py):
- A run has an id, written in ``mathgrpo_run.json`` and, through :class:`RunIdentity`, inside every
  checkpoint's ``trainer_state.json`` (saved with it, so the stamp and the checkpoint cannot part).
  ``--resume`` continues only checkpoints that carry this run's id.
- A fresh run into a folder that holds another run is refused, unless ``--overwrite_output_dir``
  (which empties the folder: every file of the old run goes) or ``--resume``.
- A checkpoint whose ``trainer_state.json`` (written last by Trainer) does not parse was cut short:
  on resume it is moved aside as ``incomplete-checkpoint-N``, and deleted once a complete
  checkpoint at or after its step exists.
- Resuming a run whose checkpoint already reached ``max_steps`` trains nothing: a finished run
  is left untouched, a run killed after its last step (or during its final save) only finishes the
  saving. ``finished`` in ``mathgrpo_run.json``, written after the final model is in place, is the marker.
  A run whose record says it finished (e.g. dynamic sampling used its data up before ``max_steps``) is
  left untouched too, unless the command changes ``max_steps`` or ``num_train_epochs``.
- After each save, our model card (:class:`CardOnSave`) replaces TRL's generic one.
"""

from __future__ import annotations

import logging
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from transformers import TrainerCallback
from transformers.trainer_callback import ExportableState

from mathgrpo.errors import UserError
from mathgrpo.files import RUN_FILE, STATE_FILE, check_writable, checkpoint_dirs, read_json

log = logging.getLogger(__name__)

INCOMPLETE_PREFIX = "incomplete-"
_INCOMPLETE = re.compile(r"incomplete-checkpoint-(\d+)")
AUTO = ("auto", "true", "last")
# Settings whose change on resume is worth a warning (the optimizer and scheduler state, and
# so the learning rate schedule, come from the checkpoint whatever the command line says).
COMPARED_ON_RESUME = (
    "learning_rate",
    "lr_scheduler_type",
    "warmup_steps",
    "warmup_ratio",
    "max_steps",
    "num_train_epochs",
    "per_device_train_batch_size",
    "gradient_accumulation_steps",
    "steps_per_generation",
    "num_generations",
    "max_completion_length",
    "temperature",
    "top_p",
    "beta",
    "loss_type",
    "scale_rewards",
    "epsilon",
    "epsilon_high",
    "importance_sampling_level",
    "mask_truncated_completions",
    "num_iterations",
    "optim",
    "weight_decay",
    "seed",
    "reward_weights",
)


class RunIdentity(TrainerCallback, ExportableState):
    """Stamps the run id into each checkpoint's ``trainer_state.json`` (Trainer saves the ``state()``
    of every ExportableState callback there)."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id

    def state(self) -> dict:
        return {"args": {"run_id": self.run_id}, "attributes": {}}


class CheckpointJanitor(TrainerCallback):
    """After each save, deletes ``incomplete-checkpoint-N`` folders with N at or below the new step:
    a complete checkpoint now covers them (one was 558 MB)."""

    def on_save(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            remove_incomplete(Path(args.output_dir), up_to=state.global_step)
        return control


class CardOnSave(TrainerCallback):
    """After every checkpoint, our model card (status: in progress or interrupted) replaces the
    generic one TRL writes into output_dir at each save, so an interrupted run's README.md already
    says what was trained and how far it got; and the checkpoint's files get the mode the user's umask
    gives (safetensors writes 0600), so a colleague can read a checkpoint of a run still going."""

    def on_save(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            from mathgrpo.files import share_modes
            from mathgrpo.report.card import write_model_card

            share_modes(Path(args.output_dir) / f"checkpoint-{state.global_step}")

            try:
                write_model_card(args.output_dir)
            except Exception as err:  # a card must never stop training
                log.warning("could not write the model card at step %d: %s", state.global_step, err)
        return control


@dataclass
class StartPlan:
    run_id: str
    resume_from: str | None = None
    trained: bool = False  # the checkpoint already reached the last step: only the final save may be missing
    finished: bool = False  # ... and the final model is saved: nothing to do


def saved_callback_args(state: dict, name: str) -> dict:
    """The ``args`` an ExportableState callback of class ``name`` saved in a trainer_state.json."""
    stamp = (state.get("stateful_callbacks") or {}).get(name) or {}
    if isinstance(stamp, list):  # Trainer keeps a list when several callbacks share a class
        stamp = stamp[-1] if stamp else {}
    return stamp.get("args") or {}


def checkpoint_run_id(state: dict) -> str | None:
    return saved_callback_args(state, RunIdentity.__name__).get("run_id")


def remove_incomplete(out: Path, up_to: int) -> None:
    for path in out.glob(INCOMPLETE_PREFIX + "checkpoint-*"):
        m = _INCOMPLETE.fullmatch(path.name)
        if m and int(m.group(1)) <= up_to:
            shutil.rmtree(path, ignore_errors=True)
            log.info("deleted %s: checkpoint-%d is complete", path.name, up_to)


def _set_aside(path: Path) -> None:
    aside = path.with_name(INCOMPLETE_PREFIX + path.name)
    log.warning("checkpoint %s is incomplete (interrupted save); moved aside to %s", path, aside.name)
    if aside.exists():
        shutil.rmtree(aside)
    path.replace(aside)


def complete_checkpoints(out: Path, main_process: bool = True) -> list[tuple[Path, dict]]:
    """(folder, trainer state) of every complete checkpoint, newest first; the incomplete ones are
    moved aside (by the main process only)."""
    found = []
    for path in checkpoint_dirs(out):
        state = read_json(path / STATE_FILE)
        if state is None or not isinstance(state.get("global_step"), int):
            if main_process:
                _set_aside(path)
            continue
        found.append((path, state))
    return found


def last_complete_checkpoint(output_dir: str) -> str | None:
    """The newest complete ``checkpoint-N`` of any run (incomplete ones are moved aside)."""
    root = Path(output_dir)
    found = complete_checkpoints(root) if root.is_dir() else []
    return str(found[0][0]) if found else None


def _holds_a_run(out: Path) -> list[str]:
    names = [p.name for p in checkpoint_dirs(out)] + sorted(
        p.name for p in out.glob(INCOMPLETE_PREFIX + "checkpoint-*")
    )
    if (out / RUN_FILE).is_file():
        names.append(RUN_FILE)
    return names


def clear_folder(out: Path) -> None:
    """Empty a folder that holds a run: checkpoints, final model, adapter/, completions/, report/,
    card and record alike, so nothing of the old run is mixed into (or pushed with) the new one."""
    for path in out.iterdir():
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()


def settings_changes(record: dict, args) -> list[str]:
    old = record.get("training_args") or {}
    new = args.to_dict()
    return [f"{k} {old[k]!r} -> {new.get(k)!r}" for k in COMPARED_ON_RESUME if k in old and old[k] != new.get(k)]


def plan_start(script_args, args, *, new_run_id) -> StartPlan:
    """Decide how this run starts (see the module's rules). Raises UserError in one line."""
    from accelerate import PartialState

    out = Path(args.output_dir)
    check_writable(out)
    wanted = args.resume_from_checkpoint
    auto = isinstance(wanted, str) and wanted.lower() in AUTO
    state = PartialState()  # under `accelerate launch` every rank decides alike; one changes files
    record = read_json(out / RUN_FILE) or {}

    if wanted and not auto:  # an explicit checkpoint folder: the user's choice, any run's
        path = Path(wanted)
        ckpt = read_json(path / STATE_FILE) if path.is_dir() else None
        if ckpt is None:
            raise UserError(
                f"resume_from_checkpoint {wanted} is not a complete checkpoint folder; "
                "give a checkpoint-N folder or 'auto'"
            )
        return _plan_from(ckpt, str(path), record, args, checkpoint_run_id(ckpt) or new_run_id())

    if not (script_args.resume or auto):
        held = _holds_a_run(out) if out.is_dir() else []
        if held and not script_args.overwrite_output_dir:
            raise UserError(
                f"output_dir {out} already holds a run ({', '.join(held[:3])}); continue it with --resume true, "
                "start over with --overwrite_output_dir true (deletes its checkpoints), or choose another --output_dir"
            )
        if held:
            state.wait_for_everyone()
            if state.is_main_process:
                clear_folder(out)
                log.warning("overwrite_output_dir: deleted every file of the previous run in %s", out)
            state.wait_for_everyone()
        return StartPlan(run_id=new_run_id())

    state.wait_for_everyone()
    found = complete_checkpoints(out, state.is_main_process) if out.is_dir() else []
    state.wait_for_everyone()
    run_id = record.get("run_id")
    mine = [(p, s) for p, s in found if checkpoint_run_id(s) == run_id]
    if not mine:
        if found:
            other = checkpoint_run_id(found[0][1]) or "none recorded"
            raise UserError(
                f"{out}: no checkpoint of this run (run id {run_id or 'unknown'} in {RUN_FILE}); "
                f"{found[0][0].name} belongs to run {other}. Continue it explicitly with "
                f"--resume_from_checkpoint {found[0][0]}, or start over with --overwrite_output_dir true"
            )
        if record.get("finished"):
            return StartPlan(run_id=run_id or new_run_id(), trained=True, finished=True)
        log.warning("resume asked but no complete checkpoint in %s: starting from scratch", out)
        return StartPlan(run_id=run_id or new_run_id())
    path, ckpt = mine[0]
    if state.is_main_process:
        remove_incomplete(out, up_to=ckpt["global_step"])
    return _plan_from(ckpt, str(path), record, args, run_id)


def _plan_from(ckpt: dict, path: str, record: dict, args, run_id: str) -> StartPlan:
    changes = settings_changes(record, args)
    if changes:
        log.warning(
            "resuming %s with settings that differ from the run's record: %s (the optimizer and learning-rate "
            "schedule continue from the checkpoint)",
            path,
            "; ".join(changes),
        )
    target = args.max_steps if args.max_steps and args.max_steps > 0 else ckpt.get("max_steps")
    trained = bool(target) and ckpt["global_step"] >= target
    # The record says the run ended (and saved its final model) at or after this checkpoint's step.
    # A run can end short of max_steps -- dynamic sampling's refills use its epochs up sooner -- and
    # is finished all the same, unless this command asks for a longer run.
    ended = bool(record.get("finished")) and (record.get("global_step") or -1) >= ckpt["global_step"]
    old, new = record.get("training_args") or {}, args.to_dict()
    same_length = all(old.get(k) == new.get(k) for k in ("max_steps", "num_train_epochs"))
    finished = ended and (trained or same_length)
    return StartPlan(run_id=run_id, resume_from=path, trained=trained, finished=finished)
