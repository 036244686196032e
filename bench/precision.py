"""Do the updates land? The same GRPO steps from the same seed at the seed recipe's learning rate
(1e-6), in each precision mode, on the real SmolLM2-135M-Instruct, compared with float32 master
weights.

Usage: python bench/precision.py [--steps 3] [--modes fp32-master,bf16-pure,...] [--output table.md]

Each mode runs ``mathgrpo train`` (the demo recipe at lr 1e-6) in its own process and saves its
final weights. Per mode it reports: the share of the weights that float32 training moved which
moved here too, the update's norm relative to float32's, the cosine between the two updates,
the bytes per parameter of weights + gradients + optimizer state counted on the live tensors
during a step, and seconds per step. Modes:

  fp32-master    dtype float32, AdamW (the recipes' default; the reference)
  bf16-pure      dtype bfloat16, AdamW: updates rounded into bf16 weights
  8bit-adamw     dtype float32, bitsandbytes' 8-bit AdamW states (seed-24gb.yaml)
  bf16-kahan     dtype bfloat16, optimi's AdamW with Kahan-compensated updates (torch-optimi)
  bf16-stochastic dtype bfloat16, torchao's AdamW with stochastic rounding into bf16 (torchao)
  zero2-offload  DeepSpeed ZeRO-2, optimizer (float32 master + AdamW) offloaded to CPU memory,
                 bf16 weights in the model (accelerate launch, one process)

A mode whose library is not installed is reported as such.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RECIPE = REPO / "recipes" / "demo" / "smollm2-cpu.yaml"
# Bare sums and products ("What is 3 + 4?"): the model gets some right and some wrong from the
# first step, so every group carries a gradient (a group with one reward for all has none).
DATASET = "generated:bare?n=64&seed=0&max_operand=10"
MODES = {
    "fp32-master": {"args": ["--dtype", "float32", "--optim", "adamw_torch"], "needs": None},
    "bf16-pure": {"args": ["--dtype", "bfloat16", "--optim", "adamw_torch"], "needs": None},
    "8bit-adamw": {"args": ["--dtype", "float32", "--optim", "adamw_bnb_8bit"], "needs": "bitsandbytes"},
    "bf16-kahan": {"args": ["--dtype", "bfloat16"], "needs": "optimi"},
    "bf16-stochastic": {"args": ["--dtype", "bfloat16"], "needs": "torchao"},
    "zero2-offload": {"args": ["--dtype", "float32", "--optim", "adamw_torch"], "needs": "deepspeed"},
}
ZERO2_OFFLOAD = REPO / "recipes" / "accelerate" / "zero2-offload.yaml"


def custom_optimizer(mode: str, model, lr: float):
    """The optimizers transformers has no `optim` name for."""
    params = [p for p in model.parameters() if p.requires_grad]
    if mode == "bf16-kahan":
        from optimi import AdamW

        return AdamW(params, lr=lr, weight_decay=0.0, kahan_sum=True)
    if mode == "bf16-stochastic":
        from torchao.optim import _AdamW

        return _AdamW(params, lr=lr, weight_decay=0.0, bf16_stochastic_round=True)
    return None


def tensor_bytes(tensors) -> int:
    import torch

    return sum(t.numel() * t.element_size() for t in tensors if torch.is_tensor(t))


def optimizer_state_bytes(optimizer) -> tuple[int, int]:
    """(bytes in the optimizer's state, bytes of float32 master copies) -- DeepSpeed keeps its
    master weights outside ``state``."""
    import torch

    inner = getattr(optimizer, "optimizer", optimizer)  # accelerate / DeepSpeed wrappers
    holders = [o for o in (optimizer, inner, getattr(inner, "optimizer", None)) if o is not None]
    states = {id(h.state): h.state for h in holders if isinstance(getattr(h, "state", None), dict)}
    state = 0
    for per_param in states.values():  # accelerate's wrapper shares its inner optimizer's dict
        for s in per_param.values():
            state += sum(v.numel() * v.element_size() for k, v in s.items() if torch.is_tensor(v) and k != "step")
    master = tensor_bytes(getattr(inner, "single_partition_of_fp32_groups", []))
    return state, master


def child(opts) -> int:
    """Run one mode's training in this process and write its measurements."""
    import torch
    from transformers import TrainerCallback

    from mathgrpo.train.config import parse_train_args
    from mathgrpo.train.run import run

    mode = opts.child
    argv = [
        "--config",
        str(RECIPE),
        "--learning_rate",
        "1e-6",
        "--max_steps",
        str(opts.steps),
        "--save_strategy",
        "no",
        "--log_completions",
        "false",
        "--num_completions_to_print",
        "0",
        "--bf16",
        str(opts.bf16).lower(),
        "--output_dir",
        str(opts.workdir / mode),
        "--dataset_name",
        DATASET,
        "--overwrite_output_dir",
        "true",
        "--seed",
        "0",
        *MODES[mode]["args"],
        *opts.overrides,
    ]
    script_args, args, model_args = parse_train_args(argv)
    seen: dict = {}

    class Measure(TrainerCallback):
        def on_step_begin(self, *a, **k):
            self.t0 = time.perf_counter()

        def on_pre_optimizer_step(self, args, state, control, model=None, **k):
            params = [p for p in model.parameters() if p.requires_grad]
            seen["params"] = sum(p.numel() for p in params)
            seen["weights"] = tensor_bytes(p.data for p in params)
            seen["grads"] = tensor_bytes(p.grad for p in params if p.grad is not None)

        def on_optimizer_step(self, args, state, control, optimizer=None, **k):
            seen["optimizer"], seen["master"] = optimizer_state_bytes(optimizer)

        def on_step_end(self, *a, **k):
            seen.setdefault("seconds", []).append(time.perf_counter() - self.t0)

        def on_log(self, args, state, control, logs=None, **k):
            if logs and "frac_reward_zero_std" in logs:
                seen.setdefault("zero_std", []).append(logs["frac_reward_zero_std"])

    make = (
        (lambda model: custom_optimizer(mode, model, args.learning_rate))
        if mode in ("bf16-kahan", "bf16-stochastic")
        else None
    )
    trainer = run(script_args, args, model_args, callbacks=[Measure()], make_optimizer=make)
    if mode in ("bf16-kahan", "zero2-offload"):
        # The weights the model computes with are bf16; the value the optimizer tracks is kept apart:
        # weights + Kahan compensation buffer, or DeepSpeed's float32 master copy.
        from safetensors.torch import save_file

        effective = {}
        for name, param in trainer.model.named_parameters():
            if mode == "zero2-offload":
                from deepspeed.utils import safe_get_full_fp32_param

                effective[name] = safe_get_full_fp32_param(param).detach().float().contiguous()
            else:
                comp = trainer.optimizer.state.get(param, {}).get("kahan_comp")
                effective[name] = (param.detach().float() + (comp.float() if comp is not None else 0)).contiguous()
        save_file(effective, str(opts.workdir / mode / "effective.safetensors"))
    seen["mode"] = mode
    seen["torch_threads"] = torch.get_num_threads()
    Path(opts.result).write_text(json.dumps(seen))
    return 0


def compare(workdir: Path, modes: list[str], initial: Path) -> dict[str, dict]:
    """Update statistics of each mode's final weights against float32's."""
    import torch
    from safetensors.torch import load_file

    start = load_file(initial / "model.safetensors")
    ref_final = load_file(workdir / "fp32-master" / "model.safetensors")
    ref = {k: ref_final[k].float() - start[k].float() for k in ref_final}
    stats = {}
    paths = {m: workdir / m / "model.safetensors" for m in modes}
    if "bf16-kahan" in modes:
        paths["bf16-kahan, weights + compensation buffer"] = workdir / "bf16-kahan" / "effective.safetensors"
    if "zero2-offload" in modes:
        paths["zero2-offload, float32 master weights"] = workdir / "zero2-offload" / "effective.safetensors"
    for mode, path in paths.items():
        if not path.is_file():
            continue
        final = load_file(path)
        final = {k.removeprefix("model.").removeprefix("module."): v for k, v in final.items()}
        final = {k if k in start else "model." + k: v for k, v in final.items()}
        moved = asked = 0
        dot = nd = nr = 0.0
        for k, r in ref.items():
            if k not in final:
                continue
            # Kahan and DeepSpeed both start from the bf16-rounded weights (DeepSpeed casts the model).
            # (Only the derived rows, named "<mode>, ...": the fp32-master reference itself starts in float32.)
            dtype = torch.bfloat16 if "," in mode else final[k].dtype
            base = start[k].to(dtype).float()  # a bf16 mode starts from the rounded weights
            d = final[k].float() - base
            mask = r != 0
            asked += int(mask.sum())
            moved += int((d[mask] != 0).sum())
            dot += float((d.double() * r.double()).sum())
            nd += float((d.double() ** 2).sum())
            nr += float((r.double() ** 2).sum())
        stats[mode] = {
            "moved": moved / max(asked, 1),
            "norm_ratio": (nd / nr) ** 0.5 if nr else float("nan"),
            "cosine": dot / (nd * nr) ** 0.5 if nd and nr else float("nan"),
        }
        del final
    torch.cuda.empty_cache() if torch.cuda.is_available() else None
    return stats


def run_mode(opts, mode: str) -> dict:
    result = opts.workdir / f"{mode}.json"
    result.unlink(missing_ok=True)
    # DeepSpeed computes in bf16 (its master weights are float32): the launch config says bf16.
    bf16 = True if mode == "zero2-offload" else opts.bf16
    me = [
        __file__,
        "--child",
        mode,
        "--result",
        str(result),
        "--steps",
        str(opts.steps),
        "--workdir",
        str(opts.workdir),
        "--bf16",
        str(bf16).lower(),
        "--",
        *opts.overrides,
    ]
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": os.environ.get("CUDA_VISIBLE_DEVICES", "")}
    if mode == "zero2-offload":
        cmd = [
            sys.executable,
            "-m",
            "accelerate.commands.launch",
            "--config_file",
            str(ZERO2_OFFLOAD),
            "--num_processes",
            "1",
            "--main_process_port",
            "29517",
            *me,
        ]
    else:
        cmd = [sys.executable, *me]
    started = time.time()
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    if proc.returncode != 0 or not result.is_file():
        lines = [line for line in proc.stdout.splitlines() if line.strip()]
        tail = next((line for line in reversed(lines) if "Error" in line), lines[-1] if lines else "no output")
        return {"mode": mode, "error": f"exit {proc.returncode}: {tail.strip()[:200]}"}
    out = json.loads(result.read_text())
    out["wall"] = time.time() - started
    result.write_text(json.dumps(out))
    return out


def render(results: list[dict], stats: dict, opts, command: str) -> str:
    import platform

    import torch

    lines = [
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}. "
        f"Date: {time.strftime('%Y-%m-%d')}. Command: `{command}`",
        f"Model: SmolLM2-135M-Instruct; recipe {RECIPE.relative_to(REPO)} at learning_rate 1e-6, {opts.steps} GRPO "
        f"steps, seed 0, compute {'bf16 autocast' if opts.bf16 else 'float32 (weights as the mode says)'}.",
        "",
        "| mode | moved (share of the weights float32 moved) | update norm / float32's | cosine with float32's update "
        "| bytes/param: weights + grads + optimizer (+ master) | s/step | groups with a signal |",
        "|---|---|---|---|---|---|---|",
    ]
    extra = [{**r, "mode": m} for r in results for m in stats if m.startswith(r["mode"] + ",")]
    for r in [*results, *extra]:
        if "error" in r:
            lines.append(f"| {r['mode']} | not measured: {r['error']} | | | | | |")
            continue
        s = stats.get(r["mode"], {})
        n = r["params"]
        parts = [r["weights"] / n, r["grads"] / n, r.get("optimizer", 0) / n]
        master = r.get("master", 0) / n
        bytes_cell = " + ".join(f"{p:.2f}" for p in parts) + (f" + {master:.2f}" if master else "")
        total = sum(parts) + master
        timed = r["seconds"][1:] or r["seconds"]
        signal = 1 - sum(r.get("zero_std", [])) / max(len(r.get("zero_std", [])), 1)
        lines.append(
            f"| {r['mode']} | {s.get('moved', float('nan')):.1%} | {s.get('norm_ratio', float('nan')):.3f} | "
            f"{s.get('cosine', float('nan')):.3f} | {bytes_cell} = {total:.2f} | "
            f"{sum(timed) / len(timed):.1f} | {signal:.0%} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    overrides = argv[argv.index("--") + 1 :] if "--" in argv else []
    argv = argv[: argv.index("--")] if "--" in argv else argv
    p = argparse.ArgumentParser(prog="precision", description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--modes", default=",".join(MODES))
    # bf16 matrix products are ~20x slower than float32 ones on CPUs without bf16 instructions;
    # what is under test is the dtype of the weights and of the optimizer state, not the compute.
    p.add_argument(
        "--bf16",
        type=lambda s: s.lower() == "true",
        default=False,
        help="bf16 autocast for float32 weights (default false: float32 compute)",
    )
    p.add_argument("--workdir", type=Path, default=None)
    p.add_argument("--output", type=Path, default=None)
    p.add_argument("--fresh", action="store_true", help="rerun modes already measured in --workdir")
    p.add_argument("--child", choices=list(MODES), help=argparse.SUPPRESS)
    p.add_argument("--result", help=argparse.SUPPRESS)
    opts = p.parse_args(argv)
    opts.overrides = overrides
    opts.workdir = opts.workdir or Path(tempfile.mkdtemp(prefix="mathgrpo-precision-"))
    opts.workdir.mkdir(parents=True, exist_ok=True)
    if opts.child:
        return child(opts)
    from mathgrpo.models import resolve_model

    initial = Path(resolve_model("smollm2-135m-instruct"))
    modes = [m.strip() for m in opts.modes.split(",") if m.strip()]
    if modes[0] != "fp32-master":
        modes = ["fp32-master", *[m for m in modes if m != "fp32-master"]]  # the reference runs first
    results = []
    for mode in modes:
        needs = MODES[mode]["needs"]
        if needs and importlib.util.find_spec(needs) is None:
            results.append({"mode": mode, "error": f"{needs} is not installed"})
            continue
        done = opts.workdir / f"{mode}.json"
        if done.is_file() and (opts.workdir / mode / "model.safetensors").is_file() and not opts.fresh:
            results.append(json.loads(done.read_text()))  # measured by an earlier run into this workdir
            continue
        print(f"precision: {mode} ...", file=sys.stderr, flush=True)
        results.append(run_mode(opts, mode))
        print(f"precision: {mode} done: {results[-1].get('error', 'ok')}", file=sys.stderr, flush=True)
    stats = compare(opts.workdir, [r["mode"] for r in results if "error" not in r], initial)
    text = render(results, stats, opts, "python bench/precision.py " + " ".join(sys.argv[1:] if argv is None else argv))
    print(text, end="")
    if opts.output:
        from mathgrpo.files import write_atomic

        write_atomic(opts.output, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
