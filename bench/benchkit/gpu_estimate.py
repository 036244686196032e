"""Theoretical GPU numbers for the Qwen2.5-Math-1.5B recipes, computed, not measured: bytes per
parameter of each precision mode, a per-GPU training-memory estimate, and bandwidth / compute
floors per rollout.

Usage: python bench/gpu_estimate.py (this module's main) [--recipes recipes/qwen2.5-math-1.5b/*.yaml] [--budget-gib 24]

No GPU and no weights are needed: the parameter count comes from Qwen2.5-Math-1.5B's exact
config instantiated on PyTorch's meta device. Every number is a floor or an estimate; the
measured counterparts come from bench/gpu_step.py on a GPU (docs/performance.md).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

GIB = 1024**3
# The bench helpers serve a checkout: bench/benchkit/ is two levels below the root.
REPO = Path(__file__).resolve().parents[2]
RECIPE_DIR = REPO / "recipes" / "qwen2.5-math-1.5b"

# How many training processes (GPUs) each recipe's batch numbers are written for, and how
# many GPUs its vLLM server takes (see the comment at the top of each recipe).
LAYOUT = {
    "seed": (1, 0),
    "drgrpo": (8, 0),
    "drgrpo-vllm": (1, 0),
    "drgrpo-vllm-server": (4, 4),
    "dapo": (8, 0),
    "dapo-vllm": (1, 0),
    "dapo-vllm-server": (4, 4),
}

# Spec-sheet figures (not measurements) for the floors: NVIDIA H100 SXM5 80 GB.
NOMINAL_GPU = "H100 SXM 80 GB (spec sheet)"
NOMINAL_BANDWIDTH = 3.35e12  # bytes/s, HBM3
NOMINAL_BF16_FLOPS = 989e12  # dense BF16 tensor-core FLOP/s

# Mean prompt length (tokens) of DAPO-Math-17k under the recipes' templates, measured with the
# real Qwen2.5 tokenizer on the deduplicated shared copy (17,176 problems): qwen_math 121,
# think_boxed 144.
MEAN_PROMPT_TOKENS = {"qwen_math": 121, "think_boxed": 144}
TRAIN_PROBLEMS = 17_176


@dataclass(frozen=True)
class Mode:
    """Bytes per parameter that one precision mode keeps in GPU memory (and in host memory)."""

    label: str
    weights: float
    grads: float
    optimizer: float  # AdamW's two moments (and bitsandbytes' block scales)
    host: float = 0.0  # kept in CPU memory (ZeRO-Offload)
    embedding_optimizer: float | None = None  # optimizer bytes for the embedding, where they differ
    sharded: bool = False  # gradients and optimizer state divided among the processes (ZeRO-2)
    compute_bytes: int = 2  # bytes per activation value in training (bf16 autocast)
    generate_bytes: int = 4  # bytes per KV-cache value in HF generation (TRL generates outside autocast)

    def optimizer_bytes(self, params: int, embedding: int) -> float:
        other = self.optimizer * (params - embedding)
        return other + (self.optimizer if self.embedding_optimizer is None else self.embedding_optimizer) * embedding


# What the code loads for each mode. tests/test_precision.py ties the first four to the dtypes the
# loader produces and to the optimizer state a real step allocates.
MODES = {
    "fp32-master": Mode("float32 weights + AdamW (recipes' default)", 4, 4, 8),
    # bitsandbytes keeps one float32 scale per 256-value block; transformers' Trainer keeps the
    # embedding's states in 32 bits (bnb's advice for stability), so those are 8 bytes.
    "8bit-adamw": Mode(
        "float32 weights + 8-bit AdamW states (seed-24gb.yaml)", 4, 4, 2 + 2 * 4 / 256, embedding_optimizer=8
    ),
    "bf16-pure": Mode("bf16 weights + AdamW (`dtype: bfloat16`: loses updates)", 2, 2, 4, generate_bytes=2),
    # torch-optimi keeps both moments in the weights' dtype and, with Kahan summation, one bf16
    # buffer of the rounding error per weight. Its AdamW and StableAdamW (the one transformers'
    # `optim` can name: AdamW with update clipping) hold the same state; bench/precision.py's
    # bf16-kahan row measures the AdamW's fidelity.
    "bf16-kahan": Mode(
        "bf16 weights + Kahan summation (`optim: stable_adamw`, torch-optimi's StableAdamW)", 2, 2, 6, generate_bytes=2
    ),
    # ZeRO paper's accounting for mixed precision (Rajbhandari et al. 2020): bf16 weights and
    # gradients (2 + 2) replicated, float32 master weights and both moments (12) sharded.
    "zero2": Mode(
        "ZeRO-2: bf16 weights/grads, float32 master + AdamW sharded", 2, 2, 12, sharded=True, generate_bytes=2
    ),
    # ZeRO-Offload: float32 master weights, moments and gradients (16) in host memory.
    "zero2-offload": Mode("ZeRO-2 + optimizer offload to CPU", 2, 2, 0, host=16, generate_bytes=2),
}


def mode_of(dtype: str | None, optim: str, deepspeed: str | None = None) -> str:
    """The MODES key for a run's settings (``deepspeed``: ``zero2`` or ``zero2-offload`` launch configs)."""
    if deepspeed:
        return deepspeed
    if str(dtype) in ("bfloat16", "float16", "torch.bfloat16", "torch.float16"):
        return "bf16-kahan" if optim == "stable_adamw" else "bf16-pure"
    return "8bit-adamw" if "8bit" in optim else "fp32-master"


