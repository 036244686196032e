"""The project's own script arguments, parsed by TRL's ``TrlParser`` beside ``GRPOConfig`` and
``ModelConfig``. Only what TRL does not already have lives here: data, template, rewards.

Usage: ``script_args, grpo_config, model_config = parse_train_args(["--config", "recipe.yaml"])``

Flags are the field names, the same in a YAML recipe and on the command line
(``--reward_weights 1.0 0.5`` is GRPOConfig's own field: we never copy TRL's fields).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

from mathgrpo.errors import UserError

# GRPOConfig fields that decide which algorithm a recipe trains. Every recipe states each one, so
# that a TRL release that changes a default (TRL's `loss_type` default is `dapo`, not GRPO's
# per-sequence mean) cannot change what a recipe trains; tests/test_config.py holds them to it.
ALGORITHM_FIELDS = (
    "loss_type", "beta", "scale_rewards", "epsilon", "epsilon_high", "importance_sampling_level",
    "mask_truncated_completions",
)  # fmt: skip


@dataclass
class ScriptArguments:
    # --- data ---
    dataset_name: str = field(
        default="BytedTsinghua-SIA/DAPO-Math-17k",
        metadata={"help": "Hub name, local parquet/jsonl/json file, save_to_disk folder, or generated:KIND?..."},
    )
    dataset_config: str | None = field(default=None, metadata={"help": "Hub dataset config name."})
    dataset_split: str = field(default="train", metadata={"help": "Split to train on."})
    problem_field: str | None = field(default=None, metadata={"help": "Problem column (auto-detected if unset)."})
    answer_field: str | None = field(default=None, metadata={"help": "Gold answer column (auto-detected if unset)."})
    language: str = field(default="all", metadata={"help": "Keep problems in: all, en or zh."})
    dedup: bool = field(default=True, metadata={"help": "Deduplicate problems by text (DAPO-Math-17k repeats 100x)."})
    max_train_samples: int | None = field(default=None, metadata={"help": "Keep only the first N problems."})
    max_prompt_length: int | None = field(
        default=512,
        metadata={"help": "Drop prompts longer than this many tokens before training (TRL >= 0.28 has no such field)."},
    )
    # --- prompt and rewards ---
    template: str = field(default="think_boxed", metadata={"help": "Prompt template: think_boxed, qwen_math, r1, boxed_example, none (templates.py)."})
    reward_funcs: list[str] = field(
        default_factory=lambda: ["accuracy", "format"],
        metadata={"help": "Reward names (weights: GRPOConfig's --reward_weights, same order)."},
    )
    accuracy_verdict: str = field(
        default="strict",
        metadata={"help": "accuracy reward's verdict: strict (an integer gold wants an integer written; "
                          "closes the boxed-expression reward hack) or equivalent (equal values count)."},
    )
    overlong_buffer: int = field(
        default=256, metadata={"help": "soft_overlong: tokens before max_completion_length where the penalty starts."}
    )
    overlong_penalty: float = field(default=1.0, metadata={"help": "soft_overlong: penalty at the length limit."})
    # --- run control ---
    resume: bool = field(default=False, metadata={"help": "Continue this run from its last complete checkpoint in output_dir."})
    overwrite_output_dir: bool = field(
        default=False,
        metadata={"help": "Start over in an output_dir that holds another run's checkpoints (deletes them)."},
    )
    model_context_length: int | None = field(
        default=None, metadata={"help": "Model context in tokens (default: the model config's max_position_embeddings)."}
    )
    # --- evaluation during training (TRL's eval loop: eval_strategy/eval_steps) ---
    eval_benchmark: str | None = field(
        default=None, metadata={"help": "Benchmark for evaluation during training (e.g. math500); needs eval_strategy."}
    )
    eval_limit: int = field(default=32, metadata={"help": "Problems of eval_benchmark used (a fixed subset)."})
    eval_data_dir: str | None = field(default=None, metadata={"help": "Local folder of benchmark files."})


def parse_train_args(argv: list[str] | None = None):
    """Parse (ScriptArguments, GRPOConfig, ModelConfig) from a recipe and command-line overrides.

    TRL's own config validation (e.g. generation batch not divisible by num_generations)
    raises ValueError inside the parser; we turn it into one line for the user.
    """
    from trl import GRPOConfig, ModelConfig, TrlParser

    parser = TrlParser((ScriptArguments, GRPOConfig, ModelConfig), prog="mathgrpo train")
    try:
        with warnings.catch_warnings():
            # GRPOConfig itself sets the renamed `gradient_checkpointing`; the user can do
            # nothing about transformers' rename warning, so it is not shown.
            warnings.filterwarnings("ignore", message=".*gradient_checkpointing.*deprecated", category=FutureWarning)
            return parser.parse_args_and_config(args=argv)
    except ValueError as err:
        raise UserError(" ".join(str(err).split())) from None
