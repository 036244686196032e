"""PNG plots of a GRPO run's logged metrics: one figure per question a researcher asks of a run.

Usage: ``written, missing = write_plots(log_history, Path("run/report"), beta=0.04)``

``log_history`` is TRL's ``trainer_state.json`` list of log entries. Each figure draws the raw
logged points faintly and an exponential moving average over them as a line, so the trend
reads at a glance without hiding the noise. Figures have a fixed size (``FIG_SIZE`` inches at
``DPI``) so a page of them lines up, and tests can check what was drawn.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

FIG_SIZE = (8.0, 4.5)  # inches
DPI = 100  # -> 800 x 450 pixels


@dataclass(frozen=True)
class Panel:
    """One PNG: ``lines`` are (log key, legend label); ``right`` are drawn on a second y axis."""

    name: str
    title: str
    ylabel: str
    lines: tuple[tuple[str, str], ...]
    right: tuple[tuple[str, str], ...] = ()
    right_label: str = ""
    why: str = ""  # shown in the summary under the plot
    # Only runs that log this key get the panel (dynamic sampling); absent, it is not "missing",
    # although its other lines exist in every run.
    requires: str = ""


def reward_keys(history: list[dict]) -> list[str]:
    """The per-function reward names TRL logged (``rewards/<name>/mean``), in first-seen order."""
    names: list[str] = []
    for entry in history:
        for key in entry:
            if key.startswith("rewards/") and key.endswith("/mean") and key[8:-5] not in names:
                names.append(key[8:-5])
    return names


def panels(history: list[dict]) -> list[Panel]:
    rewards = reward_keys(history)
    return [
        Panel(
            "reward",
            "Reward: total (weighted) and per function",
            "reward",
            (("reward", "total"), *((f"rewards/{n}/mean", n) for n in rewards)),
            why="Does the reward climb? Each function's mean shows which part moves.",
        ),
        Panel(
            "accuracy",
            "Accuracy (share of completions graded correct)",
            "accuracy",
            (("rewards/accuracy/mean", "train"), ("eval_rewards/accuracy/mean", "eval")),
            why="The accuracy reward's mean: the share of sampled answers the grader accepts.",
        ),
        Panel(
            "completion_length",
            "Completion length and truncation",
            "tokens",
            (("completions/mean_length", "mean length"), ("completions/max_length", "max length")),
            right=(("completions/clipped_ratio", "truncated share"),),
            right_label="truncated share",
            why="Growing length is expected while reasoning improves; a truncated share near 1 means "
            "max_completion_length cuts the answers off.",
        ),
        Panel(
            "zero_std_groups",
            "Groups with zero reward variance",
            "share of groups",
            (("frac_reward_zero_std", "zero-std share"),),
            why="A group whose completions all score the same has zero advantage: it teaches nothing. "
            "Near 1 means the problems are too easy or too hard for the model.",
        ),
        Panel(
            "clip_ratio",
            "Clipped token ratios (PPO-style clip)",
            "share of tokens",
            (
                ("clip_ratio/region_mean", "clipped (any)"),
                ("clip_ratio/low_mean", "low clip"),
                ("clip_ratio/high_mean", "high clip"),
            ),
            why="The share of tokens whose ratio left [1-epsilon, 1+epsilon]; a climbing ratio means "
            "the policy moves too fast for the learning rate.",
        ),
        Panel(
            "entropy",
            "Policy entropy of sampled tokens",
            "nats per token",
            (("entropy", "entropy"),),
            why="A collapse to near 0 means the policy stopped exploring.",
        ),
        Panel(
            "kl",
            "KL to the reference model",
            "KL per token",
            (("kl", "kl"),),
            why="Only logged when beta > 0 (a KL penalty).",
        ),
        Panel(
            "dynamic_sampling",
            "Dynamic sampling: trained groups without a signal, and rounds",
            "share of trained groups",
            (
                ("dynamic/zero_signal_trained", "without a signal (trained)"),
                ("frac_reward_zero_std", "without a signal (generated)"),
            ),
            right=(("dynamic/rounds", "generation rounds"),),
            right_label="rounds per step",
            why="With dynamic_sampling, groups whose completions all got one reward are dropped and refilled; "
            "the trained share stays at 0 while the refills succeed within max_resample_rounds.",
            requires="dynamic/rounds",
        ),
        Panel(
            "vllm_correction",
            "vLLM importance sampling: ratios and the share capped or masked",
            "trainer / vLLM probability ratio",
            (
                ("sampling/importance_sampling_ratio/min", "min"),
                ("sampling/importance_sampling_ratio/mean", "mean"),
                ("sampling/importance_sampling_ratio/max", "max"),
            ),
            right=(("is_correction/capped_or_masked", "capped or masked"),),
            right_label="share capped or masked",
            why="With use_vllm, TRL weighs each sample's loss by how much likelier the trained model finds it "
            "than vLLM did (vllm_importance_sampling_mode). A mean far from 1 or a large capped/masked share "
            "means vLLM and training disagree, and the correction is reshaping what is learned.",
            requires="sampling/importance_sampling_ratio/mean",
        ),
        Panel("learning_rate", "Learning rate", "learning rate", (("learning_rate", "lr"),)),
        Panel(
            "grad_norm",
            "Gradient norm (before clipping)",
            "L2 norm",
            (("grad_norm", "grad norm"),),
            why="Spikes precede instabilities; compare with max_grad_norm.",
        ),
    ]


def series(history: list[dict], key: str) -> tuple[list[float], list[float]]:
    """(steps, values) of one key; entries without it, None (TRL's all-NaN) and NaN are skipped."""
    steps, values = [], []
    for entry in history:
        value = entry.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            steps.append(entry.get("step", len(steps)))
            values.append(float(value))
    return steps, values


def ema(values: list[float], span: float | None = None) -> list[float]:
    """Exponential moving average, debiased at the start (as TensorBoard's smoothing).

    The default span is ~7% of the run's points, so a 40-step and a 4000-step run are smoothed
    alike relative to their length; with few points it is ~1 and the line follows the points."""
    if not values:
        return []
    span = span if span is not None else min(100.0, max(1.0, len(values) / 15))
    weight = 1 - 2 / (span + 1)
    out, acc = [], 0.0
    for i, v in enumerate(values, start=1):
        acc = weight * acc + (1 - weight) * v
        out.append(acc / (1 - weight**i) if weight > 0 else v)
    return out


def _draw(ax, steps, values, label, color) -> None:
    ax.plot(steps, values, "o", markersize=3, alpha=0.3, color=color)
    ax.plot(steps, ema(values), "-", linewidth=1.8, color=color, label=label)


def draw_panel(panel: Panel, history: list[dict], path: Path) -> bool:
    """Write one PNG atomically; False (nothing written) when none of its keys was logged."""
    from matplotlib.figure import Figure  # no pyplot: no global backend or figure state
    from matplotlib.ticker import MaxNLocator

    if panel.requires and not series(history, panel.requires)[0]:
        return False
    left = [(k, lbl, *series(history, k)) for k, lbl in panel.lines]
    right = [(k, lbl, *series(history, k)) for k, lbl in panel.right]
    left = [s for s in left if s[2]]
    right = [s for s in right if s[2]]
    if not left and not right:
        return False
    fig = Figure(figsize=FIG_SIZE, dpi=DPI, layout="constrained")
    ax = fig.subplots()
    colors = [f"C{i}" for i in range(10)]
    for i, (key, label, steps, values) in enumerate(left):
        # The total reward in black, so it stands out from its parts.
        _draw(ax, steps, values, label, "black" if key == "reward" else colors[i % 10])
    handles, labels = ax.get_legend_handles_labels()
    if right:
        ax2 = ax.twinx()
        for j, (_, label, steps, values) in enumerate(right, start=len(left)):
            _draw(ax2, steps, values, label, colors[j % 10])
        ax2.set_ylabel(panel.right_label)
        if "share" in panel.right_label:
            ax2.set_ylim(-0.02, 1.02)  # a share: keep 0 and 1 in view so "all truncated" is obvious
        h2, l2 = ax2.get_legend_handles_labels()
        handles, labels = handles + h2, labels + l2
    ax.set_title(panel.title)
    ax.set_xlabel("training step")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel(panel.ylabel)
    ax.grid(True, alpha=0.3)
    if panel.name == "learning_rate":
        ax.ticklabel_format(axis="y", style="sci", scilimits=(-3, 3))
    if len(handles) > 1:
        ax.legend(handles, labels, loc="best", fontsize="small")
    from mathgrpo.files import atomic_path

    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=DPI)
    return True


def write_plots(
    history: list[dict], out_dir: Path, beta: float | None = None
) -> tuple[list[tuple[Panel, str]], dict[str, str]]:
    """Draw every panel whose metrics exist into ``out_dir``.

    Returns ([(panel, file name)], {panel name: why it is missing})."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written, missing = [], {}
    for panel in panels(history):
        if draw_panel(panel, history, out_dir / f"{panel.name}.png"):
            written.append((panel, f"{panel.name}.png"))
        elif panel.requires:
            continue
        elif panel.name == "kl" and not beta:
            missing[panel.name] = "not applicable: beta = 0 (no KL term), so TRL logs no KL"
        elif panel.name == "accuracy":
            missing[panel.name] = "no `rewards/accuracy/mean` in the log (the run has no `accuracy` reward)"
        else:
            keys = ", ".join(f"`{k}`" for k, _ in (*panel.lines, *panel.right))
            missing[panel.name] = f"not in the log yet ({keys})"
    return written, missing