@dataclass(frozen=True)
class ModelFacts:
    params: int
    embedding: int  # parameters of the (tied) token embedding
    layers: int
    hidden: int
    intermediate: int
    kv_dim: int
    bytes_per_value: int = 2  # bf16

    @property
    def weights_bytes(self) -> int:
        return self.params * self.bytes_per_value

    @property
    def kv_bytes_per_token(self) -> int:
        return self.layers * 2 * self.kv_dim * self.bytes_per_value

    @property
    def layer_activation_bytes_per_token(self) -> int:
        """Rough bytes one decoder layer keeps for backward per token: norms, q/k/v, attention
        output (~8 x hidden) and the SwiGLU MLP's gate, up, activation and product (4 x inter)."""
        return self.bytes_per_value * (8 * self.hidden + 4 * self.intermediate)


def model_facts(**overrides) -> ModelFacts:
    """Parameter count of Qwen2.5-Math-1.5B (``overrides`` shrink it), tied embeddings once."""
    import torch
    from transformers import AutoModelForCausalLM

    from mathgrpo.testing import qwen2_config

    config = qwen2_config(**overrides)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    params = sum(p.numel() for p in model.parameters())  # .parameters() yields a tied weight once
    head_dim = config.hidden_size // config.num_attention_heads
    return ModelFacts(
        params=params,
        embedding=config.vocab_size * config.hidden_size,
        layers=config.num_hidden_layers,
        hidden=config.hidden_size,
        intermediate=config.intermediate_size,
        kv_dim=config.num_key_value_heads * head_dim,
    )


@dataclass(frozen=True)
class RecipeShape:
    name: str
    per_device: int
    grad_accum: int
    steps_per_generation: int
    num_generations: int
    max_prompt: int
    completion: int
    mean_prompt: int
    beta: float
    use_vllm: bool
    vllm_mode: str
    vllm_share: float
    checkpointing: bool
    processes: int
    server_gpus: int
    mode: str = "fp32-master"

    @property
    def local_generation_batch(self) -> int:
        return self.per_device * self.steps_per_generation

    @property
    def rollout_completions(self) -> int:
        return self.local_generation_batch * self.processes

    @property
    def updates_per_rollout(self) -> int:
        return self.steps_per_generation // self.grad_accum

    @property
    def old_logps_pass(self) -> bool:
        # TRL computes old log-probs in an extra forward pass when a rollout feeds several
        # updates, and always with vLLM (importance-sampling correction, on by default).
        return self.grad_accum % self.steps_per_generation != 0 or self.use_vllm


def recipe_shape(path: Path) -> RecipeShape:
    from mathgrpo.train.config import parse_train_args

    script_args, args, model_args = parse_train_args(["--config", str(path), "--use_cpu", "true"])
    processes, server = LAYOUT.get(path.stem, (1, 0))
    return RecipeShape(
        name=path.stem,
        per_device=args.per_device_train_batch_size,
        grad_accum=args.gradient_accumulation_steps,
        steps_per_generation=args.steps_per_generation,
        num_generations=args.num_generations,
        max_prompt=script_args.max_prompt_length or 0,
        completion=args.max_completion_length,
        mean_prompt=MEAN_PROMPT_TOKENS.get(script_args.template, 150),
        beta=args.beta,
        use_vllm=args.use_vllm,
        vllm_mode=args.vllm_mode,
        vllm_share=args.vllm_gpu_memory_utilization,
        checkpointing=bool(args.gradient_checkpointing),
        processes=processes,
        server_gpus=server if args.use_vllm and args.vllm_mode == "server" else 0,
        mode=mode_of(model_args.dtype, str(getattr(args.optim, "value", args.optim))),
    )


