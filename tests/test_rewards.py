"""Reward functions (mathgrpo.train.rewards): values, farming resistance, registry, and real TRL wiring."""

from __future__ import annotations

import math

import pytest
import torch

from mathgrpo.errors import UserError
from mathgrpo.models import stop_token_ids
from mathgrpo.train.rewards import REWARDS, RewardOptions, build_reward_funcs, format_ok, prompt_opens_think

from conftest import mask_to_first_stop

GOOD = "<think>\n2 + 3 = 5, so five.\n</think>\nThe answer is $\\boxed{5}$."


def funcs(*names, **options):
    return build_reward_funcs(list(names), RewardOptions(**{"max_completion_length": 64, **options}))


@pytest.fixture(scope="module")
def accuracy():
    return funcs("accuracy")[0]


# --- accuracy ---------------------------------------------------------------------------------


def test_accuracy_values(accuracy):
    completions = [GOOD, "<think>x</think> \\boxed{6}", "5", [{"role": "assistant", "content": GOOD}], None]
    assert accuracy(completions, answer=["5"] * 5) == [1.0, 0.0, 0.0, 1.0, 0.0]


def test_accuracy_is_none_for_ungradeable_gold_and_logs_it(accuracy):
    metrics = []
    rewards = accuracy([GOOD, GOOD], answer=["5", ""], log_metric=lambda k, v: metrics.append((k, v)))
    assert rewards == [1.0, None]
    assert ("grading/unknown", 1.0) in metrics


def test_accuracy_tolerates_a_broken_log_metric(accuracy):
    def boom(name, value):
        raise RuntimeError("tracker down")

    assert accuracy([GOOD], answer=["5"], log_metric=boom) == [1.0]


def test_accuracy_without_answer_column_is_a_user_error(accuracy):
    with pytest.raises(UserError, match="'answer'"):
        accuracy([GOOD], prompts=["q"])
    with pytest.raises(UserError, match="2 answers"):
        accuracy([GOOD], answer=["5", "6"])


# --- format -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "think_open", "ok"),
    [
        (GOOD, False, True),  # the shape the template asks for
        ("  <think>reason</think>\\boxed{1}", False, True),  # leading whitespace is fine
        ("<think>r</think> \\boxed{1} so \\boxed{1}", False, True),  # restating the answer once
        ("reason</think>\\boxed{1}", True, True),  # template opened <think> in the prompt
        ("<think></think>\\boxed{1}", False, False),  # empty think block
        ("<think>  \n </think>\\boxed{1}", False, False),  # whitespace-only reasoning
        ("<think>...</think>\\boxed{1}", False, False),  # punctuation is not reasoning
        ("<think>a</think><think>b</think>\\boxed{1}", False, False),  # repeated blocks
        ("<think>a<think>b</think>\\boxed{1}", False, False),  # repeated opening tag
        ("<think>a</think></think>\\boxed{1}", False, False),  # repeated closing tag
        ("<think>\\boxed{1}</think> done", False, False),  # box only inside the reasoning
        ("<think>a</think>" + "\\boxed{1}" * 3, False, False),  # box sprayed
        ("<think>a</think> \\boxed{1", False, False),  # truncated box
        ("<think>a</think> \\boxed{}", False, False),  # empty box
        ("<think>a", False, False),  # never closed
        ("\\boxed{1}", False, False),  # no reasoning block
        ("preamble <think>a</think>\\boxed{1}", False, False),  # reasoning must come first
        ("<think>a</think>\\boxed{1}", True, False),  # prompt opened <think>: a second one is a repeat
        ("a\\boxed{1}", True, False),  # prompt opened <think> but it was never closed
    ],
)
def test_format_ok(text, think_open, ok):
    assert format_ok(text, think_open) is ok


@pytest.mark.parametrize(
    ("prompt", "opens"),
    [
        ("Question?\n<think>\n", True),
        ("Question?", False),
        ([{"role": "user", "content": "Q"}, {"role": "assistant", "content": "<think>"}], True),
        ([{"role": "user", "content": "Q"}], False),
        (None, False),
        ([], False),
    ],
)
def test_prompt_opens_think(prompt, opens):
    assert prompt_opens_think(prompt) is opens


def test_format_reward_reads_prompts_and_completion_shapes():
    (fmt,) = funcs("format")
    completions = ["reason</think>\\boxed{1}", GOOD, [{"role": "assistant", "content": GOOD}], None, 12]
    prompts = ["Q <think>", "Q", [{"role": "user", "content": "Q"}], "Q", "Q"]
    assert fmt(completions, prompts=prompts) == [1.0, 1.0, 1.0, 0.0, 0.0]
    assert funcs("format", think_in_prompt=True)[0](["reason</think>\\boxed{1}"], prompts=["Q"]) == [1.0]


