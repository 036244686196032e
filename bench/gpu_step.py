"""Seconds per GRPO step, tokens per second and peak GPU memory on Qwen2.5-Math-1.5B's real
shapes (exact architecture, random weights, the real Qwen2.5 tokenizer built offline).

Usage: python bench/gpu_step.py --recipe recipes/qwen2.5-math-1.5b/seed.yaml --output gpu-seed.md

Each generation backend (transformers ``generate``, transformers continuous batching, vLLM
colocate where installed) runs a few real GRPO steps through ``mathgrpo.train.run.run`` in its
own process, so peak memory is per backend and one backend's crash cannot hide another's
result. Every completion is forced to ``max_completion_length`` (end-of-sequence tokens are
suppressed) so that timings compare across backends and runs. The first rollout is warm-up
and is not timed. Prints a markdown table; ``--output`` also writes it to a file.

``--tiny`` shrinks the model to 2 layers and completions to 32 tokens: the same code path
as a CPU smoke test. Recipe fields can be overridden after ``--``:
    python bench/gpu_step.py --tiny --backends transformers -- --per_device_train_batch_size 4
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from mathgrpo.files import atomic_dir, write_atomic

REPO = Path(__file__).resolve().parents[1]
DEFAULT_RECIPE = REPO / "recipes" / "qwen2.5-math-1.5b" / "seed.yaml"

# Recipe overrides selecting each generation backend.
BACKENDS = {
    "transformers": ["--use_vllm", "false", "--use_transformers_continuous_batching", "false"],
    "continuous-batching": ["--use_vllm", "false", "--use_transformers_continuous_batching", "true"],
    "vllm": ["--use_vllm", "true", "--vllm_mode", "colocate", "--use_transformers_continuous_batching", "false"],
}
# TRL's profiling blocks that make up generation (vLLM's weight sync included: it is the
# price of generating outside the training model).
GENERATION_BLOCKS = (".transformers.generate", ".transformers.generate_batch", ".vLLM.generate", ".sync_weights")
# Small enough for a CPU, with the real vocabulary (so the tokenizer and LM head are real).
TINY = dict(
    num_hidden_layers=2,
    hidden_size=64,
    intermediate_size=128,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_position_embeddings=1024,
)
TINY_COMPLETION = 32
TINY_PROMPT_LIMIT = 256


def estimate_module():
    """The estimator (``benchkit.gpu_estimate``), imported when first needed."""
    from benchkit import gpu_estimate

    return gpu_estimate


def force_full_length(backend: str, eos_ids: list[int], length: int) -> dict:
    """Generation kwargs that keep every completion running to ``length`` tokens. transformers
    (both paths) suppresses the stop tokens outright; vLLM's ``min_tokens`` holds back EOS and
    stop tokens until ``length``."""
    if backend == "vllm":
        return {"min_tokens": length}
    return {"suppress_tokens": list(eos_ids)}


def model_dir(workdir: Path, tiny: bool, dtype: str) -> Path:
    """The random Qwen2 checkpoint, built once per (size, dtype) and reused."""
    import torch

    from mathgrpo.testing import build_random_qwen2

    path = workdir / f"qwen2.5-math-1.5b-random-{'tiny' if tiny else 'full'}-{dtype}"
    if (path / "config.json").is_file() and (path / "tokenizer.json").is_file():
        return path
    with atomic_dir(path) as tmp:  # never leave a half-written model where a finished one is expected
        build_random_qwen2(save_dir=tmp, seed=0, dtype=getattr(torch, dtype), **(TINY if tiny else {}))
    return path


def measure_bandwidth(device: str, nbytes: int) -> float:
    """Device memory bandwidth in bytes/s from a large device-to-device copy (reads and
    writes every byte once)."""
    import torch

    src = torch.empty(nbytes // 2, dtype=torch.bfloat16, device=device)
    dst = torch.empty_like(src)
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    dst.copy_(src)
    sync()
    iters = 20
    start = time.perf_counter()
    for _ in range(iters):
        dst.copy_(src)
    sync()
    seconds = time.perf_counter() - start
    del src, dst
    if device == "cuda":
        torch.cuda.empty_cache()
    return 2 * nbytes * iters / seconds


def train_argv(opts, backend: str, model: Path, out: Path, steps: int, cuda: bool) -> list[str]:
    argv = ["--config", str(opts.recipe), *BACKENDS[backend]]
    argv += [
        "--model_name_or_path",
        str(model),
        "--output_dir",
        str(out),
        "--max_steps",
        str(steps),
        "--save_strategy",
        "no",
        "--logging_steps",
        "1",
        "--report_to",
        "none",
        "--seed",
        "0",
        "--resume",
        "false",
        "--eval_strategy",
        "no",
    ]
    if opts.tiny:
        argv += ["--max_completion_length", str(TINY_COMPLETION), "--max_prompt_length", str(TINY_PROMPT_LIMIT)]
    if not cuda:
        argv += ["--use_cpu", "true", "--bf16", "false", "--dtype", "float32"]
    # The dataset goes last of ours so that `-- --dataset_name FILE` (after it) wins.
    argv += ["--dataset_name", opts.dataset]
    return argv + list(opts.overrides)


@contextmanager
def capture_trl_timings(events: list):
    """Record the durations TRL's own profiling blocks measure (generation, reward, weight
    sync), which it otherwise only sends to trackers such as wandb."""
    from trl.extras.profiling import ProfilingContext

    original = ProfilingContext._log_metrics

    def record(self, duration):
        events.append((self.name, duration))
        return original(self, duration)

    ProfilingContext._log_metrics = record
    try:
        yield
    finally:
        ProfilingContext._log_metrics = original


def one_backend(opts) -> dict:
    """Child process: run the steps, return per-rollout measurements."""
    import torch
    from transformers import TrainerCallback

    from mathgrpo.models import load_tokenizer, stop_token_ids
    from mathgrpo.train.config import parse_train_args
    from mathgrpo.train.run import run

    cuda = torch.cuda.is_available()
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    probe = parse_train_args(train_argv(opts, opts.child, opts.model, opts.workdir / "probe", 1, cuda))[1]
    per_rollout = probe.steps_per_generation // probe.gradient_accumulation_steps
    steps = per_rollout * opts.rollouts
    script_args, args, model_args = parse_train_args(
        train_argv(opts, opts.child, opts.model, opts.workdir / f"run-{opts.child}", steps, cuda)
    )
    eos = stop_token_ids(load_tokenizer(str(opts.model)))
    args.generation_kwargs = {
        **force_full_length(opts.child, eos, args.max_completion_length),
        **(args.generation_kwargs or {}),
    }

    events: list[tuple[str, float]] = []
    steps_log: list[dict] = []

    class Timer(TrainerCallback):
        def on_step_begin(self, *a, **k):
            sync()
            self.t0, self.mark = time.perf_counter(), len(events)

        def on_step_end(self, *a, **k):
            sync()
            timings = events[self.mark :]
            steps_log.append(
                {
                    "seconds": time.perf_counter() - self.t0,
                    "generation_s": sum(d for n, d in timings if n.endswith(GENERATION_BLOCKS)),
                }
            )

        def on_log(self, _args, state, control, logs=None, **k):
            if logs and "num_tokens" in logs and steps_log:
                steps_log[-1].update(num_tokens=logs["num_tokens"], mean_length=logs.get("completions/mean_length"))

    if cuda:
        torch.cuda.reset_peak_memory_stats()
    with capture_trl_timings(events):
        run(script_args, args, model_args, callbacks=[Timer()])
    tokens_before = 0
    rollouts = []
    for r in range(opts.rollouts):
        chunk = steps_log[r * per_rollout : (r + 1) * per_rollout]
        tokens_after = max([s["num_tokens"] for s in chunk if "num_tokens" in s], default=tokens_before)
        mean_length = next((s["mean_length"] for s in chunk if s.get("mean_length") is not None), 0.0)
        rollouts.append(
            {
                "seconds": sum(s["seconds"] for s in chunk),
                "generation_s": sum(s["generation_s"] for s in chunk),
                "generated_tokens": mean_length * args.generation_batch_size,
                "training_tokens": tokens_after - tokens_before,
                "mean_length": mean_length,
            }
        )
        tokens_before = tokens_after
    return {
        "backend": opts.child,
        "rollouts": rollouts,
        "updates_per_rollout": per_rollout,
        "generation_batch": args.generation_batch_size,
        "num_generations": args.num_generations,
        "max_completion_length": args.max_completion_length,
        "peak_allocated": torch.cuda.max_memory_allocated() if cuda else None,
        "peak_reserved": torch.cuda.max_memory_reserved() if cuda else None,
        "imported": imported_top_level(),
    }


def imported_top_level() -> list[str]:
    """The top-level modules this process imported (bench/device checks that the device has each)."""
    return sorted({name.split(".")[0] for name in sys.modules if not name.startswith("_")})


def summarize(result: dict, floor_s: float) -> dict:
    """Mean over the timed rollouts (all but the first, when there are several)."""
    timed = result["rollouts"][1:] or result["rollouts"]
    seconds = sum(r["seconds"] for r in timed)
    gen = sum(r["generation_s"] for r in timed)
    decode = gen / len(timed) / result["max_completion_length"]
    return {
        "step_s": seconds / (len(timed) * result["updates_per_rollout"]),
        "gen_s": gen / len(timed),
        "gen_tok_s": sum(r["generated_tokens"] for r in timed) / gen if gen else float("nan"),
        "train_tok_s": sum(r["training_tokens"] for r in timed) / max(seconds - gen, 1e-9),
        "decode_ms": decode * 1e3,
        "floor_x": decode / floor_s,
        "full_length": all(r["mean_length"] == result["max_completion_length"] for r in timed),
    }


def table(results: list[dict], facts, bandwidth: float, header: list[str]) -> str:
    floor_s = facts.weights_bytes / bandwidth
    gib = lambda b: "-" if b is None else f"{b / estimate_module().GIB:.1f}"  # noqa: E731
    lines = header + [
        "",
        "| backend | s/step | generation s/rollout | generated tok/s | training tok/s | peak allocated GiB | "
        "peak reserved GiB | decode ms/step | x bandwidth floor |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for res in results:
        if "error" in res:
            lines.append(f"| {res['backend']} | {res['error']} |" + " |" * 7)
            continue
        s = summarize(res, floor_s)
        lines.append(
            f"| {res['backend']} | {s['step_s']:.2f} | {s['gen_s']:.2f} | {s['gen_tok_s']:,.0f} | "
            f"{s['train_tok_s']:,.0f} | {gib(res['peak_allocated'])} | {gib(res['peak_reserved'])} | "
            f"{s['decode_ms']:.2f} | {s['floor_x']:.1f} |"
        )
        if not s["full_length"]:
            lines.append(f"| {res['backend']}: some completions stopped early; timings are not comparable |" + " |" * 8)
    lines += [
        "",
        f"Bandwidth floor per decode step = weights {facts.weights_bytes / 1e9:.3f} GB / measured "
        f"{bandwidth / 1e9:,.0f} GB/s = {floor_s * 1e3:.3f} ms. decode ms/step = generation time / completion "
        "length. training tok/s = prompt + completion tokens / (step time - generation time).",
    ]
    return "\n".join(lines) + "\n"


def parse(argv: list[str] | None):
    argv = list(sys.argv[1:] if argv is None else argv)
    overrides = argv[argv.index("--") + 1 :] if "--" in argv else []
    argv = argv[: argv.index("--")] if "--" in argv else argv
    p = argparse.ArgumentParser(prog="gpu_step", description=__doc__.split("\n\n")[0])
    p.add_argument("--recipe", type=Path, default=DEFAULT_RECIPE)
    p.add_argument(
        "--backends", default="transformers,continuous-batching,vllm", help=f"Comma list of: {', '.join(BACKENDS)}."
    )
    p.add_argument("--rollouts", type=int, default=3, help="Rollouts to run; the first is warm-up (default 3).")
    p.add_argument(
        "--dataset",
        default="generated:arithmetic?n=4096&seed=0&max_operand=1000",
        help="Training problems; pass a DAPO-Math-17k file for real prompt lengths.",
    )
    p.add_argument("--tiny", action="store_true", help="2-layer model, 32-token completions (CPU smoke test).")
    p.add_argument("--workdir", type=Path, default=None, help="Where the random model and runs go.")
    p.add_argument("--output", type=Path, default=None, help="Also write the table here.")
    p.add_argument("--child", choices=list(BACKENDS), help=argparse.SUPPRESS)
    p.add_argument("--model", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    opts = p.parse_args(argv)
    opts.overrides = overrides
    if opts.workdir is None:
        from mathgrpo.models import cache_dir

        opts.workdir = cache_dir() / "bench-gpu-step"
    opts.workdir.mkdir(parents=True, exist_ok=True)
    return opts


def main(argv: list[str] | None = None) -> int:
    opts = parse(argv)
    if opts.child:
        result = one_backend(opts)
        write_atomic(opts.result, json.dumps(result))
        return 0

    import torch

    cuda = torch.cuda.is_available()
    dtype = "bfloat16" if cuda else "float32"
    model = model_dir(opts.workdir, opts.tiny, dtype)
    est = estimate_module()
    facts = est.model_facts(**(TINY if opts.tiny else {}))
    facts = est.ModelFacts(**{**facts.__dict__, "bytes_per_value": 2 if cuda else 4})
    results = []
    for backend in [b.strip() for b in opts.backends.split(",") if b.strip()]:
        if backend not in BACKENDS:
            print(f"gpu_step: unknown backend {backend!r}; choose from {', '.join(BACKENDS)}", file=sys.stderr)
            return 2
        if backend == "vllm" and importlib.util.find_spec("vllm") is None:
            results.append({"backend": backend, "error": "vLLM not installed"})
            continue
        out = opts.workdir / f"result-{backend}.json"
        out.unlink(missing_ok=True)
        cmd = [
            sys.executable,
            __file__,
            "--child",
            backend,
            "--model",
            str(model),
            "--result",
            str(out),
            "--recipe",
            str(opts.recipe),
            "--rollouts",
            str(opts.rollouts),
            "--dataset",
            opts.dataset,
            "--workdir",
            str(opts.workdir),
            *(["--tiny"] if opts.tiny else []),
            "--",
            *opts.overrides,
        ]
        print(f"gpu_step: {backend} ...", file=sys.stderr, flush=True)
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if proc.returncode != 0 or not out.is_file():
            last = [line for line in proc.stdout.splitlines() if line.strip()][-1:] or ["no output"]
            results.append({"backend": backend, "error": f"failed (exit {proc.returncode}): {last[0][:160]}"})
            continue
        results.append(json.loads(out.read_text()))
    # Measured after the backends, so this process holds no GPU memory while they run.
    bandwidth = measure_bandwidth("cuda" if cuda else "cpu", (1 << 30) if cuda else (64 << 20))
    ok = [r for r in results if "error" not in r]
    device = torch.cuda.get_device_name(0) if cuda else "CPU (no GPU: smoke test, not a GPU figure)"
    header = [
        f"Device: {device}. Date: {time.strftime('%Y-%m-%d')}. torch {torch.__version__}, "
        f"transformers {version('transformers')}, trl {version('trl')}, vllm {version('vllm')}.",
        f"Command: python bench/gpu_step.py {' '.join(sys.argv[1:] if argv is None else argv)}",
        f"Recipe: {opts.recipe.name}; model: Qwen2.5-Math-1.5B architecture{' (tiny)' if opts.tiny else ''}, "
        f"random weights, {facts.params:,} parameters."
        + (
            f" Rollout: {ok[0]['generation_batch']} completions ({ok[0]['num_generations']} per prompt) x "
            f"{ok[0]['max_completion_length']} tokens, {ok[0]['updates_per_rollout']} optimizer step(s) each; "
            f"{opts.rollouts} rollouts, the first untimed."
            if ok
            else ""
        ),
    ]
    text = table(results, facts, bandwidth, header)
    print(text, end="")
    if opts.output:
        opts.output.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(opts.output, text)
    return 0 if ok else 1


def version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as _version

    try:
        return _version(package)
    except PackageNotFoundError:
        return "not installed"


if __name__ == "__main__":
    sys.exit(main())
