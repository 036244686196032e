"""DAPO's dynamic sampling on TRL: train only on groups whose accuracy disagrees.

Usage: ``dynamic_sampling: true`` in a recipe (``dynamic_sampling_metric``, ``max_resample_rounds``,
``dynamic_sampling_oversample``); ``mathgrpo train`` then builds :class:`DynamicSamplingTrainer`.

A group whose completions are all right or all wrong teaches nothing about correctness, yet with a
token-level loss its tokens still count in the loss's denominator and dilute every real gradient.
DAPO (Yu et al. 2025, section 3.2; verl's ``filter_groups.metric: acc``) drops such groups and samples
more prompts until the batch is full. Here, after TRL generates and scores a generation batch
(``_generate_and_score_completions``):

1. every group (``num_generations`` rows, never split across processes: checked at start) is judged
   on ``dynamic_sampling_metric`` -- by default the ``accuracy`` reward, as DAPO; any reward name, or
   ``reward`` for the weighted total TRL trains on. A group has no signal when that metric's std over
   the group is zero as TRL decides it (``torch.isclose(std, 0)``, TRL's nan-aware std), or when fewer
   than two of its samples have a known value (unknown correctness is None). With DAPO's
   ``[accuracy, soft_overlong]`` an all-wrong group that differs only in length is therefore dropped;
2. while a process is short of groups with a signal, *every* process draws fresh prompts from the
   same epoch the dataloader walks (:class:`EpochPool`: the dataloader takes prompts from the front
   of the epoch's order, refills from the back, so no prompt repeats within an epoch and the epoch
   ends when its prompts are used up, as in verl), generates and scores them, and keeps the new
   groups with a signal -- all ranks run the same rounds and collectives;
3. after ``max_resample_rounds`` rounds, or when the epoch has no prompts left, the rest of the batch
   is filled with groups without a signal (logged as ``dynamic/filled_without_signal``);
4. the batch is cut to exactly its size in whole groups, re-padded, and ``num_items_in_batch`` (the
   token count the loss divides by) is recomputed over the rows that are trained.

Each round generates ``dynamic_sampling_oversample`` times the groups still needed (DAPO generates
3x its training batch per round). Logged per step: ``dynamic/rounds``, ``dynamic/groups_kept``,
``dynamic/prompts_drawn`` (every prompt generated beyond the dataloader's own: the first round's
oversample and all refills), ``dynamic/filled_without_signal``, and ``dynamic/zero_signal_trained``,
the share of trained groups without a signal (0 when the refills succeed).

Departures from DAPO/verl: TRL's advantages are computed per generation round, so a group's
advantage uses its own round's statistics (identical for ``scale_rewards: group`` and ``none``,
DAPO's and Dr. GRPO's settings; with ``batch`` the std is the round's). When the epoch's prompts run
out mid-batch, verl discards the partial batch; here the step is completed with groups without a
signal and the epoch ends at the next step. An epoch therefore has fewer optimizer steps than the
plain count (the progress bar's total and a ``max_steps``-derived schedule are upper bounds), so on
resume Trainer's own arithmetic (``global_step // len(dataloader)`` epochs trained) is wrong after the
first epoch: the checkpoint records the epoch and the step it began at, and
:meth:`DynamicSamplingTrainer._init_training_state` resumes from those.
Multimodal prompts, tools and iterable datasets are not supported with dynamic sampling.
"""

from __future__ import annotations

import logging
import math

import torch
from transformers import TrainerCallback
from transformers.trainer_callback import ExportableState

from mathgrpo.errors import UserError
from mathgrpo.train.trainer import UnknownSamplesOut, VllmCorrectionShare, compose

log = logging.getLogger(__name__)

# Per-row tensors and how to pad them when groups from different rounds are joined.
LEFT_PADDED = {"prompt_ids": "pad", "prompt_mask": 0}
RIGHT_PADDED = {
    "completion_ids": "pad",
    "completion_mask": 0,
    "old_per_token_logps": 0.0,
    "ref_per_token_logps": 0.0,
    "sampling_per_token_logps": 0.0,
    "tool_mask": 1,
    "importance_sampling_ratio": 1.0,
}
SUPPORTED = {*LEFT_PADDED, *RIGHT_PADDED, "advantages", "num_items_in_batch"}


