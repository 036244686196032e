"""Config errors before TRL is imported: one read of the recipe, then every check that needs no model
and no TRL, in a fraction of a second (importing TRL's ``GRPOConfig`` pulls in torch and transformers:
seconds on a quiet machine, ten on a busy one).

Usage: ``recipe = precheck(argv)`` then ``parse_train_args(argv, recipe=recipe)`` (``mathgrpo train`` does both).

The values checked here are the recipe's, overridden by the command line's ``--field value`` pairs, as
``TrlParser`` will combine them; the full checks (``run.check_config``) run again on the parsed
dataclasses, through the same functions, so a direct caller of ``run()`` gets them too.
"""

from __future__ import annotations

from pathlib import Path

from mathgrpo.errors import UserError
from mathgrpo.train.config import read_recipe

# The fields checked before TRL loads (their values are plain strings, lists or booleans).
EARLY_FIELDS = (
    "template",
    "reward_funcs",
    "language",
    "allow_untested_trl",
    "model_name_or_path",
    "output_dir",
    "bf16",
    "use_cpu",
)


def command_line_values(argv: list[str]) -> dict:
    """``--field value`` (or ``--field=value``, or ``--field v1 v2`` for a list) pairs, as given."""
    values: dict = {}
    i = 0
    while i < len(argv):
        arg = argv[i]
        i += 1
        if not arg.startswith("--") or arg == "--config":
            i += arg == "--config"
            continue
        name, eq, value = arg[2:].partition("=")
        if eq:
            values[name] = value
            continue
        items = []
        while i < len(argv) and not argv[i].startswith("--"):
            items.append(argv[i])
            i += 1
        # A bare flag is True, as HfArgumentParser reads a boolean field given without a value.
        values[name] = True if not items else items[0] if len(items) == 1 else items
    return values


def truthy(value) -> bool:
    """A boolean field's value as TRL's parser reads it (transformers' ``string_to_bool`` spellings; not
    imported, since importing transformers is what this module runs before)."""
    return value is True or str(value).lower() in ("yes", "true", "t", "y", "1")


def early_values(argv: list[str], recipe: dict) -> dict:
    """The early fields' values: the script defaults, then the recipe, then the command line."""
    from mathgrpo.train.config import ScriptArguments

    defaults = ScriptArguments()
    values = {name: getattr(defaults, name) for name in EARLY_FIELDS if hasattr(defaults, name)}
    values.update({k: v for k, v in recipe.items() if k in EARLY_FIELDS})
    values.update({k: v for k, v in command_line_values(argv).items() if k in EARLY_FIELDS})
    if isinstance(values.get("reward_funcs"), str):
        values["reward_funcs"] = [values["reward_funcs"]]
    return values


def precheck(argv: list[str]) -> dict:
    """Every check that needs neither TRL nor a model; returns the recipe mapping. The recipe, name and
    version checks come first: they need no import beyond the package's own."""
    from mathgrpo.data.templates import get_template
    from mathgrpo.models import check_reference
    from mathgrpo.train.config import check_language
    from mathgrpo.train.rewards import check_reward_names
    from mathgrpo.train.versions import check_trl_version

    recipe = read_recipe(argv)
    values = early_values(argv, recipe)
    check_trl_version(truthy(values.get("allow_untested_trl")))
    get_template(str(values["template"]))
    check_reward_names(list(values["reward_funcs"] or []))
    check_language(str(values["language"]))
    if truthy(values.get("bf16")) and not truthy(values.get("use_cpu")):
        import torch  # the one check here that imports torch (~1 s)

        if not torch.cuda.is_available():
            from mathgrpo.train.config import explain

            raise UserError(explain("doesn't support bf16"))
    model = values.get("model_name_or_path")
    if not model:
        raise UserError("model_name_or_path is not set; give a hub name, a local folder or a .gguf file")
    if isinstance(model, str) and check_reference(model) == "hub":
        from mathgrpo.models import check_hub_model

        check_hub_model(model, "model_name_or_path")
    if isinstance(values.get("output_dir"), str):
        from mathgrpo.files import check_writable

        check_writable(Path(values["output_dir"]))
    return recipe
