"""What a training run prints: one readable line per logged step, and no warning a user cannot act on.

Usage: ``quiet_console(trainer)`` once the trainer is built.

Transformers prints every logged metric as one long dict per step and TRL a table of sample
completions (those go to ``output_dir/completions/`` and the report instead); transformers also
warns on every step about renamed attributes its own code calls. A step here is one line:
``step 3/10  reward 0.62  accuracy 0.62  length 41  no signal 0%  9.8 s/step  ETA 1m 10s``.
"""

from __future__ import annotations

import logging
import warnings

from transformers.trainer_callback import PrinterCallback, ProgressCallback

from mathgrpo.report.reader import human_seconds

# transformers' own deprecation notices about names it calls itself (nothing a user can change).
NOISE = (
    r".*is_gradient_checkpointing.*deprecated",
    r".*gradient_checkpointing.*deprecated",
    r".*gradient_checkpointing_enable.*deprecated",
    r".*torch\.jit\.script_method.*deprecated",
)


def silence_noise() -> None:
    """transformers' per-call progress bars (loading weights, writing shards) and its self-inflicted
    deprecation warnings; the training progress bar (tqdm, StepLine) stays."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    for pattern in NOISE:
        warnings.filterwarnings("ignore", message=pattern, category=FutureWarning)
        warnings.filterwarnings("ignore", message=pattern, category=DeprecationWarning)


def step_line(logs: dict, step: int, max_steps: int, seconds_per_step: float | None) -> str | None:
    """The one line of a training log entry (None for entries that are not a step's metrics)."""
    if "reward" not in logs:
        return None
    parts = [f"step {step}/{max_steps}", f"reward {logs['reward']:.3g}"]
    for key, value in logs.items():  # every reward the run uses, by its registry name, in recipe order
        if key.startswith("rewards/") and key.endswith("/mean") and isinstance(value, float):
            parts.append(f"{key[len('rewards/') : -len('/mean')]} {value:.2f}")
    if isinstance(logs.get("completions/mean_length"), float):
        parts.append(f"length {logs['completions/mean_length']:.0f}")
    if isinstance(logs.get("frac_reward_zero_std"), float):
        parts.append(f"no signal {logs['frac_reward_zero_std']:.0%}")
    if isinstance(logs.get("dynamic/rounds"), float):
        parts.append(f"rounds {logs['dynamic/rounds']:.0f}")
    if seconds_per_step:
        parts.append(f"{seconds_per_step:.1f} s/step")
        if max_steps > step:
            parts.append(f"ETA {human_seconds(seconds_per_step * (max_steps - step))}")
    return "  ".join(parts)


class StepLine(ProgressCallback):
    """transformers' progress bar, with one line per logged step instead of the metrics dict."""

    def __init__(self) -> None:
        super().__init__()
        self.times: list[float] = []

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero or self.training_bar is None or not logs:
            return
        if isinstance(logs.get("step_time"), float):
            self.times.append(logs["step_time"])
        recent = self.times[-10:]
        line = step_line(logs, state.global_step, state.max_steps, sum(recent) / len(recent) if recent else None)
        if line:
            self.training_bar.write(line)
        elif "train_runtime" in logs:
            self.training_bar.write(f"trained {state.global_step} steps in {human_seconds(logs['train_runtime'])}")
        elif any(k.startswith("eval_") for k in logs):
            shown = {k: f"{v:.3g}" for k, v in logs.items() if k.startswith("eval_") and isinstance(v, float)}
            self.training_bar.write("eval: " + "  ".join(f"{k[5:]} {v}" for k, v in list(shown.items())[:6]))


def quiet_console(trainer) -> None:
    """Replace transformers' per-step metrics dict with :class:`StepLine` and silence the noise."""
    silence_noise()
    if any(isinstance(cb, (ProgressCallback, PrinterCallback)) for cb in trainer.callback_handler.callbacks):
        trainer.remove_callback(ProgressCallback)
        trainer.remove_callback(PrinterCallback)
        if not trainer.args.disable_tqdm:
            trainer.add_callback(StepLine())
        else:
            trainer.add_callback(_PlainLines())


class _PlainLines(PrinterCallback):
    """With ``disable_tqdm``: the same one line per step, through logging."""

    def on_log(self, args, state, control, logs=None, **kwargs):
        line = step_line(logs or {}, state.global_step, state.max_steps, (logs or {}).get("step_time"))
        if state.is_world_process_zero and line:
            logging.getLogger("mathgrpo.train.run").info(line)