class EpochPool(TrainerCallback, ExportableState):
    """One epoch's prompts, shared by the dataloader's sampler and the refills: the epoch's order is a
    seeded permutation (the same on every process); the sampler takes chunks from its front, refills
    take from its back, and the epoch is over when the two meet. Checkpoints hold the epoch, the
    refills' count and ``first_step``, the global step the epoch began at (Trainer stores
    ExportableState callbacks in trainer_state.json): on resume the Trainer replays the sampler's
    batches of this epoch up to the checkpoint, which retakes the front exactly as before."""

    def __init__(self, seed: int = 0, epoch: int = 0, taken: int = 0, shuffle: bool = True, first_step: int = 0):
        self.seed, self.epoch, self.taken, self.shuffle, self.first_step = seed, epoch, taken, shuffle, first_step
        self.served = 0  # prompts the sampler has taken from the front this epoch (rebuilt on resume)
        self.size = 0
        self._order: list[int] | None = None
        self._step_now = first_step  # the global step at the last on_epoch_begin

    def state(self) -> dict:
        args = {"seed": self.seed, "epoch": self.epoch, "taken": self.taken, "first_step": self.first_step}
        return {"args": args, "attributes": {}}

    def on_epoch_begin(self, args, state, control, **kwargs):
        self._step_now = state.global_step  # the dataloader starts the epoch right after this
        return control

    def start(self, size: int, epoch: int) -> None:
        """Begin ``epoch`` over ``size`` prompts (keeps the refills' count when resuming that epoch)."""
        if epoch != self.epoch:
            self.epoch, self.taken, self.first_step = epoch, 0, self._step_now
        self.size, self.served, self._order = size, 0, None

    def restore(self, saved: dict) -> None:
        """Take the epoch, refills and first step saved in a checkpoint (``state()['args']``)."""
        self.epoch, self.taken = int(saved.get("epoch", 0)), int(saved.get("taken", 0))
        self.first_step = self._step_now = int(saved.get("first_step", 0))

    def order(self) -> list[int]:
        if self._order is None:
            if self.shuffle:
                gen = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
                self._order = torch.randperm(self.size, generator=gen).tolist()
            else:
                self._order = list(range(self.size))
        return self._order

    def left(self) -> int:
        return max(0, self.size - self.served - self.taken)

    def front(self, count: int) -> list[int] | None:
        """The sampler's next ``count`` prompts, or None when fewer are left (the epoch ends)."""
        if self.left() < count:
            return None
        out = self.order()[self.served : self.served + count]
        self.served += count
        return out

    def back(self, count: int) -> list[int]:
        """Up to ``count`` refill prompts, from the back of the epoch's order."""
        count = min(count, self.left())
        end = self.size - self.taken
        self.taken += count
        return self.order()[end - count : end][::-1]