def test_a_sample_of_unknown_correctness_is_left_out_by_every_reward():
    # TRL leaves a sample out of training only when every reward function returns None for it:
    # with accuracy + format, an ungradeable gold must not train on its format reward alone.
    completions = [GOOD, GOOD]
    kwargs = {"answer": ["5", ""], "prompts": ["Q", "Q"], "completion_ids": [[1] * 10, [1] * 70]}
    rewards = [f(completions, **kwargs) for f in funcs("format", "accuracy", "soft_overlong")]
    assert rewards == [[1.0, None], [1.0, None], [0.0, None]]
    # Without the accuracy reward nothing needs a gold, and nothing is left out.
    assert funcs("format")[0](completions, **kwargs) == [1.0, 1.0]


# --- soft overlong (DAPO eq. 13) --------------------------------------------------------------


@pytest.mark.parametrize(
    ("length", "expected"),
    [(0, 0.0), (750, 0.0), (751, -1 / 250), (875, -0.5), (999, -249 / 250), (1000, -1.0), (1500, -1.0)],
)
def test_overlong_penalty_is_dapo_eq_13(length, expected):
    # DAPO eq. 13 by hand; the reward is TRL's implementation, scaled by overlong_penalty.
    (fn,) = funcs("soft_overlong", max_completion_length=1000, overlong_buffer=250)
    assert math.isclose(fn(["x"], completion_ids=[[1] * length])[0], expected)


def test_soft_overlong_uses_completion_ids():
    (fn,) = funcs("soft_overlong", max_completion_length=100, overlong_buffer=20, overlong_penalty=0.5)
    assert fn(["a", "b", "c"], completion_ids=[[1] * 80, [1] * 90, [1] * 100]) == [0.0, -0.25, -0.5]
    assert fn(["a"]) == [0.0]  # no ids given: no penalty, and a warning


# --- registry ---------------------------------------------------------------------------------


def test_registry_names_are_what_trl_logs():
    assert [f.__name__ for f in funcs(*REWARDS)] == ["accuracy", "format", "soft_overlong"]


def test_unknown_reward_is_one_line_user_error():
    with pytest.raises(UserError) as err:
        funcs("accuracy", "lenght")
    message = str(err.value)
    assert "'lenght'" in message and "accuracy, format, soft_overlong" in message and "\n" not in message


def test_bad_overlong_buffer_is_a_user_error():
    with pytest.raises(UserError, match="overlong_buffer"):
        funcs("soft_overlong", overlong_buffer=100)


# --- real TRL ---------------------------------------------------------------------------------


def test_trl_calls_our_rewards_and_turns_none_into_nan(tmp_path, tiny_qwen_dir):
    """GRPOTrainer._calculate_rewards passes prompts, completion_ids, answer and log_metric."""
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    from mathgrpo.models import load_tokenizer

    rewards_funcs = funcs("accuracy", "format", "soft_overlong", max_completion_length=8, overlong_buffer=4)
    data = Dataset.from_dict({"prompt": ["1+1?", "2+2?"], "answer": ["2", ""]})
    args = GRPOConfig(
        output_dir=str(tmp_path),
        per_device_train_batch_size=2,
        num_generations=2,
        max_completion_length=8,
        report_to=[],
        reward_weights=[1.0, 0.5, 1.0],
        use_cpu=True,
    )
    trainer = GRPOTrainer(
        model=str(tiny_qwen_dir),
        reward_funcs=rewards_funcs,
        args=args,
        train_dataset=data,
        processing_class=load_tokenizer(str(tiny_qwen_dir)),
    )
    assert trainer.reward_func_names == ["accuracy", "format", "soft_overlong"]
    inputs = [{"prompt": "1+1?", "answer": "2"}, {"prompt": "2+2?", "answer": ""}]
    completions = ["<think>one and one</think> \\boxed{2}", "\\boxed{4}"]
    rewards = trainer._calculate_rewards(inputs, ["1+1?", "2+2?"], completions, [[1] * 3, [1] * 7])
    assert rewards[0].tolist() == [1.0, 1.0, 0.0]
    assert all(math.isnan(v) for v in rewards[1].tolist())  # unknown correctness: every reward None
    assert trainer._pending_metrics["grading/unknown"] == [1.0]


