"""Does GRPO teach? Accuracy of a real pretrained model on facts it never trained on, before and
after `mathgrpo train`, over several training seeds.

Usage:
  python bench/learning.py --profile cpu --tune NAME="--learning_rate 2e-5" [--tune ...]
      choose settings: train each candidate (seed 0) and score it on the VALIDATION facts
  python bench/learning.py --profile cpu
      the frozen recipe, once: held-out test facts, seen facts and GSM8K before training, then
      train and evaluate every seed; writes docs/learning.md and its plots

Everything runs the project's own commands (``mathgrpo eval`` / ``mathgrpo train``) into
``output/learning-<profile>/``; a finished stage is skipped on a rerun, an interrupted one resumes.

The sets (``generated:`` problems are split by fact, see src/mathgrpo/data/synthetic.py):
  unseen   held-out test facts, a seed no earlier run used (the headline), n samples each
  seen     the training problems' own facts in new words (other names and items)
  gsm8k    the first 200 GSM8K test problems, greedy, room to finish (transfer; no target)
  validation  validation facts (disjoint from train and test): the only set settings are chosen on
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path

from benchkit.learning_setup import (
    MODEL,
    PROFILES,
    REPO,
    SETS,
    STAGES_FILE,
    VALIDATION,
    VALIDATION_WORD,
    eval_args,
    eval_done,
)


def mathgrpo(args: list[str], env: dict) -> None:
    """Run one ``mathgrpo`` verb in a subprocess (the user's command, same interpreter)."""
    print("$ mathgrpo " + shlex.join(args), flush=True)
    cmd = [sys.executable, "-c", "import sys; from mathgrpo.cli import main; sys.exit(main())", *args]
    subprocess.run(cmd, env=env, cwd=REPO, check=True)


def write_seen_set(recipe: Path, path: Path) -> None:
    """The training problems' facts: for word problems in new words (same operation and numbers,
    another name and item); bare questions have one wording, so they are asked as trained."""
    import yaml

    from mathgrpo.data.synthetic import ITEMS, NAMES, WORD, generate

    if path.is_file():
        return
    spec = yaml.safe_load(recipe.read_text())["dataset_name"]
    rows = []
    for i, r in enumerate(generate(spec)):
        problem = r["problem"]
        if spec.startswith("generated:arithmetic"):
            # Another name and another item than the training text's, rotating through the lists.
            names = [n for n in NAMES if f"{n} " not in r["problem"]]
            items = [it for it in ITEMS if f" {it}" not in r["problem"]]
            problem = WORD[r["op"]].format(a=r["a"], b=r["b"], name=names[i % len(names)], item=items[i % len(items)])
        rows.append({"problem": problem, "answer": r["answer"], "id": str(i)})
    from mathgrpo.files import write_atomic

    write_atomic(path, "".join(json.dumps(r) + "\n" for r in rows))


def machine(threads: int | None) -> str:
    import torch

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores, {gpu}; "
        f"torch {torch.__version__}; "
        f"Python {platform.python_version()}; OMP_NUM_THREADS={threads}; load average {load:.1f}"
    )


class Stages:
    """Wall time, date and machine of every stage that ran, kept in the run folder."""

    def __init__(self, out: Path, threads: int | None) -> None:
        self.path, self.threads = out / STAGES_FILE, threads
        self.data = json.loads(self.path.read_text()) if self.path.is_file() else {}

    def run(self, name: str, args: list[str], env: dict) -> None:
        started = time.time()
        mathgrpo(args, env)
        self.note(
            name,
            {
                "seconds": round(time.time() - started, 1),
                "ended": time.strftime("%Y-%m-%d %H:%M"),
                "machine": machine(self.threads),
                "command": "mathgrpo " + shlex.join(args),
            },
        )

    def note(self, name: str, record: dict) -> None:
        from mathgrpo.files import write_atomic

        self.data[name] = record
        write_atomic(self.path, json.dumps(self.data, indent=1))


def train_args(recipe: str, out: Path, seed: int, extra: list[str]) -> list[str]:
    args = ["train", "--config", recipe, "--output_dir", str(out), "--seed", str(seed), *extra]
    if (out / "mathgrpo_run.json").is_file():
        args.append("--resume")
        args.append("true")
    return args