class EpochSampler(torch.utils.data.Sampler):
    """TRL's RepeatSampler (each chunk of unique prompts repeated for the generations and the
    iterations that reuse it), drawing its chunks from an :class:`EpochPool`."""

    def __init__(self, pool: EpochPool, size: int, batch_size: int, mini_repeat_count: int, repeat_count: int):
        self.pool, self.size = pool, size
        self.batch_size, self.mini_repeat_count, self.repeat_count = batch_size, mini_repeat_count, repeat_count
        self._epoch: int | None = None  # set by set_epoch (the Trainer calls it before each epoch)
        self._iterated = False

    def set_epoch(self, epoch: int) -> None:
        self._epoch = epoch

    def __iter__(self):
        if self._epoch is None:  # no set_epoch reached us: count epochs ourselves
            epoch = self.pool.epoch + 1 if self._iterated else self.pool.epoch
        else:
            epoch, self._epoch = self._epoch, None
        self._iterated = True
        self.pool.start(self.size, epoch)
        while (chunk := self.pool.front(self.batch_size)) is not None:
            for _ in range(self.repeat_count):
                for index in chunk:
                    for _ in range(self.mini_repeat_count):
                        yield index

    def __len__(self) -> int:  # an upper bound: refills end an epoch early
        return (self.size // self.batch_size) * self.batch_size * self.mini_repeat_count * self.repeat_count


TOTAL = "reward"  # dynamic_sampling_metric for the weighted total reward TRL trains on


def check_dynamic_sampling(
    args, max_resample_rounds: int = 10, oversample: float = 1.0, metric: str = "accuracy", rewards=None
) -> None:
    """Every check on the dynamic-sampling fields, in one place (``mathgrpo train`` runs it before
    loading anything; the trainer runs it for direct callers). Dynamic sampling filters groups
    process by process, so a group must not straddle two processes."""
    if max_resample_rounds < 1:
        raise UserError(f"max_resample_rounds must be at least 1 (got {max_resample_rounds})")
    if oversample < 1:
        raise UserError(f"dynamic_sampling_oversample must be at least 1 (got {oversample})")
    if rewards is not None and metric != TOTAL and metric not in rewards:
        raise UserError(
            f"dynamic_sampling_metric {metric!r} is not one of reward_funcs ({', '.join(rewards)}); "
            f"name one of them, or {TOTAL!r} for the weighted total"
        )
    local = args.per_device_train_batch_size * args.steps_per_generation
    if local % args.num_generations:
        raise UserError(
            f"dynamic_sampling needs whole groups on each process: per_device_train_batch_size x "
            f"steps_per_generation = {local} is not a multiple of num_generations={args.num_generations}; "
            "change one of them"
        )


def restored_pool(seed: int, checkpoint: str | None, shuffle: bool = True) -> EpochPool:
    """The epoch pool, at the epoch and refill count saved in ``checkpoint`` (a fresh one without)."""
    from pathlib import Path

    from mathgrpo.files import STATE_FILE, read_json
    from mathgrpo.train.resume import saved_callback_args

    state = read_json(Path(checkpoint) / STATE_FILE) if checkpoint else None
    return EpochPool(**{"seed": seed, "shuffle": shuffle, **saved_callback_args(state or {}, EpochPool.__name__)})


class DynamicSampling:
    """Feature: training batches hold only groups with a signal (see the module docstring). Needs
    TrainerBase's ``local_rewards`` and ``recount_items``; each round's ``super()`` call runs the
    features after it (unknown samples out of the mask, the vLLM share) on that round's batch."""

    @staticmethod
    def trainer_kwargs(script_args, args, resume_from: str | None) -> dict:
        """The options this feature takes from a recipe, and its pool restored from the checkpoint."""
        return {
            "max_resample_rounds": script_args.max_resample_rounds,
            "oversample": script_args.dynamic_sampling_oversample,
            "metric": script_args.dynamic_sampling_metric,
            "pool": restored_pool(args.seed, resume_from),
        }

    def __init__(
        self,
        *args,
        max_resample_rounds: int = 10,
        oversample: float = 1.0,
        metric: str = "accuracy",
        pool: EpochPool | None = None,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        if isinstance(self.train_dataset, torch.utils.data.IterableDataset):
            raise UserError("dynamic_sampling needs an indexable dataset (refills draw prompts by index), not a stream")
        check_dynamic_sampling(self.args, max_resample_rounds, oversample, metric, self.reward_func_names)
        self.max_resample_rounds, self.oversample, self.metric = max_resample_rounds, oversample, metric
        self.pool = pool if pool is not None else EpochPool(seed=self.args.seed)
        self.pool.shuffle = self.shuffle_dataset
        if self.pool not in self.callback_handler.callbacks:  # it saves its state and learns each epoch's step
            self.add_callback(self.pool)

    def _init_training_state(
        self, max_steps, num_update_steps_per_epoch, num_train_epochs, resume_from_checkpoint, trial
    ):
        """Where a resumed run is in its data. Trainer derives the epochs trained from the plain epoch
        length (``global_step // num_update_steps_per_epoch``), which refills make an upper bound: after
        the first epoch it would restart an epoch already trained (and reset its pool) or replay the
        wrong batches. The checkpoint's pool knows the epoch and the step it began at."""
        epochs, skipped = super()._init_training_state(
            max_steps, num_update_steps_per_epoch, num_train_epochs, resume_from_checkpoint, trial
        )
        if resume_from_checkpoint is None or not self.state.global_step:
            return epochs, skipped
        from mathgrpo.train.resume import saved_callback_args

        saved = saved_callback_args({"stateful_callbacks": self.state.stateful_callbacks}, EpochPool.__name__)
        if not saved:  # a checkpoint of a run without dynamic sampling: Trainer's arithmetic is all there is
            return epochs, skipped
        self.pool.restore(saved)
        trained = self.state.global_step - self.pool.first_step
        return self.pool.epoch, (0 if self.args.ignore_data_skip else trained * self.args.gradient_accumulation_steps)

    def _get_train_sampler(self, dataset=None):
        # TRL's RepeatSampler layout, with chunks taken from the pool the refills share.
        dataset = self.train_dataset if dataset is None else dataset
        return EpochSampler(
            self.pool,
            len(dataset),
            batch_size=self.args.generation_batch_size // self.num_generations,
            mini_repeat_count=self.num_generations,
            repeat_count=self.num_iterations * self.args.steps_per_generation,
        )

    # -- the round loop ----------------------------------------------------------------------
    def _generate_and_score_completions(self, inputs):
        if not self.model.training:
            return super()._generate_and_score_completions(inputs)
        size, quota = self.num_generations, len(inputs) // self.num_generations
        extra = self._draw(math.ceil(quota * (self.oversample - 1)))
        rows, drawn = list(inputs) + extra, len(extra) // size
        signal: list[dict] = []
        silent: list[dict] = []
        rounds, used_up = 0, False
        while True:
            rounds += 1
            out = super()._generate_and_score_completions(rows)
            unknown = set(out) - SUPPORTED
            if unknown:
                raise UserError(f"dynamic_sampling does not support batches with {sorted(unknown)} (images, tools)")
            has_signal = self.groups_with_signal(len(rows))
            for group, keep in zip(self._groups(out, len(rows) // size), has_signal):
                (signal if keep else silent).append(group)
            short = torch.tensor([max(0, quota - len(signal))], device=self.accelerator.device)
            short = int(self.accelerator.gather(short).max().item())
            if short == 0 or rounds >= self.max_resample_rounds:
                break
            rows = self._draw(math.ceil(short * self.oversample))
            if not rows:  # the epoch's prompts are used up
                used_up = True
                break
            drawn += len(rows) // size
        picked = signal[:quota]
        filled = quota - len(picked)
        picked += silent[:filled]
        batch = self.recount_items(self._join(picked))
        self._log_rounds(rounds, len(signal), drawn, filled, quota, used_up)
        return batch

    def metric_values(self, rows: int) -> torch.Tensor:
        """This process's values of ``dynamic_sampling_metric`` for the rows just scored (NaN: unknown)."""
        rewards = self.local_rewards(rows)
        if self.metric != TOTAL:
            return rewards[:, self.reward_func_names.index(self.metric)]
        weights = self.reward_weights.to(rewards.device).unsqueeze(0)
        total = (rewards * weights).nansum(dim=1)
        total[torch.isnan(rewards).all(dim=1)] = torch.nan  # as TRL: a row with no reward at all is unknown
        return total

    def groups_with_signal(self, rows: int) -> list[bool]:
        """Per group: does the metric vary? Zero std decided as TRL decides it (isclose to 0, nan-aware
        std); a group needs two known values to vary at all."""
        from trl.trainer.utils import nanstd

        values = self.metric_values(rows).view(-1, self.num_generations)
        known = (~torch.isnan(values)).sum(dim=1)
        std = nanstd(values, dim=1)
        return [bool(k >= 2 and not torch.isclose(s, torch.zeros_like(s))) for k, s in zip(known, std)]

    def _draw(self, groups: int) -> list[dict]:
        """``groups`` fresh prompts for this process from the back of the epoch (each repeated
        ``num_generations`` times); fewer, the same number on every process, when the epoch runs low."""
        if groups <= 0:
            return []
        n = self.accelerator.num_processes
        # Every process holds the same pool; agree on what is left anyway, so no rank can draw alone.
        left = torch.tensor([self.pool.left()], device=self.accelerator.device)
        per_process = min(groups, int(self.accelerator.gather(left).min().item()) // n)
        indices = self.pool.back(per_process * n)
        rank = self.accelerator.process_index
        mine = indices[rank * per_process : (rank + 1) * per_process]
        return [dict(self.train_dataset[i]) for i in mine for _ in range(self.num_generations)]

    def _groups(self, out: dict, count: int) -> list[dict]:
        size = self.num_generations
        return [
            {k: v[g * size : (g + 1) * size] for k, v in out.items() if k != "num_items_in_batch"} for g in range(count)
        ]

    def _join(self, groups: list[dict]) -> dict:
        """Concatenate groups from different rounds, re-padding each tensor to the widest."""
        pad_id = self.processing_class.pad_token_id
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

    def _log_rounds(self, rounds: int, kept: int, drawn: int, filled: int, quota: int, used_up: bool) -> None:
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
            why = "the epoch's prompts are used up" if used_up else f"after {rounds} rounds (max_resample_rounds)"
            log.warning(
                "dynamic sampling: %d of %d groups have no signal %s; trained with them", filled_all, quota_all, why
            )


# The trainer a dynamic-sampling run gets (train/features.py composes the same), for tests and callers.
DynamicSamplingTrainer = compose(DynamicSampling, UnknownSamplesOut, VllmCorrectionShare)
