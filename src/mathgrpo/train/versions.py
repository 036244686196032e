"""The TRL release mathgrpo is tested on, and the start-up check that refuses another.

Usage: ``check_trl_version(allow_untested=False)`` (``mathgrpo train`` runs it before anything loads).

mathgrpo subclasses TRL's GRPOTrainer and relies on some of its private behaviour (docs/design.md,
"Where we touch TRL and transformers"; tests/test_trl_contract.py holds each to what we rely on).
A TRL minor release can change any of it, or a default that changes what a recipe trains
(tests/test_trl_defaults.py), so a TRL major.minor the suite has not passed on is refused in one
line; ``--allow_untested_trl true`` runs anyway, at the user's risk. constraints.txt holds the whole
tested version set; docs/design.md says how to move it forward.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from mathgrpo.errors import UserError

# TRL major.minor releases the whole suite passed on (constraints.txt pins the exact one).
TESTED_TRL = ("1.16",)


def major_minor(text: str) -> str:
    return ".".join(text.split("+")[0].split(".")[:2])


def check_trl_version(allow_untested: bool = False, installed: str | None = None) -> str:
    """The installed TRL version; a one-line UserError when its major.minor is untested."""
    if installed is None:
        try:
            installed = version("trl")
        except PackageNotFoundError:
            raise UserError("trl is not installed: pip install -e . (or pip install mathgrpo)") from None
    if major_minor(installed) not in TESTED_TRL and not allow_untested:
        raise UserError(
            f"trl {installed} is not a version mathgrpo is tested on ({', '.join(t + '.x' for t in TESTED_TRL)}); "
            "install the tested set (pip install -c constraints.txt -e .) or pass --allow_untested_trl true"
        )
    return installed