def tune(opts, prof: dict, out: Path, env: dict, stages: Stages) -> None:
    """Candidates trained with seed 0 and scored on the validation facts only."""
    base = out / "tune-base"
    if not eval_done(base):
        stages.run("tune-base", eval_args(MODEL, VALIDATION, base, out, prof["batch"]), env)
    if not eval_done(out / "tune-base-word"):
        stages.run("tune-base-word", eval_args(MODEL, VALIDATION_WORD, out / "tune-base-word", out, prof["batch"]), env)
    for item in opts.tune:
        name, _, extra = item.partition("=")
        folder = out / f"tune-{name}"
        if not (folder / "train" / "model.safetensors").is_file():
            stages.run(f"tune-{name}-train", train_args(prof["recipe"], folder / "train", 0, shlex.split(extra)), env)
        (folder / "candidate.json").write_text(json.dumps({"name": name, "overrides": extra}))
        if not eval_done(folder / "eval-validation"):
            stages.run(
                f"tune-{name}-eval",
                eval_args(str(folder / "train"), VALIDATION, folder / "eval-validation", out, prof["batch"]),
                env,
            )


def final(prof: dict, out: Path, env: dict, stages: Stages, reuse: str | None = None) -> None:
    """The frozen recipe: held-out sets before training, then each seed trained and evaluated.

    ``reuse``: the tuning candidate whose settings the frozen recipe holds; its seed-0 model *is*
    the frozen recipe's seed-0 run (same settings, same seed), so it is not trained twice. It was
    only ever scored on the validation facts."""
    recipe = REPO / prof["recipe"]
    write_seen_set(recipe, out / "seen.jsonl")
    for name, spec in SETS.items():
        folder = out / "before" / name
        if not eval_done(folder):
            stages.run(f"before-{name}", eval_args(MODEL, spec, folder, out, prof["batch"]), env)
    for seed in prof["seeds"]:
        train = out / f"seed{seed}" / "train"
        if seed == 0 and reuse and not (train / "model.safetensors").is_file():
            import shutil

            source = out / f"tune-{reuse}" / "train"
            if not (source / "model.safetensors").is_file():
                raise SystemExit(f"--reuse-tuned {reuse}: {source} holds no trained model")
            shutil.copytree(source, train, dirs_exist_ok=True)
            stages.note("seed0-train", {"reused": f"tune-{reuse}", "ended": time.strftime("%Y-%m-%d %H:%M")})
        if not (train / "model.safetensors").is_file():
            stages.run(f"seed{seed}-train", train_args(prof["recipe"], train, seed, []), env)
        for name, spec in SETS.items():
            folder = out / f"seed{seed}" / name
            if seed not in spec.get("seeds", [seed]):
                continue
            if not eval_done(folder):
                stages.run(f"seed{seed}-{name}", eval_args(str(train), spec, folder, out, prof["batch"]), env)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--profile", choices=sorted(PROFILES), default="cpu")
    p.add_argument("--out", default=None, help="run folder (default output/learning-<profile>)")
    p.add_argument("--docs", default=str(REPO / "docs"), help="where the page and its plots go")
    p.add_argument(
        "--tune",
        action="append",
        default=[],
        metavar='NAME="FLAGS"',
        help="a candidate: recipe overrides, scored on the validation facts (repeatable)",
    )
    p.add_argument("--report-only", action="store_true", help="rewrite the page from finished stages")
    p.add_argument(
        "--reuse-tuned",
        metavar="NAME",
        default=None,
        help="the tuning candidate the frozen recipe equals: its seed-0 model is the seed-0 run",
    )
    a = p.parse_args(argv)
    prof = PROFILES[a.profile]
    out = Path(a.out or REPO / "output" / f"learning-{a.profile}").resolve()
    out.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    if prof["threads"]:
        env["OMP_NUM_THREADS"] = str(prof["threads"])
    stages = Stages(out, prof["threads"])
    if a.tune:
        tune(a, prof, out, env, stages)
    elif not a.report_only:
        final(prof, out, env, stages, a.reuse_tuned)
    from benchkit.learning_page import write_page

    page = write_page(out, prof, Path(a.docs))
    print(f"[learning] wrote {page}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
