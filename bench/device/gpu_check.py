"""The first GPU hour, prepared: GRPO steps of the seed recipes on Qwen2.5-Math-1.5B's real shapes
(random weights, the offline Qwen2.5 tokenizer), one dynamic-sampling step and one `mathgrpo eval`
batch on MATH-500, with the numbers a user choosing between a 24 GB and an 80 GB card needs.

Usage (on the lent GPU, through bench/device/run.sh): python bench/device/gpu_check.py --out DIR
       (anywhere, no GPU: the same code path on a tiny model) python bench/device/gpu_check.py --dry-run --out DIR

Modes, in order of priority (a mode that would not finish inside --budget-s is skipped and said so):
  seed        seed.yaml: float32 master weights + bf16 autocast, AdamW (2 rollouts, the first untimed)
  seed-24gb   seed-24gb.yaml: the same with bitsandbytes' 8-bit AdamW states (1 rollout)
  eval        `mathgrpo eval` on the first 8 MATH-500 problems, one batch, transformers backend
  dynamic     seed.yaml + dynamic sampling (accuracy; a random model is always wrong, so each step
              runs max_resample_rounds=2 generation rounds: the cost of a refill round)
  bf16-kahan  seed.yaml with `dtype: bfloat16`, `optim: stable_adamw` (torch-optimi, Kahan summation)
Each training mode is bench/gpu_step.py's child in its own process (peak memory per mode; one
mode's crash cannot hide another's result); completions are forced to max_completion_length.
After every mode DIR/gpu-check.json and DIR/gpu-check.md are rewritten whole (atomically), so a
run cut short still leaves every finished mode.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BENCH = REPO / "bench"
sys.path.insert(0, str(BENCH))  # bench/gpu_step.py, a script beside this folder, holds the step measurement
from benchkit.paths import shared_data_dir  # noqa: E402  (importable once bench/ is on the path)

QWEN = REPO / "recipes" / "qwen2.5-math-1.5b"
GIB = 1024**3
CARDS_GIB = (24, 32, 80)
CONTEXT_GIB = 1.0  # CUDA context and allocator slack outside PyTorch's pool, added before judging a fit
# name: (recipe, overrides, rollouts on a GPU, seconds it is expected to take on an H200)
TRAINING = {
    "seed": ("seed.yaml", [], 2, 170),
    "seed-24gb": ("seed-24gb.yaml", [], 1, 100),
    "dynamic": (
        "seed.yaml",
        ["--dynamic_sampling", "true", "--dynamic_sampling_metric", "accuracy", "--max_resample_rounds", "2"],
        1,
        160,
    ),
    "bf16-kahan": ("seed.yaml", ["--dtype", "bfloat16", "--optim", "stable_adamw"], 1, 100),
}
EVAL_SECONDS = 100
ORDER = ("seed", "seed-24gb", "eval", "dynamic", "bf16-kahan")
EVAL_PROBLEMS = 8


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": sys.version.split()[0]}
    for name in (
        "torch",
        "transformers",
        "trl",
        "accelerate",
        "datasets",
        "peft",
        "bitsandbytes",
        "torch-optimi",
        "math-verify",
        "tokenizers",
        "huggingface-hub",
    ):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def device_facts() -> dict:
    import torch

    facts = {"cuda": torch.cuda.is_available()}
    if facts["cuda"]:
        props = torch.cuda.get_device_properties(0)
        facts.update(name=props.name, memory_gib=round(props.total_memory / GIB, 1), cuda_version=torch.version.cuda)
        try:
            query = ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"]
            facts["driver"] = subprocess.run(query, capture_output=True, text=True, timeout=30).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            facts["driver"] = "unknown"
    else:
        facts["name"] = "CPU (dry run: tiny model, not a GPU figure)"
    return facts


def run_training(name: str, opts, model: Path) -> dict:
    recipe, overrides, rollouts, _ = TRAINING[name]
    result = opts.workdir / f"result-{name}.json"
    result.unlink(missing_ok=True)
    dataset = "generated:arithmetic?n=4096&seed=0&max_operand=1000"
    cmd = [
        sys.executable,
        str(BENCH / "gpu_step.py"),
        "--child",
        "transformers",
        "--model",
        str(model),
        "--result",
        str(result),
        "--recipe",
        str(QWEN / recipe),
        "--rollouts",
        str(1 if opts.dry_run else rollouts),
        "--dataset",
        dataset,
        "--workdir",
        str(opts.workdir / name),
        *(["--tiny"] if opts.dry_run else []),
        "--",
        *overrides,
    ]
    return child(cmd, result)


def run_eval(opts, model: Path) -> dict:
    result = opts.workdir / "result-eval.json"
    result.unlink(missing_ok=True)
    out = opts.workdir / "eval"
    argv = [
        "eval",
        "--model",
        str(model),
        "--benchmarks",
        "math500",
        "--data-dir",
        str(opts.data_dir),
        "--limit",
        str(2 if opts.dry_run else EVAL_PROBLEMS),
        "--n",
        "1",
        "--temperature",
        "0",
        "--max-new-tokens",
        str(16 if opts.dry_run else 2048),
        "--batch-size",
        str(EVAL_PROBLEMS),
        "--template",
        "think_boxed",
        "--output",
        str(out),
    ]
    cmd = [sys.executable, __file__, "--eval-child", str(result), "--out", str(opts.out), "--", *argv]
    return child(cmd, result)


def child(cmd: list[str], result: Path) -> dict:
    start = time.monotonic()
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seconds = time.monotonic() - start
    if proc.returncode != 0 or not result.is_file():
        lines = [line for line in proc.stdout.splitlines() if line.strip()]
        return {"error": f"exit {proc.returncode}: {(lines[-1] if lines else 'no output')[:300]}", "wall_s": seconds}
    return {**json.loads(result.read_text()), "wall_s": seconds}


def eval_child(result: Path, argv: list[str]) -> int:
    """In its own process: one `mathgrpo eval` batch, timed, with the GPU's peak memory."""
    import torch
    from gpu_step import imported_top_level

    from mathgrpo.cli import main
    from mathgrpo.files import write_atomic

    cuda = torch.cuda.is_available()
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    start = time.monotonic()
    code = main(argv)
    seconds = time.monotonic() - start
    out = Path(argv[argv.index("--output") + 1])
    samples = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines() if line.strip()]
    tokens = sum(int(s.get("n_tokens") or 0) for s in samples)
    write_atomic(
        result,
        json.dumps(
            {
                "exit": code,
                "seconds": seconds,
                "samples": len(samples),
                "generated_tokens": tokens,
                "peak_allocated": torch.cuda.max_memory_allocated() if cuda else None,
                "peak_reserved": torch.cuda.max_memory_reserved() if cuda else None,
                "imported": imported_top_level(),
            }
        ),
    )
    return code


