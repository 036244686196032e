"""The algorithm a run trained is named from every field that defines it (report/algorithm.py)."""

from pathlib import Path

import pytest

from mathgrpo.report.algorithm import name_algorithm, updates_per_generation
from mathgrpo.train.config import parse_train_args

REPO = Path(__file__).resolve().parents[1]
QWEN = REPO / "recipes" / "qwen2.5-math-1.5b"


def recipe_settings(name: str) -> dict:
    script_args, args, _ = parse_train_args(["--config", str(QWEN / name), "--use_cpu", "true"])
    return {**args.to_dict(), "dynamic_sampling": script_args.dynamic_sampling}


@pytest.mark.parametrize(
    "recipe, name",
    [
        ("drgrpo.yaml", "Dr. GRPO"),
        ("drgrpo-vllm.yaml", "Dr. GRPO"),
        ("dapo.yaml", "DAPO"),
        ("dapo-vllm.yaml", "DAPO"),
        ("gspo.yaml", "GSPO"),
    ],
)
def test_each_paper_recipe_is_named_by_its_paper(recipe, name):
    algorithm = name_algorithm(recipe_settings(recipe))
    assert (algorithm.name, algorithm.differs) == (name, [])
    assert algorithm.line().startswith(f"{name} (")


def test_the_seed_recipe_is_custom_grpo_with_the_token_level_loss():
    # TRL's default loss is DAPO's token-level mean: the seed is GRPO in all but that, and says so.
    algorithm = name_algorithm(recipe_settings("seed.yaml"))
    assert (algorithm.name, algorithm.nearest) == ("custom", "GRPO")
    assert algorithm.differs == ["loss_type grpo (per-sequence mean)"]
    assert "loss_type dapo" in algorithm.line() and "1 updates per generation (on-policy)" in algorithm.line()


def test_gspo_is_not_named_from_loss_type_alone():
    # GSPO's loss_type is grpo: a name read from loss_type would call it GRPO.
    gspo = recipe_settings("gspo.yaml")
    assert name_algorithm(gspo).name == "GSPO"
    assert name_algorithm({**gspo, "importance_sampling_level": "token"}).name == "custom"
    assert updates_per_generation(gspo) == 4  # steps_per_generation 16 / accumulation 4: off-policy updates


@pytest.mark.parametrize(
    "change, missing",
    [
        ({"dynamic_sampling": False}, "dynamic sampling"),
        ({"epsilon_high": 0.2}, "clip-higher"),
        ({"beta": 0.04}, "beta 0"),
        ({"scale_rewards": "none"}, "scale_rewards group"),
        ({"importance_sampling_level": "sequence"}, "token ratios"),
    ],
)
def test_every_defining_field_of_dapo_counts(change, missing):
    algorithm = name_algorithm({**recipe_settings("dapo.yaml"), **change})
    assert algorithm.name == "custom" and algorithm.nearest == "DAPO"
    assert any(missing in d for d in algorithm.differs), algorithm.differs


def test_grpo_with_kl_and_the_legacy_scale_flag():
    settings = {"loss_type": "grpo", "scale_rewards": True, "epsilon": 0.2, "epsilon_high": 0.2, "beta": 0.04}
    assert name_algorithm(settings).name == "GRPO"
    assert name_algorithm({**settings, "scale_rewards": False}).name == "custom"
    assert "2 updates per generation (off-policy" in name_algorithm({**settings, "num_iterations": 2}).line()
