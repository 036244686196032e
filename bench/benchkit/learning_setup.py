"""The learning benchmark's fixed setup (model, template, sets, profiles) and its eval command, shared
by bench/learning.py, bench/dynamic_compare.py and the page (learning_page.py).

Usage: ``from benchkit.learning_setup import SETS, eval_args``
"""

from __future__ import annotations

from pathlib import Path

from benchkit.paths import shared_data_dir

# The bench helpers serve a checkout (bench/ scripts, tests): bench/benchkit/ is two levels below the root.
REPO = Path(__file__).resolve().parents[2]
MODEL = "smollm2-135m-instruct"
TEMPLATE = "boxed_example"
MAX_OPERAND = 40
SAMPLED = {"temperature": "0.7", "top-p": "1.0", "max-new-tokens": "48", "seed": "0"}
# Bare questions ("What is 17 * 23?"), not word problems: the base model truncates four in five
# word-problem answers at 48 tokens, so GRPO's groups carry no signal (measured on validation
# facts, docs/learning.md). 64 held-out problems x 16 samples: eval is ~0.3 s per sample on 2
# cores, the largest cost of the benchmark (its wall time per stage is on the page).
KIND = "bare"
SETS = {
    "unseen": {
        "benchmark": f"generated:{KIND}?n=64&seed=2026&split=test&max_operand={MAX_OPERAND}",
        "n": 16,
        **SAMPLED,
    },
    "seen": {"benchmark": "seen.jsonl", "n": 4, **SAMPLED},
    # Greedy with room to finish; before training and after seed 0 only (each pass is ~8 minutes
    # on 2 cores), so the transfer number is one run's, not a seed mean.
    "gsm8k": {
        "benchmark": "gsm8k",
        "limit": "200",
        "n": 1,
        "temperature": "0",
        "max-new-tokens": "256",
        "seed": "0",
        "seeds": [0],
    },
}
VALIDATION = {
    "benchmark": f"generated:{KIND}?n=64&seed=7&split=validation&max_operand={MAX_OPERAND}",
    "n": 4,
    **SAMPLED,
}
# The task considered and set aside: the same validation facts as word problems, scored before training.
VALIDATION_WORD = {
    **VALIDATION,
    "benchmark": f"generated:arithmetic?n=64&seed=7&split=validation&max_operand={MAX_OPERAND}",
}
PROFILES = {
    "cpu": {
        "name": "cpu",
        "recipe": "recipes/demo/learning-cpu.yaml",
        "seeds": [0, 1, 2],
        "threads": 2,
        "batch": 64,
        "docs": "learning",
    },
    "gpu": {
        "name": "gpu",
        "recipe": "recipes/demo/learning-gpu.yaml",
        "seeds": [0, 1, 2, 3, 4],
        "threads": None,
        "batch": 512,
        "docs": "learning-gpu",
    },
}
STAGES_FILE = "stages.json"


def shared_eval_dir() -> Path:
    return shared_data_dir() / "eval"


def eval_args(model: str, spec: dict, out: Path, run: Path, batch: int) -> list[str]:
    bench = spec["benchmark"]
    args = [
        "eval",
        "--model",
        model,
        "--benchmarks",
        str(run / bench) if bench.endswith(".jsonl") else bench,
        "--template",
        TEMPLATE,
        "--output",
        str(out),
        "--batch-size",
        str(batch),
        "--n",
        str(spec["n"]),
    ]
    for key in ("temperature", "top-p", "max-new-tokens", "seed", "limit"):
        if key in spec:
            args += [f"--{key}", str(spec[key])]
    if bench == "gsm8k":
        args += ["--data-dir", str(shared_eval_dir())]
    return args


def eval_done(folder: Path) -> bool:
    return (folder / "summary.json").is_file()
