"""DAPO's dynamic sampling on TRL: train only on groups whose rewards disagree.

Usage: ``dynamic_sampling: true`` in a recipe (``max_resample_rounds``, ``dynamic_sampling_oversample``);
``mathgrpo train`` then builds :class:`DynamicSamplingTrainer` instead of ``GRPOTrainer``.

A group whose completions all got the same reward has zero advantage: it teaches nothing, yet with a
token-level loss its tokens still count in the loss's denominator and dilute every real gradient.
DAPO (Yu et al. 2025, section 3.2) drops such groups and samples more prompts until the batch is
full. Here, after TRL generates and scores a generation batch (``_generate_and_score_completions``):

1. every group (``num_generations`` rows, never split across processes: checked at start) whose
   advantages are all zero is set aside;
2. while a process is short of groups with a signal, *every* process draws fresh prompts from the
   training data (a seeded stream whose position is saved in each checkpoint), generates and scores
   them, and keeps the new groups with a signal -- all ranks run the same rounds and collectives;
3. after ``max_resample_rounds`` rounds the rest of the batch is filled with groups without a signal
   (logged as ``dynamic/filled_without_signal``);
4. the batch is cut to exactly its size in whole groups, re-padded, and ``num_items_in_batch`` (the
   token count the loss divides by) is recomputed over the rows that are trained.

Each round generates ``dynamic_sampling_oversample`` times the groups still needed (DAPO generates
3x its training batch per round). Logged per step: ``dynamic/rounds``, ``dynamic/groups_kept``,
``dynamic/prompts_drawn``, ``dynamic/filled_without_signal``, and ``dynamic/zero_signal_trained``,
the share of trained groups without a signal (0 when the refills succeed).

Departures from DAPO: TRL's advantages are computed per generation round, so a group's advantage
uses its own round's statistics (identical for ``scale_rewards: group`` and ``none``, DAPO's and
Dr. GRPO's settings; with ``batch`` the std is the round's). Multimodal prompts and tools are not
supported with dynamic sampling.
"""

from __future__ import annotations

import logging
import math

import torch
from transformers import TrainerCallback
from transformers.trainer_callback import ExportableState

from mathgrpo.errors import UserError
from mathgrpo.train.trainer import Trainer

log = logging.getLogger(__name__)

# Per-row tensors and how to pad them when groups from different rounds are joined.
LEFT_PADDED = {"prompt_ids": "pad", "prompt_mask": 0}
RIGHT_PADDED = {"completion_ids": "pad", "completion_mask": 0, "old_per_token_logps": 0.0,
                "ref_per_token_logps": 0.0, "sampling_per_token_logps": 0.0, "tool_mask": 1,
                "importance_sampling_ratio": 1.0}  # fmt: skip
SUPPORTED = {*LEFT_PADDED, *RIGHT_PADDED, "advantages", "num_items_in_batch"}


class RefillStream(TrainerCallback, ExportableState):
    """The prompts refills draw: the training set in a seeded order, one permutation per pass, the
    same on every process (each takes its own slice). Its position is saved in every checkpoint
    (Trainer stores ExportableState callbacks in trainer_state.json), so a resumed run draws on."""

    def __init__(self, seed: int = 0, drawn: int = 0) -> None:
        self.seed, self.drawn = seed, drawn

    def state(self) -> dict:
        return {"args": {"seed": self.seed, "drawn": self.drawn}, "attributes": {}}

    def take(self, size: int, count: int) -> list[int]:
        """The next ``count`` dataset indices of a dataset of ``size`` rows."""
        out = []
        while len(out) < count:
            epoch, offset = divmod(self.drawn, size)
            order = torch.randperm(size, generator=torch.Generator().manual_seed(self.seed * 1_000_003 + epoch))
            chunk = order[offset : offset + count - len(out)].tolist()
            out += chunk
            self.drawn += len(chunk)
        return out


def check_dynamic_sampling(args, max_resample_rounds: int = 10, oversample: float = 1.0) -> None:
    """Every check on the dynamic-sampling fields, in one place (``mathgrpo train`` runs it before
    loading anything; the trainer runs it for direct callers). Dynamic sampling filters groups
    process by process, so a group must not straddle two processes."""
    if max_resample_rounds < 1:
        raise UserError(f"max_resample_rounds must be at least 1 (got {max_resample_rounds})")
    if oversample < 1:
        raise UserError(f"dynamic_sampling_oversample must be at least 1 (got {oversample})")
    local = args.per_device_train_batch_size * args.steps_per_generation
    if local % args.num_generations:
        raise UserError(
            f"dynamic_sampling needs whole groups on each process: per_device_train_batch_size x "
            f"steps_per_generation = {local} is not a multiple of num_generations={args.num_generations}; "
            "change one of them"
        )


