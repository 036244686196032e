"""DAPO's dynamic sampling on TRL (src/mathgrpo/train/dynamic.py): real generation with the tiny Qwen2,
a reward that gives some prompts one reward for every completion (no signal) and others a spread."""

from __future__ import annotations

import json
import math
from types import SimpleNamespace

import pytest
import torch
from safetensors.torch import load_file

from mathgrpo.errors import UserError
from mathgrpo.models import stop_token_ids
from mathgrpo.train.config import parse_train_args
from mathgrpo.train.dynamic import DynamicSamplingTrainer, EpochPool, EpochSampler, check_dynamic_sampling
from mathgrpo.train.rewards import REWARDS

from conftest import mask_to_first_stop, tiny_run_argv


def flat_or_spread(completions, kind, **kwargs):
    """No signal for `flat` prompts (every completion 0.5), a spread by length for the others."""
    return [0.5 if k == "flat" else min(len(c), 40) / 40.0 for c, k in zip(completions, kind)]


def trainer_on(tiny_qwen_dir, tmp_path, kinds: list[str], rewards=(flat_or_spread,), **options):
    from datasets import Dataset
    from trl import GRPOConfig

    from mathgrpo.models import load_tokenizer

    data = Dataset.from_dict({"prompt": [f"Problem {i}: what is {i} + {i}?" for i in range(len(kinds))], "kind": kinds})
    args = GRPOConfig(
        output_dir=str(tmp_path),
        per_device_train_batch_size=4,
        num_generations=2,
        temperature=1.0,
        max_completion_length=6,
        report_to=[],
        use_cpu=True,
        seed=0,
        logging_steps=1,
    )
    options = {"metric": rewards[0].__name__, **options}
    trainer = DynamicSamplingTrainer(
        model=str(tiny_qwen_dir),
        reward_funcs=list(rewards),
        args=args,
        train_dataset=data,
        processing_class=load_tokenizer(str(tiny_qwen_dir)),
        pool=EpochPool(seed=0),
        **options,
    )
    trainer.pool.start(len(data), 0)  # what the sampler does when the dataloader starts an epoch
    return trainer


def groups_with_signal(batch, size=2) -> list[bool]:
    adv = batch["advantages"]
    return [bool(adv[i : i + size].abs().sum() > 0) for i in range(0, len(adv), size)]


def test_zero_signal_groups_are_refilled_to_a_full_batch_with_none(tiny_qwen_dir, tmp_path, monkeypatch):
    from trl import GRPOTrainer

    trainer = trainer_on(tiny_qwen_dir, tmp_path, ["flat"] * 2 + ["spread"] * 14)
    trainer.model.train()
    generated = []  # each round's token total, as TRL counted it over every row it generated
    trl_round = GRPOTrainer._generate_and_score_completions

    def counted(self, inputs):
        out = trl_round(self, inputs)
        generated.append(out["num_items_in_batch"].item())
        return out

    monkeypatch.setattr(GRPOTrainer, "_generate_and_score_completions", counted)
    inputs = [dict(trainer.train_dataset[i]) for i in (0, 0, 1, 1)]  # both groups flat: no signal
    batch = trainer._generate_and_score_completions(inputs)
    assert batch["completion_ids"].size(0) == 4 and groups_with_signal(batch) == [True, True]
    metrics = trainer._metrics["train"]
    assert metrics["dynamic/rounds"][-1] >= 2 and metrics["dynamic/zero_signal_trained"][-1] == 0.0
    assert metrics["dynamic/prompts_drawn"][-1] >= 2
    # The loss divides by the completion tokens of the rows trained, not of every row generated: each
    # trained row's mask runs to its stop token (re-padded rows included), and the total is theirs.
    expected = mask_to_first_stop(batch["completion_ids"], stop_token_ids(trainer.processing_class))
    assert torch.equal(batch["completion_mask"], expected.to(batch["completion_mask"].dtype))
    assert batch["num_items_in_batch"].item() == expected.sum().item() < sum(generated)
    assert trainer.pool.taken == metrics["dynamic/prompts_drawn"][-1]


