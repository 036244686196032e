"""Training's quiet traps, each checked before anything is loaded or written: the hub-token rule,
the bitsandbytes optimizers as transformers lists them, FlashAttention against the weights' dtype
and autocast, a model folder without a tokenizer, and no empty output_dir after a failed run."""

from __future__ import annotations

import json
import logging
from types import SimpleNamespace

import pytest

from mathgrpo import cli
from mathgrpo.errors import UserError
from mathgrpo.train import checks

DEMO = "recipes/demo/smollm2-cpu.yaml"


def test_the_recipe_hub_token_wins_and_both_set_warns(monkeypatch, caplog):
    monkeypatch.setenv("HF_TOKEN", "from-env")
    args = SimpleNamespace(hub_token="from-recipe")
    with caplog.at_level(logging.WARNING, logger="mathgrpo.train.checks"):
        assert checks.hub_token_rule(args) == "recipe"
    assert args.hub_token is None  # never pickled into training_args.bin
    import os

    assert os.environ["HF_TOKEN"] == "from-recipe"
    assert "the recipe's hub_token is used" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="mathgrpo.train.checks"):
        assert checks.hub_token_rule(SimpleNamespace(hub_token="from-recipe")) == "recipe"  # the same: no warning
        assert checks.hub_token_rule(SimpleNamespace(hub_token=None)) == "environment"
    assert not caplog.records and os.environ["HF_TOKEN"] == "from-recipe"
    monkeypatch.delenv("HF_TOKEN")
    assert checks.hub_token_rule(SimpleNamespace(hub_token=None)) is None


def test_bitsandbytes_optimizers_come_from_transformers(monkeypatch):
    from transformers.training_args import OptimizerNames

    names = checks.bnb_optimizers()
    assert {"ademamix", "ademamix_8bit", "adamw_bnb_8bit", "paged_adamw_32bit", "lion_32bit", "rmsprop_bnb"} <= names
    assert not names & {"adamw_torch", "adamw_torch_fused", "adafactor", "stable_adamw", "adamw_torch_8bit"}
    assert names <= {o.value for o in OptimizerNames}
    real = checks.importlib.util.find_spec
    monkeypatch.setattr(checks.importlib.util, "find_spec", lambda n, *a: None if n == "bitsandbytes" else real(n, *a))
    for optim in ("ademamix", OptimizerNames.PAGED_LION_8BIT):
        with pytest.raises(UserError, match="needs bitsandbytes, which is not installed"):
            checks.check_optimizer(optim)
    checks.check_optimizer("adamw_torch")


@pytest.mark.parametrize(
    "impl, dtype, bf16, ok",
    [
        ("flash_attention_2", "float32", False, False),
        ("flash_attention_2", None, False, False),
        ("flash_attention_2", "float32", True, True),  # float32 weights under bf16 autocast: cast to bf16
        ("flash_attention_2", "bfloat16", False, True),
        ("flash_attention_3", "float16", False, True),
        ("flash_attention_2", "auto", False, True),
        ("sdpa", "float32", False, True),
        (None, "float32", False, True),
    ],
)
def test_flash_attention_is_checked_against_dtype_and_autocast(impl, dtype, bf16, ok):
    model_args = SimpleNamespace(attn_implementation=impl, dtype=dtype)
    args = SimpleNamespace(bf16=bf16, fp16=False)
    if ok:
        checks.check_attention(model_args, args)
    else:
        with pytest.raises(UserError, match=r"needs bf16/fp16 tensors.*bf16: true"):
            checks.check_attention(model_args, args)


def test_what_reaches_attention_under_autocast():
    # The premise check_attention rests on, measured: float32 weights under bf16 autocast hand
    # attention float32 q/k (RoPE promotes them) and bf16 v, in the log-prob pass and in generate()
    # on the model accelerate unwraps (its autocast wrapper stays): transformers' FA2 path casts
    # float32 inputs to the autocast dtype, or without autocast to the weights' float32.
    import torch
    from accelerate import Accelerator
    from transformers import AttentionInterface, Qwen2Config, Qwen2ForCausalLM
    from transformers.integrations.flash_attention import get_target_dtype
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    seen = []

    def probe(module, q, k, v, *args, **kwargs):
        seen.append((q.dtype, k.dtype, v.dtype, get_target_dtype(q, module)))
        return sdpa_attention_forward(module, q, k, v, *args, **kwargs)

    AttentionInterface.register("mathgrpo_probe", probe)
    config = Qwen2Config(
        vocab_size=64,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
    )
    model = Qwen2ForCausalLM(config)
    model.config._attn_implementation = "mathgrpo_probe"
    ids = torch.tensor([[1, 2, 3]])
    model(ids)
    assert seen[-1] == (torch.float32, torch.float32, torch.float32, torch.float32)  # flash-attn would refuse
    accelerator = Accelerator(mixed_precision="bf16", cpu=True)
    prepared = accelerator.prepare(model)
    with accelerator.autocast():
        prepared(ids)
    assert seen[-1] == (torch.float32, torch.float32, torch.bfloat16, torch.bfloat16)
    accelerator.unwrap_model(prepared).generate(ids, max_new_tokens=1, do_sample=False)
    assert seen[-1] == (torch.float32, torch.float32, torch.bfloat16, torch.bfloat16)


@pytest.fixture
def no_tokenizer(tmp_path):
    folder = tmp_path / "no-tokenizer"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "qwen2"}))
    (folder / "model.safetensors").write_bytes(b"")
    return folder


@pytest.mark.parametrize("verb", ["train", "eval"])
def test_a_model_folder_without_tokenizer_is_one_line_before_anything_is_written(verb, no_tokenizer, tmp_path, capsys):
    out = tmp_path / "out"
    if verb == "train":
        argv = ["train", "--config", DEMO, "--model_name_or_path", str(no_tokenizer), "--output_dir", str(out)]
    else:
        argv = ["eval", "--model", str(no_tokenizer), "--output", str(out)]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "has no tokenizer files" in err and len(err.splitlines()) == 1
    assert not out.exists()


def test_a_failed_train_leaves_no_output_dir(tiny_qwen_dir, tmp_path, capsys):
    data = tmp_path / "proofs.jsonl"
    data.write_text("".join(json.dumps({"problem": f"Prove {i}.", "answer": "proof"}) + "\n" for i in range(3)))
    out = tmp_path / "runs" / "out"
    argv = [
        "train",
        "--config",
        DEMO,
        "--model_name_or_path",
        str(tiny_qwen_dir),
        "--output_dir",
        str(out),
        "--dataset_name",
        str(data),
    ]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "no rows left" in err and "3 placeholder gold" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "runs").exists()