def restored_refill(seed: int, checkpoint: str | None) -> RefillStream:
    """The refill stream, at the position saved in ``checkpoint`` (a fresh one without)."""
    from pathlib import Path

    from mathgrpo.files import STATE_FILE, read_json

    state = read_json(Path(checkpoint) / STATE_FILE) if checkpoint else None
    saved = ((state or {}).get("stateful_callbacks") or {}).get(RefillStream.__name__) or {}
    if isinstance(saved, list):
        saved = saved[-1] if saved else {}
    return RefillStream(**{"seed": seed, **(saved.get("args") or {})})


class DynamicSamplingTrainer(Trainer):
    """GRPOTrainer whose training batches hold only groups with a signal (see the module docstring)."""

    def __init__(self, *args, max_resample_rounds: int = 10, oversample: float = 1.0, refill: RefillStream, **kwargs):
        super().__init__(*args, **kwargs)
        check_dynamic_sampling(self.args, max_resample_rounds, oversample)
        self.max_resample_rounds, self.oversample, self.refill = max_resample_rounds, oversample, refill

    # -- the round loop ----------------------------------------------------------------------
    def _generate_and_score_completions(self, inputs):
        if not self.model.training:
            return super()._generate_and_score_completions(inputs)
        size, quota = self.num_generations, len(inputs) // self.num_generations
        rows = list(inputs) + self._draw(math.ceil(quota * (self.oversample - 1)))
        signal: list[dict] = []
        silent: list[dict] = []
        rounds = drawn = 0
        while True:
            rounds += 1
            out = super()._generate_and_score_completions(rows)
            unknown = set(out) - SUPPORTED
            if unknown:
                raise UserError(f"dynamic_sampling does not support batches with {sorted(unknown)} (images, tools)")
            for group in self._groups(out, len(rows) // size):
                (signal if group["advantages"].abs().sum() > 0 else silent).append(group)
            short = torch.tensor([max(0, quota - len(signal))], device=self.accelerator.device)
            short = int(self.accelerator.gather(short).max().item())
            if short == 0 or rounds >= self.max_resample_rounds:
                break
            count = math.ceil(short * self.oversample)
            rows = self._draw(count)
            drawn += count
        picked = signal[:quota]
        filled = quota - len(picked)
        picked += silent[:filled]
        batch = self._join(picked)
        mask = batch["completion_mask"] if "tool_mask" not in batch else batch["completion_mask"] * batch["tool_mask"]
        batch["num_items_in_batch"] = self.accelerator.gather(mask.sum()).sum()
        self._log_rounds(rounds, len(signal), drawn, filled, quota)
        return batch

    def _draw(self, groups: int) -> list[dict]:
        """``groups`` fresh prompts for this process, each repeated ``num_generations`` times."""
        if groups <= 0:
            return []
        n = self.accelerator.num_processes
        indices = self.refill.take(len(self.train_dataset), groups * n)
        mine = indices[self.accelerator.process_index * groups : (self.accelerator.process_index + 1) * groups]
        return [dict(self.train_dataset[i]) for i in mine for _ in range(self.num_generations)]

    def _groups(self, out: dict, count: int) -> list[dict]:
        size = self.num_generations
        return [{k: v[g * size : (g + 1) * size] for k, v in out.items() if k != "num_items_in_batch"}
                for g in range(count)]  # fmt: skip

    def _join(self, groups: list[dict]) -> dict:
        """Concatenate groups from different rounds, re-padding each tensor to the widest."""
        pad_id = self._tokenizer.pad_token_id
        joined = {}
        for key in groups[0]:
            parts = [g[key] for g in groups]
            if parts[0].dim() == 2 and len({p.size(1) for p in parts}) > 1:
                width = max(p.size(1) for p in parts)
                fill = LEFT_PADDED.get(key, RIGHT_PADDED.get(key, 0))
                fill = pad_id if fill == "pad" else fill
                left = key in LEFT_PADDED
                pads = [(width - p.size(1), 0) if left else (0, width - p.size(1)) for p in parts]
                parts = [torch.nn.functional.pad(p, pad, value=fill) for p, pad in zip(parts, pads)]
            joined[key] = torch.cat(parts, dim=0)
        return joined

    def _log_rounds(self, rounds: int, kept: int, drawn: int, filled: int, quota: int) -> None:
        device = self.accelerator.device
        totals = self.accelerator.gather(torch.tensor([kept, drawn, filled, quota], device=device).unsqueeze(0))
        kept_all, drawn_all, filled_all, quota_all = totals.sum(dim=0).tolist()
        metrics = self._metrics["train"]
        metrics["dynamic/rounds"].append(float(rounds))
        metrics["dynamic/groups_kept"].append(float(kept_all))
        metrics["dynamic/prompts_drawn"].append(float(drawn_all))
        metrics["dynamic/filled_without_signal"].append(float(filled_all))
        metrics["dynamic/zero_signal_trained"].append(filled_all / max(quota_all, 1))
        if filled_all and self.accelerator.is_main_process:
            log.warning("dynamic sampling: %d of %d groups have no signal after %d rounds (max_resample_rounds); "
                        "trained with them", filled_all, quota_all, rounds)  # fmt: skip