def stops_half_the_time(model) -> None:
    """An output layer that says <|im_end|> with probability about 1/2 at every token, whatever
    came before: completions of varied lengths, so rounds are padded to different widths."""
    head = torch.nn.Linear(model.config.hidden_size, model.config.vocab_size, bias=True)
    torch.nn.init.zeros_(head.weight)
    torch.nn.init.zeros_(head.bias)
    head.bias.data[151645] = math.log(model.config.vocab_size)
    model.config.tie_word_embeddings = False
    model.lm_head = head


def test_groups_from_two_rounds_are_repadded_and_counted_once(tiny_qwen_dir, tmp_path, monkeypatch):
    trainer = trainer_on(tiny_qwen_dir, tmp_path, ["flat"] + ["spread"] * 15)
    stops_half_the_time(trainer.model)
    trainer.model.train()
    widths = []
    join = DynamicSamplingTrainer._join
    monkeypatch.setattr(
        DynamicSamplingTrainer,
        "_join",
        lambda self, groups: widths.append([g["completion_ids"].size(1) for g in groups]) or join(self, groups),
    )
    # Problem 0 is flat (no signal): its group is replaced by a refill, from a later round whenever the
    # other group has a signal (its two completions differ in length). Every step's mask and count hold.
    for step in range(6):
        batch = trainer._generate_and_score_completions([dict(trainer.train_dataset[i]) for i in (0, 0, 1, 1)])
        expected = mask_to_first_stop(batch["completion_ids"], stop_token_ids(trainer.processing_class))
        assert torch.equal(batch["completion_mask"], expected.to(batch["completion_mask"].dtype)), step
        assert batch["num_items_in_batch"].item() == expected.sum().item()
        assert groups_with_signal(batch) == [True, True]
        if len(set(widths[-1])) > 1:  # re-padded and right: done
            break
    assert any(len(set(w)) > 1 for w in widths), f"no step joined rounds of different widths ({widths})"


def test_round_limit_fills_with_groups_without_signal_and_says_so(tiny_qwen_dir, tmp_path, caplog):
    trainer = trainer_on(tiny_qwen_dir, tmp_path, ["flat"] * 8, max_resample_rounds=2)
    trainer.model.train()
    with caplog.at_level("WARNING", logger="mathgrpo.train.dynamic"):
        batch = trainer._generate_and_score_completions([dict(trainer.train_dataset[i]) for i in (0, 0, 1, 1)])
    assert batch["completion_ids"].size(0) == 4 and groups_with_signal(batch) == [False, False]
    metrics = trainer._metrics["train"]
    assert metrics["dynamic/rounds"][-1] == 2 and metrics["dynamic/zero_signal_trained"][-1] == 1.0
    assert "2 of 2 groups have no signal after 2 rounds" in caplog.text


def test_oversampling_generates_more_groups_in_the_first_round(tiny_qwen_dir, tmp_path):
    trainer = trainer_on(tiny_qwen_dir, tmp_path, ["spread"] * 16, oversample=3.0)
    trainer.model.train()
    batch = trainer._generate_and_score_completions([dict(trainer.train_dataset[i]) for i in (0, 0, 1, 1)])
    assert batch["completion_ids"].size(0) == 4  # cut to the batch, whole groups
    assert trainer.pool.taken == 4  # (3 - 1) x 2 groups drawn beside the sampler's 2
    assert trainer._metrics["train"]["dynamic/prompts_drawn"][-1] == 4  # the first round's oversample counts


def test_groups_that_would_straddle_processes_are_refused():
    args = SimpleNamespace(per_device_train_batch_size=3, steps_per_generation=1, num_generations=2)
    with pytest.raises(UserError, match="whole groups on each process.*3 is not a multiple of num_generations=2"):
        check_dynamic_sampling(args)
    check_dynamic_sampling(SimpleNamespace(per_device_train_batch_size=4, steps_per_generation=1, num_generations=2))


