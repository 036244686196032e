"""Trainer features compose (train/features.py): each recipe gets one class stacked from the features
it asks for, outermost first, and a new feature is one mixin, not another subclass in a chain."""

from pathlib import Path

import pytest

from mathgrpo.train.config import parse_train_args
from mathgrpo.train.features import trainer_class
from mathgrpo.train.trainer import TrainerBase, UnknownSamplesOut, compose

QWEN = Path(__file__).resolve().parents[1] / "recipes" / "qwen2.5-math-1.5b"


@pytest.mark.parametrize(
    "recipe, features",
    [
        ("seed.yaml", ("UnknownSamplesOut",)),
        ("dapo.yaml", ("DynamicSampling", "UnknownSamplesOut")),
        ("drgrpo-vllm.yaml", ("UnknownSamplesOut", "VllmCorrectionShare")),
        ("dapo-vllm.yaml", ("DynamicSampling", "UnknownSamplesOut", "VllmCorrectionShare")),
    ],
)
def test_each_recipe_gets_the_features_it_asks_for_outermost_first(recipe, features):
    script_args, args, _ = parse_train_args(["--config", str(QWEN / recipe), "--use_cpu", "true"])
    cls, kwargs = trainer_class(script_args, args)
    assert cls.features == features and issubclass(cls, TrainerBase)
    assert [c.__name__ for c in cls.__mro__[1 : 1 + len(features)]] == list(features)
    assert ("pool" in kwargs) == ("DynamicSampling" in features)


def test_a_new_feature_is_one_mixin_that_runs_around_the_others():
    calls = []

    class Tracing:
        def leave_out_unknown(self, out):
            calls.append("tracing")
            return super().leave_out_unknown(out)

    cls = compose(Tracing, UnknownSamplesOut)
    assert cls.features == ("Tracing", "UnknownSamplesOut")
    instance = cls.__new__(cls)  # the hook chain alone, no model
    instance._last_rewards = None
    assert instance.leave_out_unknown({"x": 1}) == {"x": 1} and calls == ["tracing"]
