"""The project's own script arguments, parsed by TRL's ``TrlParser`` beside ``GRPOConfig`` and
``ModelConfig``. Only what TRL does not already have lives here: data, template, rewards.

Usage: ``script_args, grpo_config, model_config = parse_train_args(["--config", "recipe.yaml"])``

Flags are the field names, the same in a YAML recipe and on the command line
(``--reward_weights 1.0 0.5`` is GRPOConfig's own field: we never copy TRL's fields).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

from mathgrpo.data.templates import DEFAULT_TEMPLATE
from mathgrpo.errors import UserError

# GRPOConfig fields that decide which algorithm a recipe trains. Every recipe states each one, so
# that a TRL release that changes a default (TRL's `loss_type` default is `dapo`, not GRPO's
# per-sequence mean) cannot change what a recipe trains; tests/test_config.py holds them to it.
ALGORITHM_FIELDS = (
    "loss_type",
    "beta",
    "scale_rewards",
    "epsilon",
    "epsilon_high",
    "importance_sampling_level",
    "mask_truncated_completions",
)


@dataclass
class ScriptArguments:
    _argument_group_name = "mathgrpo (data, template, rewards, run control)"  # a --help-all section

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
    template: str = field(
        default=DEFAULT_TEMPLATE,
        metadata={"help": "Prompt template: think_boxed, qwen_math, r1, boxed_example, none (data/templates.py)."},
    )
    reward_funcs: list[str] = field(
        default_factory=lambda: ["accuracy", "format"],
        metadata={
            "help": "Reward names, or dotted paths to functions with TRL's reward signature "
            "(weights: GRPOConfig's --reward_weights, same order)."
        },
    )
    accuracy_verdict: str = field(
        default="strict",
        metadata={
            "help": "accuracy reward's verdict: strict (an integer gold wants an integer written; "
            "closes the boxed-expression reward hack) or equivalent (equal values count)."
        },
    )
    overlong_buffer: int | None = field(
        default=None,
        metadata={
            "help": "soft_overlong: tokens before max_completion_length where the penalty starts "
            "(default: a fifth of max_completion_length, DAPO's 4096 of 20480)."
        },
    )
    overlong_penalty: float = field(default=1.0, metadata={"help": "soft_overlong: penalty at the length limit."})
    # --- DAPO's dynamic sampling (src/mathgrpo/train/dynamic.py) ---
    dynamic_sampling: bool = field(
        default=False,
        metadata={"help": "Train only on groups whose rewards disagree; refill the batch with fresh prompts (DAPO)."},
    )
    dynamic_sampling_metric: str = field(
        default="accuracy",
        metadata={
            "help": "dynamic_sampling: the reward a group must vary on to be trained (DAPO/verl: accuracy); any "
            "name in reward_funcs, or 'reward' for the weighted total."
        },
    )
    max_resample_rounds: int = field(
        default=10,
        metadata={"help": "dynamic_sampling: generation rounds per batch at most (verl's max_num_gen_batches)."},
    )
    dynamic_sampling_oversample: float = field(
        default=1.0,
        metadata={
            "help": "dynamic_sampling: prompts generated per round, as a multiple of the groups still needed (DAPO: 3)."
        },
    )
    # --- run control ---
    print_completions: int = field(
        default=0,
        metadata={
            "help": "Print this many sample completions per logged step (they are always saved with "
            "log_completions: true, for mathgrpo report)."
        },
    )
    resume: bool = field(
        default=False, metadata={"help": "Continue this run from its last complete checkpoint in output_dir."}
    )
    overwrite_output_dir: bool = field(
        default=False,
        metadata={"help": "Start over in an output_dir that holds another run (deletes every file in it first)."},
    )
    allow_untested_trl: bool = field(
        default=False,
        metadata={"help": "Run on a TRL major.minor release mathgrpo is not tested on (train/versions.py)."},
    )
    model_context_length: int | None = field(
        default=None,
        metadata={"help": "Model context in tokens (default: the model config's max_position_embeddings)."},
    )
    # --- evaluation during training (TRL's eval loop: eval_strategy/eval_steps) ---
    eval_benchmark: str | None = field(
        default=None, metadata={"help": "Benchmark for evaluation during training (e.g. math500); needs eval_strategy."}
    )
    eval_limit: int = field(default=32, metadata={"help": "Problems of eval_benchmark used (a fixed subset)."})
    eval_data_dir: str | None = field(default=None, metadata={"help": "Local folder of benchmark files."})

    def data_source(self):
        """The data fields, as the data layer takes them (``data.clean.DataSource``)."""
        from mathgrpo.data.clean import DataSource

        return DataSource(
            name=self.dataset_name,
            split=self.dataset_split,
            config_name=self.dataset_config,
            problem_field=self.problem_field,
            answer_field=self.answer_field,
            language=self.language,
            dedup=self.dedup,
            limit=self.max_train_samples,
        )


# The TRL / transformers fields a first run sets, shown by `mathgrpo train --help` after mathgrpo's
# own; `--help-all` lists all of them, grouped.
COMMON_TRL_FIELDS = (
    "model_name_or_path",
    "dtype",
    "output_dir",
    "learning_rate",
    "max_steps",
    "num_train_epochs",
    "per_device_train_batch_size",
    "gradient_accumulation_steps",
    "num_generations",
    "max_completion_length",
    "temperature",
    "reward_weights",
    *ALGORITHM_FIELDS,
    "use_vllm",
    "bf16",
    "use_cpu",
    "optim",
    "save_steps",
    "logging_steps",
    "report_to",
    "seed",
    "push_to_hub",
)


def build_parser(for_help: bool = False):
    """TrlParser over (ScriptArguments, GRPOConfig, ModelConfig): prefixes of flags are not
    accepted (``--learning_rat`` must not set ``learning_rate``), and argparse's errors are one
    line instead of the 240-option usage. ``for_help`` names TRL's two sections for --help-all
    (through subclasses that only the help text sees: a run pickles TRL's own GRPOConfig)."""
    from trl import GRPOConfig, ModelConfig, TrlParser

    class Parser(TrlParser):
        def error(self, message: str):
            raise UserError(f"{message} (mathgrpo train --help lists the options)")

    grpo, model = GRPOConfig, ModelConfig
    if for_help:
        grpo = type(
            "GRPOConfig",
            (GRPOConfig,),
            {"_argument_group_name": "TRL GRPOConfig (algorithm, generation, optimisation, saving, logging)"},
        )
        model = type("ModelConfig", (ModelConfig,), {"_argument_group_name": "TRL ModelConfig (model, dtype, LoRA)"})
    return Parser(
        (ScriptArguments, grpo, model),
        prog="mathgrpo train",
        allow_abbrev=False,
        usage="mathgrpo train [--config RECIPE.yaml] [--FIELD VALUE ...]  (--help, --help-all)",
    )


def parse_train_args(argv: list[str] | None = None, recipe: dict | None = None):
    """Parse (ScriptArguments, GRPOConfig, ModelConfig) from a recipe and command-line overrides.

    ``recipe``: the ``--config`` file's mapping when the caller has read it already
    (``read_recipe``), so the file is read once. TRL's own config validation (e.g. generation
    batch not divisible by num_generations) raises ValueError inside the parser; we turn it into one
    line for the user.
    """
    import os

    argv = list(argv or [])
    path = recipe_path(argv)
    recipe = dict(read_recipe(argv) if recipe is None else recipe)
    parser = build_parser()
    check_recipe_keys(recipe, path, parser)
    # What TrlParser.parse_args_and_config does with a --config file, on the mapping already read:
    # the recipe's `env` goes to the environment, its fields become the parser's defaults.
    for key, value in (recipe.pop("env", None) or {}).items():
        os.environ[key] = str(value)
    rest = [a for i, a in enumerate(argv) if not (a == "--config" or (i and argv[i - 1] == "--config"))]
    try:
        with warnings.catch_warnings():
            # GRPOConfig itself sets the renamed `gradient_checkpointing`; the user can do
            # nothing about transformers' rename warning, so it is not shown.
            warnings.filterwarnings("ignore", message=".*gradient_checkpointing.*deprecated", category=FutureWarning)
            parser.set_defaults_with_config(**recipe)
            return parser.parse_args_into_dataclasses(args=rest)
    except ValueError as err:
        raise UserError(explain(" ".join(str(err).split()), argv, parser)) from None


def recipe_path(argv: list[str]) -> str | None:
    if "--config" not in argv:
        return None
    i = argv.index("--config")
    if i + 1 >= len(argv):
        raise UserError("--config needs a recipe file (e.g. --config recipes/demo/smollm2-cpu.yaml)")
    return argv[i + 1]


def read_recipe(argv: list[str]) -> dict:
    """The recipe named by ``--config`` (empty without one), read once: the parser reuses this mapping."""
    import yaml

    path = recipe_path(argv)
    if path is None:
        return {}
    try:
        loaded = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as err:
        raise UserError(f"recipe {path}: {err.strerror} (--config)") from None
    except yaml.YAMLError as err:
        raise UserError(f"recipe {path} is not valid YAML ({' '.join(str(err).split())[:160]})") from None
    if not isinstance(loaded, dict):
        raise UserError(f"recipe {path} must be a mapping of field: value")
    return loaded


def check_recipe_keys(recipe: dict, path: str | None, parser) -> None:
    """Every key of the recipe is a field (checked before the fields' own validation runs)."""
    known = {a.dest for a in parser._actions} | {"env"}
    unknown = [k for k in recipe if k not in known]
    if unknown:
        raise UserError(f"recipe {path}: unknown key {unknown[0]!r}{_closest(str(unknown[0]), parser)}")
    if "env" in recipe and not isinstance(recipe["env"], dict):
        raise UserError(f"recipe {path}: `env` must be a mapping of VARIABLE: value")


def check_language(language: str) -> None:
    if language not in ("all", "en", "zh"):
        raise UserError(f"language must be all, en or zh (got {language!r})")


def _closest(name: str, parser) -> str:
    import difflib

    known = [o[2:] for a in parser._actions for o in a.option_strings if o.startswith("--")]
    match = difflib.get_close_matches(name.lstrip("-"), known, n=1)
    return f"; did you mean {match[0]!r}?" if match else ""


def explain(message: str, argv: list[str] = (), parser=None) -> str:
    """transformers' and TRL's config errors, reworded to name the field or file and what to do."""
    import re

    if "doesn't support bf16" in message or "bf16/gpu" in message:
        return (
            "bf16: true needs a GPU with bf16 support, and none was found: on this machine add --use_cpu true "
            "(bf16 then runs as CPU autocast, slowly) or --bf16 false"
        )
    unknown = re.search(r"Unknown arguments from config file: \[(.*?)\]", message)
    if unknown and parser is not None:
        keys = [k.strip("' ").lstrip("-") for k in unknown.group(1).split(",") if k.strip("' ").startswith("--")]
        recipe = argv[argv.index("--config") + 1] if "--config" in argv else "the recipe"
        key = keys[0] if keys else unknown.group(1)
        return f"recipe {recipe}: unknown key {key!r}{_closest(key, parser)}"
    unused = re.search(r"arguments are not used by the HfArgumentParser: \[(.*?)\]", message)
    if unused and parser is not None:
        flags = [k.strip("' ") for k in unused.group(1).split(",") if k.strip("' ").startswith("-")]
        flag = flags[0] if flags else unused.group(1)
        return f"unknown option {flag}{_closest(flag, parser)} (mathgrpo train --help lists the options)"
    return message


def print_help(all_fields: bool = False) -> None:
    """``--help``: --config, mathgrpo's own fields, then the TRL fields a first run sets;
    ``--help-all``: every option, grouped (mathgrpo's first)."""
    import sys
    from dataclasses import fields

    parser = build_parser(for_help=True)
    if all_fields:
        parser.print_help()
        return
    by_dest: dict = {}
    for action in parser._actions:  # a True-default bool also has a --no_FIELD action: keep the first
        by_dest.setdefault(action.dest, action)
    lines = [
        parser.format_usage().strip(),
        "",
        "  --config RECIPE.yaml  a recipe (recipes/); every field below can be set there or on the command line",
        "",
        "mathgrpo (data, template, rewards, run control):",
    ]
    for f in fields(ScriptArguments):
        lines.append(_line(by_dest[f.name]))
    lines += ["", "TRL / transformers, the most used (mathgrpo train --help-all lists all of them):"]
    lines += [_line(by_dest[name]) for name in COMMON_TRL_FIELDS if name in by_dest]
    sys.stdout.write("\n".join(lines) + "\n")


def _line(action) -> str:
    import textwrap

    default = (
        ""
        if action.default in (None, "", [], ()) or "default" in (action.help or "")
        else f" (default: {action.default})"
    )
    text = " ".join(((action.help or "").replace("%%", "%") + default).split())
    return textwrap.fill(text, width=110, initial_indent=f"  --{action.dest:<32}", subsequent_indent=" " * 36)