def worker_imports() -> list[str]:
    """The grading worker's imports (math-verify runs in worker processes, never in the trainer's):
    its top-level modules, or an empty list when it cannot start (the modes will then say why)."""
    code = (
        "import json, sys; from mathgrpo.grading.worker import Checker; Checker(); "
        "print(json.dumps(sorted({n.split('.')[0] for n in sys.modules if not n.startswith('_')})))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    return json.loads(proc.stdout.strip().splitlines()[-1]) if proc.returncode == 0 and proc.stdout.strip() else []


def estimate(name: str) -> float | None:
    """bench's estimator's peak bytes for a training mode (full-size model), or None."""
    from benchkit import gpu_estimate as est

    recipe, overrides, *_ = TRAINING[name]
    shape = est.recipe_shape(QWEN / recipe)
    mode = est.mode_of("bfloat16", "stable_adamw") if "--dtype" in overrides else None
    return est.memory_estimate(est.model_facts(), shape, mode)["peak"]


def fits(reserved: float | None) -> dict[str, bool] | None:
    if reserved is None:
        return None
    return {f"{gib} GB": reserved / GIB + CONTEXT_GIB <= gib for gib in CARDS_GIB}


def summarize(name: str, res: dict, dry_run: bool) -> dict:
    if "error" in res or "skipped" in res:
        return res
    row = {
        "wall_s": round(res["wall_s"], 1),
        "peak_allocated_gib": gib(res.get("peak_allocated")),
        "peak_reserved_gib": gib(res.get("peak_reserved")),
        "fits": fits(res.get("peak_reserved")),
    }
    if name == "eval":
        row.update(
            seconds=round(res["seconds"], 1),
            samples=res["samples"],
            generated_tokens=res["generated_tokens"],
            tok_s=round(res["generated_tokens"] / res["seconds"], 1) if res["seconds"] else None,
        )
        return row
    import gpu_step

    timed = res["rollouts"][1:] or res["rollouts"]
    s = gpu_step.summarize(res, floor_s=1.0)
    row.update(
        step_s=round(s["step_s"], 2),
        generation_s=round(s["gen_s"], 2),
        training_s=round(s["step_s"] * res["updates_per_rollout"] - s["gen_s"], 2),
        generated_tok_s=round(s["gen_tok_s"], 1),
        full_length=s["full_length"],
        warm_up_included=len(res["rollouts"]) == 1,
        rollouts_timed=len(timed),
        completions=res["generation_batch"],
        completion_tokens=res["max_completion_length"],
    )
    if not dry_run and res.get("peak_allocated"):
        predicted = estimate(name)
        row["estimate_gib"] = gib(predicted)
        row["measured_over_estimate"] = round(res["peak_allocated"] / predicted, 3)
        row["estimate_off_by_more_than_10pct"] = abs(res["peak_allocated"] / predicted - 1) > 0.10
    return row


def gib(value: float | None) -> float | None:
    return None if value is None else round(value / GIB, 2)


def markdown(report: dict) -> str:
    dev, ver = report["device"], report["versions"]
    lines = [
        f"# GPU check ({'dry run, tiny model on CPU' if report['dry_run'] else dev['name']})",
        "",
        f"Date: {report['date']}. Device: {dev['name']}"
        + (
            f", driver {dev.get('driver')}, CUDA {dev.get('cuda_version')}, {dev.get('memory_gib')} GiB"
            if dev["cuda"]
            else ""
        )
        + ".",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in ver.items()) + ".",
        f"Command: `{report['command']}`. Model: Qwen2.5-Math-1.5B architecture"
        + (" (tiny)" if report["dry_run"] else "")
        + ", random weights; completions forced to full length.",
        "",
        "| mode | s/step | generation s | training s | generated tok/s | peak allocated GiB | "
        "peak reserved GiB | fits 24 / 32 / 80 GB | estimate GiB (measured/estimate) | note |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    show = lambda v: "-" if v is None else v  # noqa: E731 (no GPU memory on a dry run)
    for name in ORDER:
        row = report["modes"].get(name)
        if row is None:
            continue
        if "error" in row or "skipped" in row:
            lines.append(f"| {name} | | | | | | | | | {row.get('error') or row.get('skipped')} |")
            continue
        fit = " / ".join("yes" if ok else "no" for ok in (row["fits"] or {}).values()) or "-"
        est = f"{row['estimate_gib']} ({row['measured_over_estimate']})" if row.get("estimate_gib") else "-"
        if name == "eval":
            lines.append(
                f"| eval: {row['samples']} MATH-500 problems, one batch | {row['seconds']} (batch) | | | "
                f"{row['tok_s']} | {show(row['peak_allocated_gib'])} | "
                f"{show(row['peak_reserved_gib'])} | {fit} | - | "
                f"{row['generated_tokens']} tokens |"
            )
            continue
        note = []
        if row["warm_up_included"]:
            note.append("one rollout: includes warm-up")
        if not row["full_length"]:
            note.append("some completions ended early")
        if row.get("estimate_off_by_more_than_10pct"):
            note.append("estimate off by >10%")
        lines.append(
            f"| {name} | {row['step_s']} | {row['generation_s']} | {row['training_s']} | "
            f"{row['generated_tok_s']} | {show(row['peak_allocated_gib'])} | "
            f"{show(row['peak_reserved_gib'])} | {fit} | "
            f"{est} | {'; '.join(note)} |"
        )
    lines += [
        "",
        f"A mode fits a card when peak reserved + {CONTEXT_GIB:g} GiB (CUDA context) is at most its size. "
        "s/step is per optimizer step; generation and training seconds are per rollout.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    rest = argv[argv.index("--") + 1 :] if "--" in argv else []
    argv = argv[: argv.index("--")] if "--" in argv else argv
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--dry-run", action="store_true", help="tiny model, same code path (runs on a CPU)")
    ap.add_argument("--modes", default=",".join(ORDER))
    ap.add_argument("--budget-s", type=float, default=540.0, help="skip a mode that would end past this")
    ap.add_argument("--data-dir", type=Path, default=shared_data_dir() / "eval")
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--eval-child", type=Path, help=argparse.SUPPRESS)
    opts = ap.parse_args(argv)
    if opts.eval_child:
        return eval_child(opts.eval_child, rest)
    from mathgrpo.files import write_atomic

    started = time.monotonic()
    opts.out.mkdir(parents=True, exist_ok=True)
    opts.workdir = opts.workdir or Path("/tmp") / f"gpu-check-{'dry' if opts.dry_run else 'full'}"
    opts.workdir.mkdir(parents=True, exist_ok=True)
    import gpu_step
    import torch

    cuda = torch.cuda.is_available()
    if not cuda and not opts.dry_run:
        print("gpu_check: no GPU here; use --dry-run for the CPU smoke run", file=sys.stderr)
        return 2
    model = gpu_step.model_dir(opts.workdir, opts.dry_run, "bfloat16" if cuda else "float32")
    report = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "dry_run": opts.dry_run,
        "command": "python bench/device/gpu_check.py " + " ".join(argv),
        "device": device_facts(),
        "versions": versions(),
        "modes": {},
        "imports": worker_imports(),
    }
    for name in [m.strip() for m in opts.modes.split(",") if m.strip()]:
        expected = EVAL_SECONDS if name == "eval" else TRAINING[name][3]
        if not opts.dry_run and time.monotonic() - started + expected > opts.budget_s:
            report["modes"][name] = {"skipped": f"budget: {expected} s more would pass --budget-s {opts.budget_s:g}"}
        else:
            print(f"gpu_check: {name} ...", file=sys.stderr, flush=True)
            res = run_eval(opts, model) if name == "eval" else run_training(name, opts, model)
            report["imports"] = sorted(set(report["imports"]) | set(res.pop("imported", [])))
            report["modes"][name] = summarize(name, res, opts.dry_run)
        write_atomic(opts.out / "gpu-check.json", json.dumps(report, indent=1))
        write_atomic(opts.out / "gpu-check.md", markdown(report))
    print(markdown(report))
    return 0 if any("error" not in r and "skipped" not in r for r in report["modes"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
