"""Which algorithm a run trained, named from every field that defines it, never from one.

Usage: ``name_algorithm({"loss_type": "dapo", "epsilon_high": 0.28, "dynamic_sampling": True, ...}).line()``

TRL's ``GRPOTrainer`` trains GRPO, Dr. GRPO, DAPO and GSPO by its settings alone, so a name read
from ``loss_type`` alone lies: TRL's default ``loss_type`` is ``dapo`` with GRPO's std scaling, and
GSPO is ``loss_type: grpo`` with sequence-level ratios. A run is given a paper's name only when every
defining field matches that paper's definition below; otherwise it is ``custom``, with the nearest
name and the fields that differ from it. The run record and the model card both call this.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Every field that changes the objective or how on-policy it is. The run record stores each one.
DEFINING = (
    "loss_type",
    "importance_sampling_level",
    "scale_rewards",
    "epsilon",
    "epsilon_high",
    "beta",
    "num_iterations",
    "steps_per_generation",
    "gradient_accumulation_steps",
    "dynamic_sampling",
)


def _scale(value) -> str | None:
    # TRL 1.16 takes "group" | "batch" | "none"; older configs wrote True / False.
    return {True: "group", False: "none", "true": "group", "false": "none"}.get(value, value)


def _symmetric(s: dict) -> bool:
    return s.get("epsilon_high") in (None, s.get("epsilon"))


# The definitions: (rule, what the paper does). A rule reads the run's settings and is True when they match.
ALGORITHMS = {
    "GRPO": {  # Shao et al. 2024 (DeepSeekMath): per-sequence mean, group std scaling, symmetric clip
        "loss_type": (lambda s: s.get("loss_type") == "grpo", "loss_type grpo (per-sequence mean)"),
        "importance_sampling_level": (lambda s: s.get("importance_sampling_level", "token") == "token", "token ratios"),
        "scale_rewards": (lambda s: _scale(s.get("scale_rewards")) == "group", "scale_rewards group"),
        "clip": (_symmetric, "symmetric clip"),
        "dynamic_sampling": (lambda s: not s.get("dynamic_sampling"), "no dynamic sampling"),
    },
    "Dr. GRPO": {  # Liu et al. 2025 (Oat-Zero): constant-length token sum, no std scaling, no KL
        "loss_type": (lambda s: s.get("loss_type") == "dr_grpo", "loss_type dr_grpo (sum over a constant length)"),
        "importance_sampling_level": (lambda s: s.get("importance_sampling_level", "token") == "token", "token ratios"),
        "scale_rewards": (lambda s: _scale(s.get("scale_rewards")) == "none", "scale_rewards none"),
        "clip": (_symmetric, "symmetric clip"),
        "beta": (lambda s: not s.get("beta"), "beta 0 (no KL)"),
        "dynamic_sampling": (lambda s: not s.get("dynamic_sampling"), "no dynamic sampling"),
    },
    "DAPO": {  # Yu et al. 2025: token-level loss, clip-higher, dynamic sampling, no KL
        "loss_type": (lambda s: s.get("loss_type") == "dapo", "loss_type dapo (token-level mean)"),
        "importance_sampling_level": (lambda s: s.get("importance_sampling_level", "token") == "token", "token ratios"),
        "scale_rewards": (lambda s: _scale(s.get("scale_rewards")) == "group", "scale_rewards group"),
        "clip": (
            lambda s: (s.get("epsilon_high") or 0) > (s.get("epsilon") or 0),
            "clip-higher (epsilon_high > epsilon)",
        ),
        "beta": (lambda s: not s.get("beta"), "beta 0 (no KL)"),
        "dynamic_sampling": (lambda s: bool(s.get("dynamic_sampling")), "dynamic sampling"),
    },
    "GSPO": {  # Zheng et al. 2025: sequence-level (length-normalised) ratios and clipping, no KL
        "loss_type": (lambda s: s.get("loss_type") == "grpo", "loss_type grpo"),
        "importance_sampling_level": (lambda s: s.get("importance_sampling_level") == "sequence", "sequence ratios"),
        "scale_rewards": (lambda s: _scale(s.get("scale_rewards")) == "group", "scale_rewards group"),
        "beta": (lambda s: not s.get("beta"), "beta 0 (no KL)"),
        "dynamic_sampling": (lambda s: not s.get("dynamic_sampling"), "no dynamic sampling"),
    },
}


def updates_per_generation(s: dict) -> float:
    """Optimizer updates per batch of generations: above 1, all but the first are off-policy, and
    only then do the clip range and sequence-level ratios act (TRL docs, GSPO)."""
    accumulation = s.get("gradient_accumulation_steps") or 1
    per_generation = s.get("steps_per_generation") or accumulation
    return (s.get("num_iterations") or 1) * per_generation / accumulation


@dataclass
class Algorithm:
    name: str  # a paper's name, or "custom"
    nearest: str  # the paper whose definition it matches best (== name unless custom)
    differs: list[str] = field(default_factory=list)  # what the nearest paper does that this run does not
    settings: dict = field(default_factory=dict)

    def fields_text(self) -> str:
        s = self.settings
        parts = [
            f"loss_type {s.get('loss_type')}",
            f"{s.get('importance_sampling_level', 'token')}-level ratios",
            f"scale_rewards {_scale(s.get('scale_rewards'))}",
            f"clip {s.get('epsilon')}/{s.get('epsilon_high', s.get('epsilon'))}",
            f"beta {s.get('beta')}",
            f"dynamic sampling {'on' if s.get('dynamic_sampling') else 'off'}",
        ]
        upd = updates_per_generation(s)
        parts.append(
            f"{upd:g} updates per generation" + (" (on-policy)" if upd == 1 else " (off-policy after the first)")
        )
        return ", ".join(parts)

    def line(self) -> str:
        if self.name != "custom":
            return f"{self.name} ({self.fields_text()})"
        return f"custom, nearest {self.nearest} but not {'; not '.join(self.differs)} ({self.fields_text()})"

    def as_dict(self) -> dict:
        return {"name": self.name, "nearest": self.nearest, "differs": self.differs, "line": self.line()}


def name_algorithm(settings: dict) -> Algorithm:
    """Name the algorithm of ``settings`` (GRPOConfig fields plus ``dynamic_sampling``): a paper's
    name when every rule of its definition holds, else ``custom`` with the nearest one."""
    s = {k: settings.get(k) for k in DEFINING if settings.get(k) is not None}
    misses = {name: [what for rule, what in rules.values() if not rule(s)] for name, rules in ALGORITHMS.items()}
    nearest = min(misses, key=lambda name: len(misses[name]))  # dict order breaks ties: GRPO first
    if not misses[nearest]:
        return Algorithm(nearest, nearest, [], s)
    return Algorithm("custom", nearest, misses[nearest], s)
