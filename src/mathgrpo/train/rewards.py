"""Reward functions with TRL's signature, and their registry.

Usage: ``funcs = build_reward_funcs(["accuracy", "format"], RewardOptions(max_completion_length=1024))``
then ``GRPOTrainer(reward_funcs=funcs, args=GRPOConfig(reward_weights=[1.0, 0.5], ...))``.

Departures from the papers:
- ``accuracy`` is 1 / 0, not DAPO's +1 / -1: the DAPO recipes weigh it 2.0, which gives the same
  spread (group normalisation removes the shift).
- ``accuracy`` reads the last ``\boxed{}`` only (Oat-Zero's reading), not DAPO's ``Answer:`` line:
  the templates ask for a box, and the format reward checks for one.
- ``format`` is ours (R1's format reward asks only for the tags): one non-empty ``<think>`` block,
  then one boxed answer (at most ``MAX_BOXES_AFTER_THINK`` boxes), so it cannot be farmed.
- ``soft_overlong`` is DAPO's (TRL's implementation), with its buffer scaled to our length limits.

A reward is one definition: a factory in :data:`REWARDS` (``name -> factory(RewardOptions) -> function``),
or a function with TRL's signature named by dotted path in the recipe (``reward_funcs:
[accuracy, mypkg.rewards.my_reward]``, as TRL's GRPO script takes them). Every function takes
``(completions, **kwargs)`` and returns one float (or None) per completion, as TRL's
``GRPOTrainer._calculate_rewards`` expects. :func:`registered` wraps each one once, so no reward
repeats these rules: it is logged under its registry key (``rewards/<name>/mean``; a dotted path's
last part), which `mathgrpo grade` and the console line read; it never raises (a failure is logged
once, counted, and gives None for that batch); and a sample whose correctness is unknown -- its gold
cannot be graded, or the grader ran out of time twice -- gets None from *every* reward when
``accuracy`` is in use, the only case in which TRL gives a sample no advantage and keeps it out of its
group's baseline (one None among numbers would still train on the others).

Weights are not applied here: the recipe passes them to TRL (``GRPOConfig.reward_weights``); the raw
values are 1.0 / 0.0 for ``accuracy`` and ``format``, so with the seed recipe's weights (1.0, 0.5) a
correct, well-formatted completion earns 1.0 + 0.5.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from mathgrpo.errors import UserError
from mathgrpo.grading import STRICT, VERDICTS, Grader, completion_text, count_boxes, default_grader, extract_boxed
from mathgrpo.grading.failures import FAILURES

logger = logging.getLogger(__name__)

RewardFunc = Callable[..., list]

# A box sprayed after the reasoning does not earn the format reward: one final answer, perhaps
# restated once ("\boxed{5} ... so the answer is \boxed{5}"), is the most we allow.
MAX_BOXES_AFTER_THINK = 2


def _log(log_metric, name: str, value: float) -> None:
    """TRL >= 1.16 passes ``log_metric``; direct callers do not."""
    if callable(log_metric):
        try:
            log_metric(name, float(value))
        except Exception as err:  # a logging hiccup must never cost a reward
            FAILURES.note("log_metric", err)


class BatchVerdicts:
    """The accuracy verdicts of the batch TRL is scoring, computed once and read by every reward
    function. TRL hands each reward function the same ``completions`` list of one batch, so the
    list itself is the key (and is held, so its id cannot be reused)."""

    def __init__(self, verdict: str = STRICT, grader: Grader | None = None) -> None:
        self.verdict, self.grader = verdict, grader
        self._completions: list | None = None
        self._verdicts: list[bool | None] = []

    def get(self, completions, kwargs: dict) -> list[bool | None]:
        if completions is self._completions and len(self._verdicts) == len(completions):
            return self._verdicts
        answers = _answers(kwargs, len(completions))
        g = self.grader or default_grader()  # per process: a forked worker gets its own
        before = (g.stats.timeouts, g.stats.unknown)
        verdicts: list[bool | None] = []
        for completion, gold in zip(completions, answers):
            try:
                verdicts.append(g.grade(completion, gold, self.verdict))
            except Exception as err:  # a grader bug must not stop a run: leave the sample out, loudly
                FAILURES.note("accuracy reward (grading)", err)
                verdicts.append(None)
        log_metric = kwargs.get("log_metric")
        _log(log_metric, "grading/unknown", sum(v is None for v in verdicts))
        _log(log_metric, "grading/timeouts", g.stats.timeouts - before[0])
        self._completions, self._verdicts = completions, verdicts
        return verdicts


def _answers(kwargs: dict, n: int) -> list:
    """The golds of each completion: the ``answers`` column (a list of golds per row, any of which
    may match) when the dataset has one, else ``answer`` (one gold, or a list)."""
    column = "answers" if kwargs.get("answers") is not None else "answer"
    if column not in kwargs:
        raise UserError(
            "reward 'accuracy' needs the dataset column 'answer' (gold answers); "
            "prepare the data with `mathgrpo prepare-data` or rename your gold column to 'answer'"
        )
    answers = list(kwargs[column])
    if len(answers) != n:
        raise UserError(f"reward 'accuracy' got {n} completions but {len(answers)} answers")
    return answers


@dataclass
class RewardOptions:
    """What the reward factories may need, passed explicitly (every field is some factory's)."""

    max_completion_length: int
    overlong_buffer: int | None = None  # soft_overlong; None: a fifth of max_completion_length (buffer_of)
    overlong_penalty: float = 1.0  # soft_overlong: the penalty at the length limit
    think_in_prompt: bool | None = None  # format: the template itself opens <think>
    verdict: str = STRICT  # accuracy: strict or equivalent (mathgrpo.grading)
    shared: BatchVerdicts | None = field(default=None, repr=False)  # set by build_reward_funcs


def _left_out(shared: BatchVerdicts | None, completions, kwargs: dict) -> list[bool]:
    """Which samples every reward must leave out (unknown correctness), when accuracy is in use."""
    if shared is None or ("answer" not in kwargs and kwargs.get("answers") is None):
        return [False] * len(completions)
    return [v is None for v in shared.get(completions, kwargs)]


def make_accuracy(opts: RewardOptions) -> RewardFunc:
    """1.0 when the last ``\\boxed{}`` answer equals the gold (any of the row's ``answers`` when the
    dataset has that column), 0.0 otherwise (no box = 0.0: the template asks for one, and the reward
    reads boxes only); None where the verdict is unknown. Starts the grader's math-verify
    workers now, so the first batch is inside the time bound."""
    shared = opts.shared or BatchVerdicts(opts.verdict)
    (shared.grader or default_grader()).warm_up()

    def accuracy(completions, **kwargs) -> list[float | None]:
        return [None if v is None else float(v) for v in shared.get(completions, kwargs)]

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


def make_format(opts: RewardOptions) -> RewardFunc:
    """1.0 when ``format_ok`` holds, else 0.0 (the recipe's weight, 0.5 in the seed, scales it).

    ``think_in_prompt=None`` detects a prompt-opened ``<think>`` from TRL's ``prompts`` kwarg;
    True for chat templates that add ``<think>`` themselves (invisible in the messages).
    """

    def format(completions, **kwargs) -> list[float | None]:  # noqa: A001 - TRL logs the name "format"
        prompts = kwargs.get("prompts") or [None] * len(completions)
        rewards: list[float | None] = []
        for completion, prompt in zip(completions, prompts):
            try:
                opened = opts.think_in_prompt if opts.think_in_prompt is not None else prompt_opens_think(prompt)
                rewards.append(1.0 if format_ok(completion_text(completion), opened) else 0.0)
            except Exception as err:  # one odd completion costs its own reward, not the batch's
                FAILURES.note("format reward", err)
                rewards.append(0.0)
        return rewards

    return format


def make_soft_overlong(opts: RewardOptions) -> RewardFunc:
    """DAPO's soft overlong punishment (Yu et al. 2025, eq. 13): TRL's own, times ``overlong_penalty``."""
    from trl.rewards import get_soft_overlong_punishment

    punish = get_soft_overlong_punishment(opts.max_completion_length, buffer_of(opts))

    def soft_overlong(completions, **kwargs) -> list[float | None]:
        ids = kwargs.get("completion_ids")
        if ids is None:
            logger.warning("soft_overlong: no completion_ids given; rewarding 0")
            return [0.0] * len(completions)
        return [opts.overlong_penalty * r for r in punish(ids)]

    return soft_overlong


# name -> factory(options) -> reward function. A user's own reward, without editing the package:
# `reward_funcs: [accuracy, mypkg.rewards.my_reward]` (a dotted path to a function with TRL's signature,
# as TRL's GRPO script takes), or in code `REWARDS["mine"] = factory`.
REWARDS: dict[str, Callable[[RewardOptions], RewardFunc]] = {
    "accuracy": make_accuracy,
    "format": make_format,
    "soft_overlong": make_soft_overlong,
}


def reward_name(entry: str) -> str:
    """The name a `reward_funcs` entry is logged under (``rewards/<name>/mean``): the registry key, or
    a dotted path's last part."""
    return entry if entry in REWARDS else entry.rsplit(".", 1)[-1]


def import_reward(path: str) -> RewardFunc:
    """The function a dotted path ``package.module.function`` names; one line when it cannot be had."""
    import importlib

    module_name, _, attr = path.rpartition(".")
    try:
        func = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError, ValueError) as err:
        raise UserError(
            f"reward {path!r} (field `reward_funcs`) cannot be imported ({type(err).__name__}: {err}); "
            f"give a registered name ({', '.join(REWARDS)}) or a dotted path to a function on PYTHONPATH"
        ) from None
    if not callable(func):
        raise UserError(f"reward {path!r} (field `reward_funcs`) is not a function")
    return func


