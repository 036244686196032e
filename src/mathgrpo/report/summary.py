"""A training run summed up from its folder: settings and numbers as tables, the report page
(``RUN_DIR/report/``), and the commands that fill what is missing. ``mathgrpo report`` (report/cli.py)
and the model card (card.py) are both built from it.

Usage: ``rep = build_report("output/smollm2-demo"); rep.summary_path``

Writes into ``RUN_DIR/report/``: one PNG per metric family (see :mod:`mathgrpo.report.plots`),
``samples.jsonl`` (best and worst completions by reward at the start and the end), and
``summary.md``, which embeds the plots, the key settings, the wall time, the final numbers and
the evaluation table (base vs trained when both exist). It reads only what the run left on disk
(:mod:`mathgrpo.report.reader`), so it works on a run that is still going or died, and lists what is
missing instead of failing.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from mathgrpo.files import REPORT_DIR, REPORT_PAGE, REPORT_SAMPLES, write_atomic
from mathgrpo.report.reader import Run, find_evals, load_run, pick_samples

log = logging.getLogger(__name__)


# GRPOConfig fields a reader needs to judge or repeat a run, in reading order.
KEY_ARGS = (
    "learning_rate",
    "lr_scheduler_type",
    "warmup_ratio",
    "warmup_steps",
    "max_steps",
    "num_train_epochs",
    "per_device_train_batch_size",
    "gradient_accumulation_steps",
    "num_generations",
    "generation_batch_size",
    "steps_per_generation",
    "num_iterations",
    "max_completion_length",
    "temperature",
    "top_p",
    "beta",
    "epsilon",
    "epsilon_high",
    "loss_type",
    "scale_rewards",
    "mask_truncated_completions",
    "max_grad_norm",
    "weight_decay",
    "optim",
    "bf16",
    "use_vllm",
    "seed",
)
KEY_SCRIPT_ARGS = ("dataset_split", "language", "dedup", "max_train_samples", "max_prompt_length")
FINAL_KEYS_TAIL = (
    "completions/mean_length",
    "completions/max_length",
    "completions/clipped_ratio",
    "frac_reward_zero_std",
    "clip_ratio/region_mean",
    "entropy",
    "kl",
    "grad_norm",
    "learning_rate",
    "loss",
)


def fmt(value) -> str:
    """Numbers as a reader wants them in a table (4 significant digits); other values as text."""
    if isinstance(value, bool) or value is None:
        return "" if value is None else str(value).lower()
    if isinstance(value, (int, float)):
        return f"{value:.4g}"
    return str(value)


def _cell(value) -> str:
    return fmt(value).replace("|", "\\|").replace("\n", " ")


def table(head: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def data_processing(stats: dict) -> str:
    """The data counts as one sentence: rows in, what was dropped and why, rows out."""
    if not stats:
        return "unknown"
    labels = {
        "duplicates": "duplicates",
        "conflicts": "with conflicting answers",
        "missing_answer": "without an answer",
        "missing_problem": "without a problem",
        "language_filtered": "in another language",
        "placeholder_gold": "with a placeholder gold (proof/notfound)",
        "ungradeable": "with a gold the grader cannot read",
        "too_long": "with too long prompts",
        "over_limit": "over max_train_samples",
    }
    dropped = [f"{stats[k]} {label}" for k, label in labels.items() if stats.get(k)]
    return (
        f"{stats.get('rows_in', '?')} rows in; dropped "
        + (", ".join(dropped) if dropped else "none")
        + f"; {stats.get('rows_out', '?')} rows trained on"
    )


def settings_rows(run: Run) -> list[list]:
    """(setting, value) rows: what was trained, on what, how. Tokens are never among them."""
    return what_rows(run) + hyper_rows(run)


def what_rows(run: Run) -> list[list]:
    """Base model, dataset and its processing, template, rewards and weights."""
    info = run.info
    rows = [["base model", f"`{info['model']}`"]] if info.get("model") else []
    if info.get("dataset"):
        rows.append(["dataset", f"`{info['dataset']}`"])
        rows.append(["data processing", data_processing(info.get("data_stats") or {})])
    if info.get("template"):
        rows.append(["template", f"`{info['template']}`"])
    funcs, weights = info.get("reward_funcs") or [], info.get("reward_weights") or []
    if funcs:
        pairs = zip(funcs, weights) if len(weights) == len(funcs) else ((f, 1.0) for f in funcs)
        rows.append(["rewards (weight)", ", ".join(f"{f} ({fmt(w)})" for f, w in pairs)])
    return rows


def hyper_rows(run: Run) -> list[list]:
    """The recipe's key settings (project fields, then GRPOConfig's)."""
    script, args = run.info.get("script_args") or {}, run.training_args
    rows = [[k, script[k]] for k in KEY_SCRIPT_ARGS if k in script and script[k] is not None]
    skip = {"num_train_epochs"} if (args.get("max_steps") or 0) > 0 else set()  # max_steps wins over epochs
    rows += [[k, args[k]] for k in KEY_ARGS if k in args and args[k] is not None and k not in skip]
    if not args:  # what Trainer keeps in its own state when the run record has no arguments
        rows += [
            [k, run.state[k]]
            for k in ("max_steps", "train_batch_size", "logging_steps", "save_steps")
            if k in run.state
        ]
    return [r for r in rows if not str(r[0]).endswith("token")]


def final_numbers(run: Run) -> list[list]:
    """metric | first | last | min | max | last step, for the metrics that were logged."""
    from mathgrpo.report.plots import reward_keys, series

    keys = ["reward", *(f"rewards/{n}/mean" for n in reward_keys(run.history)), *FINAL_KEYS_TAIL]
    keys += sorted({k for e in run.history for k in e if k.startswith("eval_rewards/") and k.endswith("/mean")})
    rows = []
    for key in keys:
        steps, values = series(run.history, key)
        if values:
            rows.append([key, values[0], values[-1], min(values), max(values), steps[-1]])
    return rows


def _fence(text: str) -> str:
    longest, run_ = 0, 0
    for ch in text:
        run_ = run_ + 1 if ch == "`" else 0
        longest = max(longest, run_)
    return "`" * max(3, longest + 1)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + f"\n… ({len(text) - limit} more characters)"


def samples_markdown(samples: list[dict]) -> str:
    parts = []
    for s in samples:
        rewards = ", ".join(f"{k} {fmt(v)}" for k, v in s["rewards"].items())
        parts.append(
            f"**step {s['step']} ({s['phase']}), {s['rank']}: total reward {fmt(s['total_reward'])}** "
            f"({rewards}; advantage {fmt(s['advantage'])})"
        )
        # The prompt's end is the problem (the template's system text comes first).
        prompt = s["prompt"] if len(s["prompt"]) <= 400 else "…" + s["prompt"][-400:]
        for label, text in (("prompt", prompt), ("completion", _clip(s["completion"], 1500))):
            fence = _fence(text)
            parts.append(f"{label}:\n\n{fence}text\n{text}\n{fence}")
    return "\n\n".join(parts)


def evaluation_markdown(evals: dict[str, tuple[Path, dict]]) -> str | None:
    """The base-vs-trained table when both exist (as ``mathgrpo eval --compare``), else each table."""
    from mathgrpo.evaluation.metrics import compare_markdown, results_markdown

    try:
        if "base" in evals and "trained" in evals:
            (base_dir, base), (trained_dir, trained) = evals["base"], evals["trained"]
            return compare_markdown(base, trained, f"base ({base_dir.name})", f"trained ({trained_dir.name})")
        parts = []
        for role, (folder, summary) in evals.items():
            body = results_markdown(summary).replace(
                "# Evaluation of", f"### {role.capitalize()} model ({folder.name}):", 1
            )
            parts.append(body)
        return "\n".join(parts) if parts else None
    except (KeyError, TypeError, ValueError) as err:  # a summary from another version of `mathgrpo eval`
        log.warning("an evaluation summary could not be read: %s", err)
        return None


def held_out(dataset: str) -> str | None:
    """The held-out counterpart of a generated training set: its test split (facts never trained on)."""
    import re

    if not dataset.startswith("generated:"):
        return None
    spec = re.sub(r"([?&])(split|n)=[^&]*", r"\1", dataset).replace("?&", "?").replace("&&", "&").rstrip("&?")
    return spec + ("&" if "?" in spec else "?") + "n=100&split=test"


def eval_command(run: Run, trained: bool) -> str:
    """A ``mathgrpo eval`` command that runs as printed: the run's template and completion budget, a
    benchmark that needs no network for a generated training set (its test split), local files when
    $MATHGRPO_DATA_DIR names them. The output goes inside the run folder, where the report finds it."""
    import os
    import shlex

    info, args = run.info, run.training_args
    model = str(run.path) if trained else str(info["model"])
    bench = held_out(str(info.get("dataset") or "")) or "math500"
    cmd = [
        "mathgrpo",
        "eval",
        "--model",
        model,
        "--benchmarks",
        bench,
        "--output",
        str(run.path / ("eval" if trained else "eval-base")),
    ]
    if info.get("template"):
        cmd += ["--template", str(info["template"])]
    if isinstance(args.get("max_completion_length"), int):
        cmd += ["--max-new-tokens", str(args["max_completion_length"])]
    if bench == "math500" and os.environ.get("MATHGRPO_DATA_DIR"):
        cmd += ["--data-dir", os.environ["MATHGRPO_DATA_DIR"]]
    return shlex.join(cmd)


@dataclass
class Report:
    run: Run
    folder: Path
    plots: list = field(default_factory=list)  # [(Panel, file name)]
    missing: dict[str, str] = field(default_factory=dict)
    samples: list[dict] = field(default_factory=list)
    evals: dict = field(default_factory=dict)
    eval_md: str | None = None

    @property
    def summary_path(self) -> Path:
        return self.folder / REPORT_PAGE


def hardware_line(hw: dict) -> str:
    """One line for the recorded hardware (the card and the report say the same; the record always
    writes gpu_count beside gpu, so the count is never guessed)."""
    if not hw:
        return "unknown"
    device = (
        f"{hw.get('gpu_count', '?')} x {hw['gpu']}" if hw.get("gpu") else f"CPU only ({hw.get('cpu_count', '?')} cores)"
    )
    return f"{device}; torch {hw.get('torch', '?')}, Python {hw.get('python', '?')}, {hw.get('platform', '?')}"


def summary_markdown(rep: Report) -> str:
    run = rep.run
    lines = [f"# Training report: {run.path.name}", "", f"Status: {run.status()}.  "]
    wall = run.wall_time()
    lines.append(f"Wall time: {wall}." if wall else "Wall time: unknown.")
    if run.info.get("hardware"):
        lines.append(f"Hardware: {hardware_line(run.info['hardware'])}.")
    lines += ["", "## Settings", "", table(["setting", "value"], settings_rows(run))]
    numbers = final_numbers(run)
    if numbers:
        lines += ["", "## Final numbers", "", table(["metric", "first", "last", "min", "max", "last step"], numbers)]
    lines += ["", "## Evaluation", ""]
    lines.append(rep.eval_md or "No evaluation found (see Missing).")
    lines += ["", "## Curves", ""]
    for panel, name in rep.plots:
        lines += [f"### {panel.title}", "", f"![{panel.title}]({name})", ""]
        if panel.why:
            lines += [panel.why, ""]
    lines += ["## Sample completions", ""]
    lines.append(samples_markdown(rep.samples) if rep.samples else "None on disk (see Missing).")
    if rep.missing:
        lines += ["", "## Missing", ""]
        lines += [f"- {what}: {why}" for what, why in rep.missing.items()]
    lines += ["", f"_Written by `mathgrpo report` at {time.strftime('%Y-%m-%d %H:%M:%S')}._", ""]
    return "\n".join(lines)


def build_report(run_dir: str | Path, evals: list[str | Path] = ()) -> Report:
    """Write ``RUN_DIR/report/`` (plots, samples, summary) and return what went into it."""
    from mathgrpo.report.plots import write_plots

    run = load_run(run_dir)
    rep = Report(run=run, folder=run.path / REPORT_DIR)
    rep.plots, plot_missing = write_plots(run.history, rep.folder, beta=run.beta)
    rep.missing.update(run.notes)
    rep.missing.update({f"plot `{k}`": v for k, v in plot_missing.items()})
    rep.samples, why = pick_samples(run)
    if why:
        rep.missing["sample completions"] = why
    write_atomic(rep.folder / REPORT_SAMPLES, "".join(json.dumps(s, ensure_ascii=False) + "\n" for s in rep.samples))
    rep.evals = find_evals(run, evals)
    rep.eval_md = evaluation_markdown(rep.evals)
    if "trained" not in rep.evals:
        rep.missing["evaluation of the trained model"] = (
            f"none in or beside the folder: `{eval_command(run, trained=True)}`"
        )
    if "base" not in rep.evals and run.info.get("model"):
        rep.missing["evaluation of the base model"] = (
            f"none in or beside the folder: `{eval_command(run, trained=False)}`"
        )
    write_atomic(rep.summary_path, summary_markdown(rep))
    log.info("report written to %s", rep.summary_path)
    return rep