def memory_estimate(m: ModelFacts, r: RecipeShape, mode: str | None = None) -> dict[str, float]:
    """Bytes per training GPU in ``mode`` (default: the recipe's own). The KV cache of HF generation
    is freed before the training pass, so the peak is the static part plus the larger of the two."""
    md = MODES[mode or r.mode]
    share = 1 / r.processes if md.sharded else 1.0
    static = m.params * md.weights + (m.params * md.grads + md.optimizer_bytes(m.params, m.embedding)) * share
    if r.beta > 0:
        static += m.params * md.weights  # reference model
    seq = r.max_prompt + r.completion
    kv_per_token = m.kv_bytes_per_token // m.bytes_per_value * md.generate_bytes
    kv = 0 if r.use_vllm else r.local_generation_batch * seq * kv_per_token
    tokens = r.per_device * seq
    layer = tokens * m.layer_activation_bytes_per_token // m.bytes_per_value * md.compute_bytes
    if r.checkpointing:  # layer inputs kept, one layer recomputed at a time
        acts = m.layers * tokens * m.hidden * md.compute_bytes + layer
    else:
        acts = m.layers * layer
    vllm = r.vllm_share if r.use_vllm and r.vllm_mode == "colocate" else 0.0
    return {
        "static": static,
        "kv": kv,
        "acts": acts,
        "peak": static + max(kv, acts),
        "vllm_share": vllm,
        "host": m.params * md.host,
    }


def floors(m: ModelFacts, r: RecipeShape, bandwidth: float, flops: float) -> dict[str, float]:
    """Lower bounds per rollout: decoding reads every weight per step plus each sequence's KV
    cache; training does (6 + 2 if recomputed) x params FLOPs per token (+2 for old log-probs)."""
    gen_gpus = r.server_gpus or r.processes
    n_local = r.rollout_completions / gen_gpus
    length = r.completion
    # vLLM decodes from its own bf16 copy; HF generation runs in the weights' own dtype (no autocast).
    value_bytes = 2 if r.use_vllm else MODES[r.mode].generate_bytes
    kv_reads = n_local * m.kv_bytes_per_token // 2 * value_bytes * (length * r.mean_prompt + length * length / 2)
    gen_s = (length * m.params * value_bytes + kv_reads) / bandwidth
    tokens = r.rollout_completions * (r.mean_prompt + length)
    per_token = 6 + (2 if r.checkpointing else 0) + (2 if r.old_logps_pass else 0)
    train_s = per_token * m.params * tokens / flops / r.processes
    gpus = r.processes + r.server_gpus
    rollout_s = gen_s + train_s  # TRL alternates: generation, then training, never both at once
    prompts = r.rollout_completions // r.num_generations
    rollouts = TRAIN_PROBLEMS / prompts
    return {
        "decode_step_ms": m.params * value_bytes / bandwidth * 1e3,
        "gen_s": gen_s,
        "train_s": train_s,
        "rollout_s": rollout_s,
        "gpus": gpus,
        "epoch_gpu_hours": rollout_s * rollouts * gpus / 3600,
        "rollouts": rollouts,
    }