def check_reward_names(names: Sequence[str]) -> None:
    for name in names:
        if name not in REWARDS:
            if "." not in name.strip("."):
                raise UserError(
                    f"unknown reward {name!r} (field `reward_funcs`); choose from: {', '.join(REWARDS)}, "
                    "or give a dotted path package.module.function"
                )
            import_reward(name)
    logged = [reward_name(n) for n in names]
    twice = sorted({n for n in logged if logged.count(n) > 1})
    if twice:
        raise UserError(f"reward_funcs logs two rewards as {twice[0]!r}; each needs its own name")


def registered(name: str, func: RewardFunc, shared: BatchVerdicts | None) -> RewardFunc:
    """``func`` with the rules every reward follows, applied once here rather than in each reward:
    - its name is ``name`` (TRL logs ``rewards/<__name__>/mean``, and `grade` and the console read it);
    - a sample of unknown correctness gets None from every reward when ``accuracy`` is in use, the only
      case in which TRL leaves a sample out of the advantage and its group's baseline;
    - it never raises and always answers one value per completion: a failure is logged once, counted
      (grading/failures.py), and gives None for that batch (no opinion: TRL sums the other rewards)."""

    def reward(completions, **kwargs) -> list[float | None]:
        n = len(completions)
        try:
            values = list(func(completions, **kwargs))
            if len(values) != n:
                raise ValueError(f"returned {len(values)} values for {n} completions")
        except UserError:
            raise  # a config error (e.g. no gold column) stops the run in one line
        except Exception as err:
            FAILURES.note(f"reward {name}", err)
            values = [None] * n
        if name != "accuracy":  # accuracy's own None is the verdict
            values = [None if out else v for v, out in zip(values, _left_out(shared, completions, kwargs))]
        return values

    reward.__name__ = reward.__qualname__ = name
    reward.__doc__ = func.__doc__
    return reward


