"""mathgrpo's GRPOTrainer: TRL's, composed of features, with samples of unknown correctness left out of
the loss for real, and sample completions kept on disk instead of printed.

Usage: ``Trainer(model=..., reward_funcs=..., args=..., print_completions=0)``; ``mathgrpo train`` builds
``trainer_class(script_args, args)`` (train/features.py), which adds the features a recipe asks for.

Features compose, they do not inherit from one another: each is a mixin overriding TRL hooks and
calling ``super()``, and :func:`compose` stacks the ones a run uses on :class:`TrainerBase` (the shared
mechanics: the rewards of the batch being scored, the loss's token recount). A new feature is one mixin
and one row of train/features.py.

Departures from GRPO as TRL implements it (each in the feature named):
- ``UnknownSamplesOut``: a sample of unknown correctness is taken out of the loss mask, not only its
  advantage (TRL's handling of an all-None row), so it weighs nothing in the token-level denominators.
- ``VllmCorrectionShare``: only logs (the share of ratios TRL capped or zeroed); the loss is TRL's.
- dynamic sampling (train/dynamic.py) lists its own departures from DAPO.

Unknown correctness. Our rewards return None for a sample whose gold could not be graded in time
(``grading/unknown``). TRL 1.16 zeroes the advantage of a row for which *every* reward returned None,
but keeps its tokens in the loss mask: they still count in the ``dapo``/``bnpo`` denominators and take
the KL term when ``beta > 0``. Here such rows are also removed from ``completion_mask`` (as TRL
itself does for truncated completions with ``mask_truncated_completions``) and ``num_items_in_batch``
is recounted, so an unknown sample weighs exactly nothing.

Completions. With ``log_completions: true`` TRL writes each logging step's completions to
``output_dir/completions/`` (what ``mathgrpo report`` shows) and, since TRL 1.x, also prints them as a
table of ``num_completions_to_print`` rows. Here that count comes from the recipe's
``print_completions`` (default 0: nothing printed), through TRL's own field.

vLLM's correction. With ``use_vllm`` TRL weighs the loss by the trainer/vLLM probability ratio
and logs its min/mean/max; here the share of samples (or tokens) whose ratio was capped or zeroed
is logged too, as ``is_correction/capped_or_masked`` (``mathgrpo report`` plots both).
"""

from __future__ import annotations

import torch
from trl import GRPOTrainer


class TrainerBase(GRPOTrainer):
    """What every feature may use: the rewards of the batch being scored and the token recount."""

    def __init__(self, *args, print_completions: int = 0, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # TRL prints nothing for a count <= 0 (tests/test_trl_contract.py holds it to that).
        self.num_completions_to_print = self.print_completions = print_completions
        self._last_rewards: torch.Tensor | None = None

    # -- rewards of the batch being scored, kept for the hooks below ---------------------------
    def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):
        rewards = super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)
        self._last_rewards = rewards  # (rows of every process, reward functions), NaN where None
        return rewards

    def local_rewards(self, rows: int) -> torch.Tensor:
        """This process's rows of the rewards TRL just computed (TRL gathers them across processes)."""
        start = self.accelerator.process_index * rows
        return self._last_rewards[start : start + rows]

    def recount_items(self, batch: dict) -> dict:
        """``num_items_in_batch`` (the token count the dapo/bnpo losses divide by) over every process,
        recounted from the batch's loss mask as TRL counts it."""
        mask = batch["completion_mask"] if "tool_mask" not in batch else batch["completion_mask"] * batch["tool_mask"]
        batch["num_items_in_batch"] = self.accelerator.gather(mask.sum()).sum()
        return batch


class VllmCorrectionShare:
    """Feature: log how much of a vLLM batch TRL's importance-sampling correction capped or zeroed."""

    def _generate_and_score_completions(self, inputs):
        out = super()._generate_and_score_completions(inputs)
        if "importance_sampling_ratio" in out:
            self.log_corrected_share(out)
        return out

    def log_corrected_share(self, out: dict) -> None:
        """Log ``is_correction/capped_or_masked``: the share of the samples (sequence modes) or tokens
        (token modes) whose vLLM importance ratio TRL capped or zeroed. TRL logs the ratios'
        min/mean/max (``sampling/importance_sampling_ratio/*``) but not how many hit a bound."""
        args = self.args
        share = corrected_share(
            out["importance_sampling_ratio"],
            out["completion_mask"],
            args.vllm_importance_sampling_mode,
            args.vllm_importance_sampling_clip_min,
            args.vllm_importance_sampling_clip_max,
        )
        counts = self.accelerator.gather(torch.stack(share).to(self.accelerator.device).unsqueeze(0)).sum(dim=0)
        if counts[1] > 0:
            mode = "train" if self.model.training else "eval"
            self._metrics[mode]["is_correction/capped_or_masked"].append((counts[0] / counts[1]).item())


class UnknownSamplesOut:
    """Feature: a sample whose every reward is None (unknown correctness) weighs nothing in the loss."""

    def _generate_and_score_completions(self, inputs):
        return self.leave_out_unknown(super()._generate_and_score_completions(inputs))

    def leave_out_unknown(self, out: dict) -> dict:
        """Remove rows whose every reward is None from the loss mask and recount its token total."""
        if self._last_rewards is None:
            return out
        unknown_anywhere = torch.isnan(self._last_rewards).all(dim=1)
        if not bool(unknown_anywhere.any()):  # the same answer on every process: rewards are gathered
            return out
        rows = out["completion_mask"].size(0)
        known = (~torch.isnan(self.local_rewards(rows)).all(dim=1)).to(out["completion_mask"].dtype).unsqueeze(1)
        out["completion_mask"] = out["completion_mask"] * known
        if "tool_mask" in out:
            out["tool_mask"] = out["tool_mask"] * known
        return self.recount_items(out)


def compose(*features: type) -> type:
    """One trainer class: ``features`` (outermost first: each one's ``super()`` runs those after it) on
    :class:`TrainerBase`. Its ``features`` attribute names them, for logs and tests."""
    name = "Trainer" + "".join(f"+{f.__name__}" for f in features)
    return type(name, (*features, TrainerBase), {"features": tuple(f.__name__ for f in features)})


# The trainer every run has (tests and direct callers use it as TRL's GRPOTrainer).
Trainer = compose(UnknownSamplesOut, VllmCorrectionShare)


def corrected_share(ratio: torch.Tensor, completion_mask: torch.Tensor, mode: str, clip_min, clip_max):
    """(corrected, counted) for one batch of TRL's vLLM importance ratios: ``*_mask`` modes zero a
    ratio outside [clip_min, clip_max], ``*_truncate`` modes clamp it to a bound. Sequence modes
    (one ratio per row) count rows with a completion token, token modes count completion tokens."""
    if mode.endswith("_mask"):
        hit = ratio == 0
    else:
        hit = torch.zeros_like(ratio, dtype=torch.bool)
        if clip_max is not None:
            hit |= ratio >= clip_max
        if clip_min is not None:
            hit |= ratio <= clip_min
    counted = completion_mask.sum(dim=1, keepdim=True) > 0 if mode.startswith("sequence") else completion_mask.bool()
    hit = hit & counted
    return hit.sum().float(), counted.sum().float()
