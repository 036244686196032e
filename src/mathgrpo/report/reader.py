"""Read back what a training run left on disk -- for the report and the model card.

Usage: ``run = load_run(Path("output/smollm2-demo")); run.history[-1]["reward"]``

Read-only and import-light on purpose: ``mathgrpo report`` must work on a run that is still
going (or died) without touching it, and imports nothing from training or evaluation. Files:

- ``trainer_state.json`` (Trainer): the log history; top level after a finished run, in each
  ``checkpoint-N/`` during one. The newest readable one wins; a half-written one is skipped.
- ``mathgrpo_run.json`` (``mathgrpo train``): model, template, data counts, rewards, hardware.
- ``completions/completions_NNNNN.parquet`` (TRL, with ``log_completions: true``).
- evaluation folders (``mathgrpo eval``'s ``summary.json``) inside the run folder or beside it.
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from mathgrpo.errors import UserError
from mathgrpo.files import COMPLETIONS_DIR, EVAL_SUMMARY, RUN_FILE, STATE_FILE, checkpoint_dirs, read_json

log = logging.getLogger(__name__)

_COMPLETIONS = re.compile(r"completions_(\d+)\.parquet$")


@dataclass
class Run:
    path: Path
    info: dict  # mathgrpo_run.json; {} when absent
    state: dict  # trainer_state.json
    state_path: Path
    notes: dict[str, str] = field(default_factory=dict)  # what is missing, and why

    @property
    def history(self) -> list[dict]:
        return self.state.get("log_history") or []

    @property
    def training_args(self) -> dict:
        return self.info.get("training_args") or {}

    @property
    def global_step(self) -> int:
        return int(self.state.get("global_step") or 0)

    @property
    def max_steps(self) -> int | None:
        return self.state.get("max_steps") or self.training_args.get("max_steps")

    @property
    def finished(self) -> bool:
        return bool(self.info.get("finished"))

    @property
    def beta(self) -> float | None:
        beta = self.training_args.get("beta")
        return float(beta) if isinstance(beta, (int, float)) else None

    def status(self) -> str:
        where = self.state_path.relative_to(self.path) if self.state_path.is_relative_to(self.path) else self.state_path
        if self.finished:
            return f"finished at step {self.global_step} (log from `{where}`)"
        total = f" of {self.max_steps}" if self.max_steps else ""
        return f"in progress or interrupted: step {self.global_step}{total} (log from `{where}`)"

    def wall_time(self) -> str | None:
        seconds = self.info.get("wall_seconds")
        if isinstance(seconds, (int, float)):
            return human_seconds(seconds)
        for entry in reversed(self.history):
            if isinstance(entry.get("train_runtime"), (int, float)):
                return human_seconds(entry["train_runtime"]) + " (training loop only)"
        steps = [e["step_time"] for e in self.history if isinstance(e.get("step_time"), (int, float))]
        if steps:
            # step_time is logged per logging step; with logging_steps > 1 this undercounts.
            return human_seconds(sum(steps)) + " so far (sum of logged step times)"
        return None


def human_seconds(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h {m:02d}m {s:02d}s" if h else f"{m}m {s:02d}s"


def newest_state(run_dir: Path) -> tuple[dict, Path] | None:
    """The readable ``trainer_state.json`` with the highest global step: the top-level one, or
    a checkpoint's while the run goes on. Never moves or deletes anything (the run may be live)."""
    candidates = [run_dir / STATE_FILE]
    candidates += [p / STATE_FILE for p in checkpoint_dirs(run_dir)]
    best: tuple[dict, Path] | None = None
    for path in candidates:
        if not path.is_file():
            continue
        state = read_json(path)
        if state is None or not isinstance(state.get("log_history"), list):
            log.warning("%s is unreadable (a save in progress?); skipped", path)
            continue
        if best is None or int(state.get("global_step") or 0) > int(best[0].get("global_step") or 0):
            best = (state, path)
    return best


def load_run(run_dir: str | Path) -> Run:
    path = Path(run_dir).expanduser()
    if not path.is_dir():
        raise UserError(f"{path} is not a folder; give the output_dir of a training run")
    found = newest_state(path)
    if found is None:
        raise UserError(
            f"no training logs in {path}: no readable {STATE_FILE} there or in a checkpoint-N/ folder "
            "(a run writes one at every save_steps; report again after the first save)"
        )
    state, state_path = found
    info = read_json(path / RUN_FILE) or {}
    run = Run(path=path.resolve(), info=info, state=state, state_path=state_path.resolve())
    if not info:
        run.notes["run record"] = (
            f"no readable {RUN_FILE} (not a `mathgrpo train` run?): model, data and rewards unknown"
        )
    elif not run.training_args:
        run.notes["hyper-parameters"] = f"{RUN_FILE} holds no training_args (written at the end of a finished run)"
    return run


# --------------------------------------------------------------------------- sample completions


def completion_files(run_dir: Path) -> list[tuple[int, Path]]:
    folder = run_dir / COMPLETIONS_DIR
    found = [(int(m.group(1)), p) for p in folder.glob("completions_*.parquet") if (m := _COMPLETIONS.search(p.name))]
    return sorted(found)


