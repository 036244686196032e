"""Where a checkout's things are: the repository root and the shared data folder beside it.

Usage: ``from benchkit.paths import REPO, shared_data_dir``

The one place that resolves the shared data folder, for the bench scripts and the tests alike:
``$MATHGRPO_SHARED_DATA`` when set, else ``../shared/data`` beside the repository.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]  # bench/benchkit/paths.py -> the checkout


def shared_data_dir() -> Path:
    """``$MATHGRPO_SHARED_DATA``, or ``../shared/data`` beside the repository (it may not exist)."""
    env = os.environ.get("MATHGRPO_SHARED_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data"