def render(m: ModelFacts, shapes: list[RecipeShape], budget_gib: float, bandwidth: float, flops: float) -> str:
    gib = lambda b: f"{b / GIB:.1f}"  # noqa: E731
    lines = [
        f"Qwen2.5-Math-1.5B: {m.params:,} parameters = {m.params * 4 / 1e9:.2f} GB in float32, "
        f"{m.params * 2 / 1e9:.2f} GB in bf16; KV cache {m.kv_bytes_per_token // 2:,} values per token.",
        "",
        "Bytes per parameter by precision mode, and the seed recipe's estimated peak on one GPU (GiB):",
        "",
        "| mode | weights | gradients | optimizer | total on GPU "
        "| host memory | weights+grads+optimizer (1.5B) | seed peak |",
        "|---|---|---|---|---|---|---|---|",
    ]
    seed = next((r for r in shapes if r.name == "seed"), shapes[0])
    for key, md in MODES.items():
        e = memory_estimate(m, seed, key)
        opt = md.optimizer_bytes(m.params, m.embedding) / m.params
        lines.append(
            f"| {md.label} | {md.weights:g} | {md.grads:g} | {opt:.3g} | {md.weights + md.grads + opt:.3g} | "
            f"{md.host:g} | {gib(e['static'])} | {gib(e['peak'])} |"
        )
    lines += [
        "",
        "Estimated training memory per GPU (GiB), each recipe in its own mode:",
        "",
        "| recipe | mode | GPUs (train + vLLM) | micro-batch | generated per GPU at once | weights+grads+optimizer | "
        f"HF KV cache | activations | estimated peak | fits {budget_gib:g} GiB |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in shapes:
        e = memory_estimate(m, r)
        peak = gib(e["peak"]) + (f" + vLLM {e['vllm_share']:.0%} of the GPU" if e["vllm_share"] else "")
        fits = "yes" if e["peak"] / GIB <= budget_gib * (1 - e["vllm_share"]) else "no"
        gen_where = "vLLM" if r.use_vllm else f"{r.local_generation_batch} x {r.max_prompt + r.completion}"
        lines.append(
            f"| {r.name} | {r.mode} | {r.processes} + {r.server_gpus} | "
            f"{r.per_device} x {r.max_prompt + r.completion} | "
            f"{gen_where} | {gib(e['static'])} | {gib(e['kv'])} | {gib(e['acts'])} | {peak} | {fits} |"
        )
    dapo = next((r for r in shapes if r.name == "dapo"), None)
    if dapo is not None:
        lines += [
            "",
            f"The `dapo` recipe on {dapo.processes} GPUs under each launch config (GiB per GPU):",
            "",
            "| launch config | mode | weights+grads+optimizer | estimated peak | host memory per process |",
            "|---|---|---|---|---|",
        ]
        for config, key in (
            ("ddp.yaml", "fp32-master"),
            ("zero2.yaml", "zero2"),
            ("zero2 + offload_optimizer_device: cpu", "zero2-offload"),
        ):
            e = memory_estimate(m, dapo, key)
            lines.append(f"| {config} | {key} | {gib(e['static'])} | {gib(e['peak'])} | {gib(e['host'])} |")
    lines += [
        "",
        f"Floors per rollout on {NOMINAL_GPU}: {bandwidth / 1e12:.2f} TB/s, {flops / 1e12:.0f} TFLOP/s "
        f"(bf16 dense); mean prompt from DAPO-Math-17k; {TRAIN_PROBLEMS:,} problems per epoch. "
        "Real runs are slower: these bound the GPU-hours from below.",
        "",
        "| recipe | completions per rollout | updates per rollout | decode floor ms/step | "
        "generation floor s | training floor s | floor s/rollout | floor GPU-hours/epoch |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in shapes:
        f = floors(m, r, bandwidth, flops)
        lines.append(
            f"| {r.name} | {r.rollout_completions} ({r.rollout_completions // r.num_generations} x "
            f"{r.num_generations}) | {r.updates_per_rollout} | {f['decode_step_ms']:.2f} | {f['gen_s']:.1f} | "
            f"{f['train_s']:.1f} | {f['rollout_s']:.1f} | {f['epoch_gpu_hours']:.1f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gpu_estimate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipes", nargs="*", type=Path, default=None, help="Recipe files (default: all Qwen ones).")
    parser.add_argument("--budget-gib", type=float, default=24.0, help="GPU memory to compare against.")
    parser.add_argument("--bandwidth", type=float, default=NOMINAL_BANDWIDTH, help="Bytes/s for the floors.")
    parser.add_argument("--flops", type=float, default=NOMINAL_BF16_FLOPS, help="FLOP/s for the floors.")
    opts = parser.parse_args(argv)
    paths = opts.recipes or sorted(RECIPE_DIR.glob("*.yaml"), key=lambda p: (p.stem != "seed", p.stem))
    shapes = [recipe_shape(p) for p in paths]
    print(render(model_facts(), shapes, opts.budget_gib, opts.bandwidth, opts.flops), end="")  # noqa: T201 (the script's output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
