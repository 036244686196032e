"""Errors a user can fix: the CLI prints them as one line (no traceback) and exits 2."""


class UserError(Exception):
    """What is wrong, where (field or file), and what to do -- in one line."""
