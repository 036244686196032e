"""What a run folder holds, by name, and how files get into it: whole or not at all.

Usage: ``write_atomic(out / RUN_FILE, json.dumps(info))``

Shared by training (which writes), evaluation and report (which read back), so neither reader
has to import training to know a file's name.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

RUN_FILE = "mathgrpo_run.json"  # the run record: model, template, data stats, rewards, hardware
STATE_FILE = "trainer_state.json"  # Trainer's log history; written last into a checkpoint
_CHECKPOINT = re.compile(r"checkpoint-(\d+)")


def checkpoint_dirs(run_dir: Path) -> list[Path]:
    """The ``checkpoint-N`` folders of a run, newest (highest N) first."""
    found = [(int(m.group(1)), p) for p in Path(run_dir).glob("checkpoint-*")
             if p.is_dir() and (m := _CHECKPOINT.fullmatch(p.name))]  # fmt: skip
    return [p for _, p in sorted(found, reverse=True)]


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to a hidden sibling, then rename it over ``path``: an interruption leaves
    the old file or the new one, never half of one."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
