"""Errors a user can fix: the CLI prints them as one line (no traceback) and exits 2.

Usage: ``raise UserError("output_dir x is a file; give a folder")``; verbs parse their flags with
``ArgumentParser(prog="mathgrpo grade")``.
"""

from __future__ import annotations

import argparse


class UserError(Exception):
    """What is wrong, where (field or file), and what to do -- in one line."""


class ArgumentParser(argparse.ArgumentParser):
    """argparse for the verbs: no abbreviated flags (``--out`` must not mean ``--output``), and a
    mistake is one line (a UserError) instead of the usage text followed by the error."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str):
        raise UserError(f"{message} ({self.prog} --help lists the options)")