def test_the_pool_never_hands_a_prompt_out_twice_in_an_epoch():
    pool = EpochPool(seed=3)
    sampler = EpochSampler(pool, 10, batch_size=2, mini_repeat_count=2, repeat_count=1)
    it = iter(sampler)
    first = [next(it) for _ in range(4)]  # two chunks of two prompts, each twice
    refills = pool.back(3)
    rest = list(it)
    served = sorted(set(first + rest))
    assert len(served) == 6 and len(refills) == 3 and not set(served) & set(refills)  # no prompt twice
    # The epoch ended because fewer than a chunk's prompts were left: the last one goes to a refill.
    assert pool.left() == 1 and len(pool.back(5)) == 1 and pool.back(5) == []


def test_the_pool_resumes_its_epoch_and_starts_the_next_fresh():
    a = EpochPool(seed=1)
    a.start(12, 0)
    front, back = a.front(4), a.back(3)
    resumed = EpochPool(**a.state()["args"])
    resumed.start(12, 0)  # the Trainer replays the sampler's skipped batches from the front
    assert resumed.front(4) == front and resumed.taken == 3
    assert not set(resumed.back(2)) & set(back + front)  # refills go on from where they stopped
    resumed.start(12, 1)  # a new epoch: another order, nothing taken
    assert resumed.taken == 0 and resumed.order() != a.order()


def test_epochs_are_counted_even_without_set_epoch():
    pool = EpochPool(seed=0)
    sampler = EpochSampler(pool, 4, batch_size=2, mini_repeat_count=1, repeat_count=1)
    list(sampler)
    assert pool.epoch == 0
    list(sampler)
    assert pool.epoch == 1
    sampler.set_epoch(5)
    list(sampler)
    assert pool.epoch == 5


def accuracy(completions, kind, **kwargs):
    """All wrong for `wrong` prompts; right and wrong within the group for `mixed` ones."""
    return [float(k == "mixed" and i % 2 == 0) for i, k in enumerate(kind)]


def length(completions, **kwargs):
    return [float(i) for i in range(len(completions))]  # always differs within a group


def test_an_all_wrong_group_that_differs_only_in_length_is_dropped(tiny_qwen_dir, tmp_path):
    trainer = trainer_on(
        tiny_qwen_dir, tmp_path, ["wrong"] * 2 + ["mixed"] * 14, rewards=(accuracy, length), metric="accuracy"
    )
    trainer.model.train()
    batch = trainer._generate_and_score_completions([dict(trainer.train_dataset[i]) for i in (0, 0, 1, 1)])
    # Both input groups are all wrong with a length spread (their total reward varies): dropped.
    prompts = trainer.processing_class.batch_decode(batch["prompt_ids"], skip_special_tokens=True)
    assert not any("Problem 0:" in p or "Problem 1:" in p for p in prompts), prompts
    assert trainer._metrics["train"]["dynamic/zero_signal_trained"][-1] == 0.0


def test_the_total_reward_keeps_them_when_asked(tiny_qwen_dir, tmp_path):
    trainer = trainer_on(tiny_qwen_dir, tmp_path, ["wrong"] * 16, rewards=(accuracy, length), metric="reward")
    trainer.model.train()
    trainer._generate_and_score_completions([dict(trainer.train_dataset[i]) for i in (0, 0, 1, 1)])
    assert trainer._metrics["train"]["dynamic/rounds"][-1] == 1  # the length spread is a signal here


def test_unknown_values_are_no_signal_and_the_metric_must_be_a_reward(tiny_qwen_dir, tmp_path):
    def maybe(completions, kind, **kwargs):
        return [None if i % 2 else 1.0 for i in range(len(completions))]  # one known value per group

    trainer = trainer_on(tiny_qwen_dir, tmp_path, ["x"] * 8, rewards=(maybe,), max_resample_rounds=1)
    trainer.model.train()
    trainer._generate_and_score_completions([dict(trainer.train_dataset[i]) for i in (0, 0, 1, 1)])
    assert trainer._metrics["train"]["dynamic/zero_signal_trained"][-1] == 1.0
    args = SimpleNamespace(per_device_train_batch_size=4, steps_per_generation=1, num_generations=2)
    with pytest.raises(UserError, match="dynamic_sampling_metric 'accuracy' is not one of reward_funcs"):
        check_dynamic_sampling(args, metric="accuracy", rewards=["length"])