def test_unknown_samples_leave_the_loss_mask_and_its_denominator(tmp_path, tiny_qwen_dir):
    """A row whose every reward is None: advantage 0 (TRL) *and* no tokens in the loss mask or in
    num_items_in_batch (ours), so it neither dilutes the dapo denominator nor takes the KL term."""
    from datasets import Dataset
    from trl import GRPOConfig

    from mathgrpo.models import load_tokenizer
    from mathgrpo.train.trainer import Trainer

    def unknown_for_b(completions, tag, **kwargs):
        return [None if t == "b" else float(i % 2) for i, t in enumerate(tag)]  # a's group: 0 and 1

    data = Dataset.from_dict({"prompt": ["Say a.", "Say b."], "tag": ["a", "b"]})
    args = GRPOConfig(
        output_dir=str(tmp_path),
        per_device_train_batch_size=4,
        num_generations=2,
        temperature=1.0,
        max_completion_length=6,
        report_to=[],
        use_cpu=True,
        seed=0,
        loss_type="dapo",
        beta=0.0,
    )
    trainer = Trainer(
        model=str(tiny_qwen_dir),
        reward_funcs=[unknown_for_b],
        args=args,
        train_dataset=data,
        processing_class=load_tokenizer(str(tiny_qwen_dir)),
    )
    trainer.model.train()
    inputs = [{"prompt": "Say a.", "tag": "a"}] * 2 + [{"prompt": "Say b.", "tag": "b"}] * 2
    out = trainer._generate_and_score_completions(inputs)
    assert out["advantages"][2:].abs().sum() == 0  # TRL's part
    assert out["completion_mask"][2:].sum() == 0 and out["completion_mask"][:2].sum() > 0  # ours
    assert out["num_items_in_batch"].item() == out["completion_mask"][:2].sum().item()
    # The dapo loss divides by that count: against TRL's own batch (unknown rows still in the mask),
    # the same numerator over fewer tokens.
    trainer.current_gradient_accumulation_steps = args.steps_per_generation
    assert out["advantages"][:2].abs().sum() > 0, "the known group needs a signal for this check"
    ours = trainer.compute_loss(trainer.model, out)
    trl_mask = out["completion_mask"].clone()
    trl_mask[2:] = 1  # every completion here is 6 tokens long (no EOS in a random model)
    trl_batch = {**out, "completion_mask": trl_mask, "num_items_in_batch": trl_mask.sum()}
    theirs = trainer.compute_loss(trainer.model, trl_batch)
    n_known, n_all = out["num_items_in_batch"].item(), trl_mask.sum().item()
    assert n_known < n_all and ours.item() == pytest.approx(theirs.item() * n_all / n_known, rel=1e-4)


def test_a_batch_with_every_reward_known_is_left_as_trl_made_it(tmp_path, tiny_qwen_dir):
    from datasets import Dataset
    from trl import GRPOConfig

    from mathgrpo.models import load_tokenizer
    from mathgrpo.train.trainer import Trainer

    data = Dataset.from_dict({"prompt": ["Say a."]})
    args = GRPOConfig(
        output_dir=str(tmp_path),
        per_device_train_batch_size=2,
        num_generations=2,
        max_completion_length=4,
        report_to=[],
        use_cpu=True,
        seed=0,
    )
    trainer = Trainer(
        model=str(tiny_qwen_dir),
        reward_funcs=[lambda completions, **k: [1.0] * len(completions)],
        args=args,
        train_dataset=data,
        processing_class=load_tokenizer(str(tiny_qwen_dir)),
    )
    trainer.model.train()
    out = trainer._generate_and_score_completions([{"prompt": "Say a."}] * 2)
    # Every row's tokens up to its stop stay in the loss, and the loss divides by exactly their count.
    expected = mask_to_first_stop(out["completion_ids"], stop_token_ids(trainer.processing_class))
    assert torch.equal(out["completion_mask"].cpu(), expected.to(out["completion_mask"].dtype))
    assert out["num_items_in_batch"].item() == expected.sum().item() > 0


def test_reward_failures_are_warnings_once_per_kind_with_a_count(caplog, monkeypatch):
    from mathgrpo.grading.failures import FAILURES
    from mathgrpo.train import rewards as R

    monkeypatch.setattr(FAILURES, "counts", type(FAILURES.counts)())

    def broken(completion, opened):
        raise RuntimeError("bug in format_ok")

    monkeypatch.setattr(R, "format_ok", broken)
    (fmt,) = funcs("format", max_completion_length=8)
    with caplog.at_level("WARNING", logger="mathgrpo.grading"):
        for _ in range(10):
            assert fmt(["\\boxed{1}"], prompts=["Q"]) == [0.0]
    warnings = [r for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 2, [r.getMessage() for r in warnings]  # the first, then the count at 10
    assert "format reward failed (RuntimeError: bug in format_ok)" in warnings[0].getMessage()
    assert "failed 10 times so far" in warnings[1].getMessage()
