"""A reward is one definition: the registry wraps each once (its logged name, None for unknown
samples, failures counted), and a recipe may name a user's function by dotted path."""

from __future__ import annotations

import textwrap

import pytest

from mathgrpo.errors import UserError
from mathgrpo.grading.failures import FAILURES
from mathgrpo.train.rewards import RewardOptions, build_reward_funcs, check_reward_names

from conftest import tiny_run_argv

USER_REWARDS = """
def brevity(completions, **kwargs):
    return [1.0 / (1 + len(str(c))) for c in completions]

def broken(completions, **kwargs):
    raise RuntimeError("a bug in the user's reward")

def short(completions, **kwargs):
    return [0.0]

not_a_function = 3
"""


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    (tmp_path / "my_rewards.py").write_text(textwrap.dedent(USER_REWARDS))
    monkeypatch.syspath_prepend(str(tmp_path))
    return "my_rewards"


def opts():
    return RewardOptions(max_completion_length=64)


def test_a_dotted_path_is_a_reward_logged_by_its_own_name(user_module):
    (func,) = build_reward_funcs([f"{user_module}.brevity"], opts())
    assert func.__name__ == "brevity"  # TRL logs rewards/brevity/mean
    assert func(["ab", "abcd"]) == [1 / 3, 1 / 5]


@pytest.mark.parametrize(
    "entry, message",
    [
        ("nope", "unknown reward 'nope'"),
        ("no_such_module.f", "cannot be imported"),
        ("my_rewards.missing", "cannot be imported"),
        ("my_rewards.not_a_function", "is not a function"),
    ],
)
def test_a_reward_that_cannot_be_had_is_one_line(user_module, entry, message):
    with pytest.raises(UserError, match=message):
        check_reward_names(["accuracy", entry])


def test_two_rewards_logged_under_one_name_are_refused(user_module, tmp_path):
    (tmp_path / "other_rewards.py").write_text(textwrap.dedent(USER_REWARDS))
    with pytest.raises(UserError, match="two rewards as 'brevity'"):
        check_reward_names([f"{user_module}.brevity", "other_rewards.brevity"])


@pytest.mark.parametrize("name", ["broken", "short"])
def test_a_failing_reward_gives_none_and_is_counted_never_raises(user_module, name):
    (func,) = build_reward_funcs([f"{user_module}.{name}"], opts())
    before = sum(n for kind, n in FAILURES.counts.items() if kind.startswith(f"reward {name}"))
    assert func(["a", "b"]) == [None, None]
    after = sum(n for kind, n in FAILURES.counts.items() if kind.startswith(f"reward {name}"))
    assert after == before + 1


def test_unknown_correctness_gives_none_from_every_reward_including_a_users(user_module):
    accuracy, fmt, brevity = build_reward_funcs(["accuracy", "format", f"{user_module}.brevity"], opts())
    completions = ["<think>so</think> \\boxed{4}", "<think>so</think> \\boxed{5}"]
    # The second gold cannot be graded: its sample is unknown, so no reward may score it.
    kwargs = {"answer": ["4", "\\frac{"], "prompts": [None, None]}
    assert accuracy(completions, **kwargs) == [1.0, None]
    assert fmt(completions, **kwargs) == [1.0, None]
    assert brevity(completions, **kwargs)[1] is None and brevity(completions, **kwargs)[0] > 0


@pytest.mark.slow
def test_one_training_step_with_a_reward_from_a_file_outside_the_package(tiny_qwen_dir, tmp_path, user_module):
    from mathgrpo.train.config import parse_train_args
    from mathgrpo.train.run import run

    argv = tiny_run_argv(
        tiny_qwen_dir,
        tmp_path / "run",
        "--reward_funcs",
        "accuracy",
        f"{user_module}.brevity",
        "--reward_weights",
        "1.0",
        "1.0",
        "--max_steps",
        "1",
    )
    trainer = run(*parse_train_args(argv))
    logged = {k for entry in trainer.state.log_history for k in entry}
    assert trainer.state.global_step == 1 and "rewards/brevity/mean" in logged


def test_the_console_line_shows_every_reward_by_name():
    from mathgrpo.train.console import step_line

    logs = {
        "reward": 1.25,
        "rewards/accuracy/mean": 0.5,
        "rewards/accuracy/std": 0.5,
        "rewards/format/mean": 0.25,
        "rewards/brevity/mean": 0.125,
        "completions/mean_length": 12.0,
    }
    line = step_line(logs, 3, 10, None)
    assert "accuracy 0.50  format 0.25  brevity 0.12" in line and "std" not in line