def _text(value) -> str:
    """A prompt/completion as text: plain strings as they are, conversations as their contents."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "\n".join(_text(m.get("content", "")) if isinstance(m, dict) else _text(m) for m in value)
    return "" if value is None else str(value)


def read_completions(path: Path, reward_funcs: list[str], weights: list[float]) -> list[dict]:
    """Rows of one TRL completions file with the weighted total reward added.

    TRL writes ``step, prompt, completion, <one column per reward function>, <extras>,
    advantage``; reward columns are matched by name, and the total is TRL's own: the weighted
    sum over functions, a None (NaN) reward counting as 0."""
    import pyarrow.parquet as pq
    import pyarrow.types as pat

    table = pq.read_table(path)
    names = [n for n in reward_funcs if n in table.column_names]
    if not names:  # not a mathgrpo run: every numeric column between completion and advantage
        cols = table.column_names
        lo = cols.index("completion") + 1 if "completion" in cols else 0
        hi = cols.index("advantage") if "advantage" in cols else len(cols)
        names = [
            c
            for c in cols[lo:hi]
            if pat.is_floating(table.schema.field(c).type) or pat.is_integer(table.schema.field(c).type)
        ]
    aligned = len(weights) == len(reward_funcs)
    weight = {n: (weights[reward_funcs.index(n)] if n in reward_funcs and aligned else 1.0) for n in names}
    rows = []
    for row in table.to_pylist():
        rewards = {n: row.get(n) for n in names}
        total = sum(weight[n] * v for n, v in rewards.items() if isinstance(v, (int, float)) and math.isfinite(v))
        rows.append(
            {
                "step": row.get("step"),
                "total_reward": total,
                "rewards": rewards,
                "advantage": row.get("advantage"),
                "prompt": _text(row.get("prompt")),
                "completion": _text(row.get("completion")),
            }
        )
    return rows


def pick_samples(run: Run, per_side: int = 2) -> tuple[list[dict], str | None]:
    """Best and worst completions by total reward at the first and the last logged step.

    Returns (samples, None) or ([], why there are none)."""
    files = completion_files(run.path)
    if not files:
        return [], (
            f"no {COMPLETIONS_DIR}/ folder: set `log_completions: true` in the recipe "
            "(TRL then writes each logging step's completions there)"
        )
    funcs = run.info.get("reward_funcs") or []
    weights = run.info.get("reward_weights") or []
    phases = [("start", files[0])] + ([("end", files[-1])] if len(files) > 1 else [])
    picked = []
    for phase, (step, path) in phases:
        try:
            rows = read_completions(path, funcs, weights)
        except Exception as err:  # a file being written right now, or damaged
            log.warning("could not read %s: %s", path, err)
            continue
        rows.sort(key=lambda r: r["total_reward"], reverse=True)
        best = rows[:per_side]
        worst = rows[max(per_side, len(rows) - per_side) :]
        picked += [{"phase": phase, "rank": "best", **r} for r in best]
        picked += [{"phase": phase, "rank": "worst", **r} for r in reversed(worst)]
    if not picked:
        return [], f"the files in {COMPLETIONS_DIR}/ could not be read"
    return picked, None


# --------------------------------------------------------------------------- evaluations


def _is_inside(path: Path, folder: Path) -> bool:
    try:
        return path.resolve() == folder or path.resolve().is_relative_to(folder)
    except OSError:
        return False


def eval_role(summary: dict, run: Run) -> str | None:
    """``trained`` (the run's own model or a checkpoint of it), ``base`` (the model it started
    from), or None. ``mathgrpo eval`` records local models as absolute paths."""
    model = str((summary.get("settings") or {}).get("model") or "")
    if not model:
        return None
    if Path(model).is_absolute() and _is_inside(Path(model), run.path):
        return "trained"
    base = str(run.info.get("model") or "")
    if base and (
        model == base or (Path(base).expanduser().exists() and Path(model) == Path(base).expanduser().resolve())
    ):
        return "base"
    return None


def find_evals(run: Run, extra: list[str | Path] = ()) -> dict[str, tuple[Path, dict]]:
    """Evaluation summaries by role: folders inside the run folder, beside it, and ``extra``.

    The newest summary wins per role; an explicit folder of neither role is kept as ``other``."""
    candidates = [p.parent for p in run.path.glob(f"*/{EVAL_SUMMARY}")]
    candidates += [p.parent for p in run.path.parent.glob(f"*/{EVAL_SUMMARY}") if p.parent.resolve() != run.path]
    explicit = [Path(e).expanduser() for e in extra]
    for folder in explicit:
        if not (folder / EVAL_SUMMARY).is_file():
            raise UserError(f"{folder / EVAL_SUMMARY} not found; give a folder written by `mathgrpo eval --output`")
    found: dict[str, tuple[float, Path, dict]] = {}
    for folder in [*candidates, *explicit]:
        summary = read_json(folder / EVAL_SUMMARY)
        if not summary or not isinstance(summary.get("benchmarks"), dict):
            continue
        role = eval_role(summary, run) or ("other" if folder in explicit else None)
        if role is None:
            continue
        mtime = (folder / EVAL_SUMMARY).stat().st_mtime
        if role not in found or mtime > found[role][0]:
            found[role] = (mtime, folder.resolve(), summary)
    return {role: (folder, summary) for role, (_, folder, summary) in found.items()}
