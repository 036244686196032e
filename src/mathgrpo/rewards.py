"""Reward functions with TRL's signature, and their registry.

Usage: ``funcs = build_reward_funcs(["accuracy", "format"], max_completion_length=1024)``
then ``GRPOTrainer(reward_funcs=funcs, args=GRPOConfig(reward_weights=[1.0, 0.5], ...))``.

Every function takes ``(completions, **kwargs)`` and returns one float (or None) per completion,
as TRL's ``GRPOTrainer._calculate_rewards`` expects. TRL logs each one as ``rewards/<__name__>/mean``,
so the functions are named exactly ``accuracy``, ``format`` and ``soft_overlong``.

Weights are *not* applied here: the recipe passes them to TRL (``GRPOConfig.reward_weights``).
The raw values are 1.0 / 0.0 for ``accuracy`` and for ``format``; with the seed recipe's weights
(accuracy 1.0, format 0.5) a correct, well-formatted completion earns 1.0 + 0.5 -- the issue's
"+0.5 for format" is the weight times the raw 1.0, never 0.5 x 0.5.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from mathgrpo.errors import UserError
from mathgrpo.grading import Grader, completion_text, count_boxes, default_grader, extract_boxed

logger = logging.getLogger(__name__)

RewardFunc = Callable[..., list]

# The weights the seed recipe uses; `mathgrpo grade` reports rewards with these.
DEFAULT_WEIGHTS: dict[str, float] = {"accuracy": 1.0, "format": 0.5, "soft_overlong": 1.0}

# A box sprayed after the reasoning does not earn the format reward: one final answer, perhaps
# restated once ("\boxed{5} ... so the answer is \boxed{5}"), is the most we allow.
MAX_BOXES_AFTER_THINK = 2


def _log(log_metric, name: str, value: float) -> None:
    """TRL >= 1.16 passes ``log_metric``; older versions and direct callers do not."""
    if callable(log_metric):
        try:
            log_metric(name, float(value))
        except Exception:  # a logging hiccup must never cost a reward
            logger.debug("log_metric(%s) failed", name, exc_info=True)


def _answers(kwargs: dict, n: int) -> list:
    if "answer" not in kwargs:
        raise UserError(
            "reward 'accuracy' needs the dataset column 'answer' (gold answers); "
            "prepare the data with `mathgrpo prepare-data` or rename your gold column to 'answer'"
        )
    answers = list(kwargs["answer"])
    if len(answers) != n:
        raise UserError(f"reward 'accuracy' got {n} completions but {len(answers)} answers")
    return answers


def make_accuracy(grader: Grader | None = None) -> RewardFunc:
    """1.0 when the last ``\\boxed{}`` answer equals the gold, 0.0 otherwise (no box = 0.0: the
    template asks for one); None where the gold cannot be graded (TRL leaves that sample out).

    Starts the grader's math-verify workers now, so the first batch is inside the time bound.
    """
    (grader or default_grader()).warm_up()

    def accuracy(completions, **kwargs) -> list[float | None]:
        answers = _answers(kwargs, len(completions))
        g = grader or default_grader()  # per process: a forked worker gets its own
        timeouts_before = g.stats.timeouts
        rewards: list[float | None] = []
        for completion, gold in zip(completions, answers):
            try:
                verdict = g.grade(completion, gold)
            except Exception:  # a grader bug must not stop a run: leave the sample out, loudly
                logger.exception("grading failed; reward left out (None)")
                verdict = None
            rewards.append(None if verdict is None else float(verdict))
        _log(kwargs.get("log_metric"), "grading/ungradeable", sum(r is None for r in rewards))
        _log(kwargs.get("log_metric"), "grading/timeouts", g.stats.timeouts - timeouts_before)
        return rewards

    return accuracy


def prompt_opens_think(prompt) -> bool:
    """True when the prompt already ends with ``<think>`` (the completion starts inside the block)."""
    if prompt is None:
        return False
    if isinstance(prompt, str):
        text = prompt
    elif isinstance(prompt, dict):
        text = prompt.get("content") if isinstance(prompt.get("content"), str) else ""
    else:
        try:
            last = list(prompt)[-1] if prompt else None
        except TypeError:
            return False
        text = last.get("content") if isinstance(last, dict) else last
        text = text if isinstance(text, str) else ""
    return text.rstrip().endswith("<think>")


def format_ok(text: str, think_open: bool = False) -> bool:
    """One ``<think>`` block with real reasoning, then a complete ``\\boxed{}`` answer after it.

    Not farmable: an empty block, repeated tags, or more than ``MAX_BOXES_AFTER_THINK`` boxes fail.
    With ``think_open`` (the template put ``<think>`` into the prompt) the completion must not
    open another block and must close the one it starts in.
    """
    opens, closes = text.count("<think>"), text.count("</think>")
    if closes != 1 or opens != (0 if think_open else 1):
        return False
    head, _, answer = text.partition("</think>")
    if not think_open:
        before, _, head = head.partition("<think>")
        if before.strip():  # the reasoning block must come first
            return False
    if not any(ch.isalnum() for ch in head):
        return False
    if not 1 <= count_boxes(answer) <= MAX_BOXES_AFTER_THINK:
        return False
    boxed = extract_boxed(answer)
    return boxed is not None and bool(boxed.strip())


def make_format(think_in_prompt: bool | None = None) -> RewardFunc:
    """1.0 when ``format_ok`` holds, else 0.0 (the recipe's weight, 0.5 in the seed, scales it).

    ``think_in_prompt=None`` detects a prompt-opened ``<think>`` from TRL's ``prompts`` kwarg;
    pass True for chat templates that add ``<think>`` themselves (invisible in the messages).
    """

    def format(completions, **kwargs) -> list[float]:  # noqa: A001 - TRL logs the name "format"
        prompts = kwargs.get("prompts") or [None] * len(completions)
        rewards = []
        for completion, prompt in zip(completions, prompts):
            try:
                opened = think_in_prompt if think_in_prompt is not None else prompt_opens_think(prompt)
                rewards.append(1.0 if format_ok(completion_text(completion), opened) else 0.0)
            except Exception:  # never let one odd completion stop training
                logger.debug("format reward failed", exc_info=True)
                rewards.append(0.0)
        return rewards

    return format


def overlong_penalty_value(length: int, max_len: int, buffer: int, penalty: float = 1.0) -> float:
    """DAPO's soft overlong punishment: 0 up to ``max_len - buffer``, then linear to ``-penalty``."""
    start = max_len - buffer
    if length <= start:
        return 0.0
    if length >= max_len:
        return -float(penalty)
    return -float(penalty) * (length - start) / buffer


def make_soft_overlong(max_completion_length: int, overlong_buffer: int, overlong_penalty: float) -> RewardFunc:
    """DAPO (Yu et al. 2025, eq. 13) soft overlong punishment from ``completion_ids`` lengths."""

    def soft_overlong(completions, **kwargs) -> list[float]:
        ids = kwargs.get("completion_ids")
        if ids is None:
            logger.warning("soft_overlong: no completion_ids given; rewarding 0")
            return [0.0] * len(completions)
        return [
            overlong_penalty_value(len(x), max_completion_length, overlong_buffer, overlong_penalty) for x in ids
        ]

    return soft_overlong


REWARDS: dict[str, Callable[..., RewardFunc]] = {
    "accuracy": lambda **_: make_accuracy(),
    "format": lambda *, think_in_prompt=None, **_: make_format(think_in_prompt),
    "soft_overlong": lambda *, max_completion_length, overlong_buffer, overlong_penalty, **_: make_soft_overlong(
        max_completion_length, overlong_buffer, overlong_penalty
    ),
}


def build_reward_funcs(
    names: Sequence[str],
    *,
    max_completion_length: int,
    overlong_buffer: int | None = None,
    overlong_penalty: float = 1.0,
    think_in_prompt: bool | None = None,
) -> list[RewardFunc]:
    """The reward functions named (in order), ready for ``GRPOTrainer(reward_funcs=...)``.

    ``overlong_buffer`` defaults to a fifth of ``max_completion_length`` (DAPO: 4096 of 20480).
    """
    unknown = [n for n in names if n not in REWARDS]
    if unknown:
        raise UserError(f"unknown reward {unknown[0]!r}; known rewards: {', '.join(REWARDS)}")
    if overlong_buffer is None:
        overlong_buffer = max(1, max_completion_length // 5)
    if "soft_overlong" in names and not 0 < overlong_buffer <= max_completion_length:
        raise UserError(
            f"overlong_buffer={overlong_buffer} must be in 1..max_completion_length ({max_completion_length})"
        )
    return [
        REWARDS[n](
            max_completion_length=max_completion_length,
            overlong_buffer=overlong_buffer,
            overlong_penalty=overlong_penalty,
            think_in_prompt=think_in_prompt,
        )
        for n in names
    ]