# ----------------------------------------------------------------------------- real runs


def flat_or_spread_reward(opts):
    def length_or_flat(completions, **kwargs):
        problems = kwargs.get("problem") or [""] * len(completions)
        # "flat" for problems about 1 (one reward for the whole group), a spread by length otherwise.
        return [0.5 if " 1 " in p else min(len(c), 40) / 40.0 for c, p in zip(completions, problems)]

    return length_or_flat


@pytest.fixture
def with_flat_reward(monkeypatch):
    monkeypatch.setitem(REWARDS, "length_or_flat", flat_or_spread_reward)


def dynamic_argv(model, out, *extra):
    return tiny_run_argv(
        model,
        out,
        "--dynamic_sampling",
        "true",
        "--reward_funcs",
        "length_or_flat",
        "--dynamic_sampling_metric",
        "length_or_flat",
        "--reward_weights",
        "1.0",
        "--max_steps",
        "3",
        *extra,
    )


@pytest.mark.slow
def test_a_run_with_dynamic_sampling_logs_its_rounds_and_resumes_exactly(tiny_qwen_dir, tmp_path, with_flat_reward):
    from test_train import StopAfter

    from mathgrpo.train.run import run

    straight = run(*parse_train_args(dynamic_argv(tiny_qwen_dir, tmp_path / "straight")))
    logged = [e for e in straight.state.log_history if "dynamic/rounds" in e]
    assert len(logged) == 3 and all(e["dynamic/zero_signal_trained"] == 0.0 for e in logged)

    out = tmp_path / "resumed"
    run(*parse_train_args(dynamic_argv(tiny_qwen_dir, out)), callbacks=[StopAfter(1)])
    saved = json.loads((out / "checkpoint-1" / "trainer_state.json").read_text())["stateful_callbacks"]
    assert saved["EpochPool"]["args"]["epoch"] == 0  # the epoch and its refills are part of the checkpoint
    run(*parse_train_args(dynamic_argv(tiny_qwen_dir, out, "--resume", "true")))
    a, b = load_file(straight.args.output_dir + "/model.safetensors"), load_file(out / "model.safetensors")
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-4, atol=1e-5)


@pytest.mark.slow
def test_a_max_steps_run_that_uses_its_epochs_up_says_so(tiny_qwen_dir, tmp_path, with_flat_reward, caplog):
    from mathgrpo.train.run import run

    # 16 problems, 2 per step: Trainer plans 8 steps per epoch, 2 epochs for max_steps 16; the refills
    # of the flat problems use the epochs up sooner.
    argv = dynamic_argv(
        tiny_qwen_dir, tmp_path / "short", "--max_steps", "16", "--save_steps", "100", "--max_resample_rounds", "2"
    )
    with caplog.at_level("WARNING", logger="mathgrpo.train.run"):
        trainer = run(*parse_train_args(argv))
    assert trainer.state.global_step < 16
    assert f"dynamic sampling used up the data after {trainer.state.global_step} of max_steps 16" in caplog.text


@pytest.mark.gpu
def test_dynamic_sampling_with_vllm_colocate(tiny_qwen_dir, tmp_path, with_flat_reward):
    pytest.importorskip("vllm")
    if not torch.cuda.is_available():
        pytest.skip("vLLM needs a GPU")
    from mathgrpo.train.run import run

    argv = dynamic_argv(
        tiny_qwen_dir,
        tmp_path / "vllm",
        "--use_vllm",
        "true",
        "--vllm_mode",
        "colocate",
        "--use_cpu",
        "false",
        "--vllm_gpu_memory_utilization",
        "0.2",
        "--vllm_max_model_length",
        "256",
        "--dynamic_sampling_oversample",
        "2.0",
    )
    trainer = run(*parse_train_args(argv))
    logged = [e for e in trainer.state.log_history if "dynamic/rounds" in e]
    assert len(logged) == 3 and all(e["dynamic/zero_signal_trained"] == 0.0 for e in logged)