def buffer_of(opts: RewardOptions) -> int:
    """soft_overlong's buffer: the one set, else a fifth of max_completion_length (DAPO's ratio: a
    4,096-token buffer on 20,480 tokens). The one place this default lives."""
    return opts.overlong_buffer if opts.overlong_buffer is not None else max(1, opts.max_completion_length // 5)


def check_reward_options(names: Sequence[str], opts: RewardOptions) -> None:
    """Every check on the reward fields, in one place: run by ``mathgrpo train`` before anything is
    loaded and by ``build_reward_funcs`` for direct callers. One line per failure, naming the field."""
    check_reward_names(names)
    if opts.verdict not in VERDICTS:
        raise UserError(f"accuracy_verdict must be one of {', '.join(VERDICTS)} (got {opts.verdict!r})")
    buffer = buffer_of(opts)
    if "soft_overlong" in names and not 0 < buffer <= opts.max_completion_length:
        raise UserError(f"overlong_buffer={buffer} must be in 1..max_completion_length ({opts.max_completion_length})")


def build_reward_funcs(names: Sequence[str], opts: RewardOptions) -> list[RewardFunc]:
    """The reward functions named (in order; registry names or dotted paths), each wrapped once by
    :func:`registered`, ready for ``GRPOTrainer(reward_funcs=...)``."""
    check_reward_options(names, opts)
    if "accuracy" in names and opts.shared is None:
        opts.shared = BatchVerdicts(opts.verdict)
    funcs = [REWARDS[n](opts) if n in REWARDS else import_reward(n) for n in names]
    return [registered(reward_name(n), f, opts.shared) for n, f in zip(names, funcs)]
