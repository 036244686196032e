"""What a run folder and an evaluation folder hold, by name, and how files get into them: whole or
not at all.

Usage: ``write_atomic(out / RUN_FILE, json.dumps(info))``; ``with atomic_path(out / "x.png") as tmp: fig.savefig(tmp)``

The one registry of file names: training writes them, evaluation, report and the model card read
them back, so no reader imports a writer to learn a name.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

# --- a training run's output_dir
RUN_FILE = "mathgrpo_run.json"  # the run record: model, template, data stats, rewards, versions
STATE_FILE = "trainer_state.json"  # Trainer's log history; written last into a checkpoint
CARD_FILE = "README.md"  # the model card
REPORT_DIR = "report"  # mathgrpo report's folder inside a run
REPORT_PAGE = "summary.md"  # the report's page, in REPORT_DIR
REPORT_SAMPLES = "samples.jsonl"  # the report's best and worst completions, in REPORT_DIR
COMPLETIONS_DIR = "completions"  # TRL's completions_NNNNN.parquet (log_completions: true)
# --- a `mathgrpo eval` output folder
EVAL_SETTINGS = "settings.json"  # how the samples were made (compared on resume)
EVAL_SAMPLES = "samples.jsonl"  # one line per sample, appended per batch
EVAL_SUMMARY = "summary.json"  # the numbers, recomputed from the samples
EVAL_TABLE = "results.md"  # the numbers as a markdown table
EVAL_LOCK = ".lock"  # held while a process writes into the folder

_CHECKPOINT = re.compile(r"checkpoint-(\d+)")


def checkpoint_dirs(run_dir: Path) -> list[Path]:
    """The ``checkpoint-N`` folders of a run, newest (highest N) first."""
    found = [(int(m.group(1)), p) for p in Path(run_dir).glob("checkpoint-*")
             if p.is_dir() and (m := _CHECKPOINT.fullmatch(p.name))]  # fmt: skip
    return [p for _, p in sorted(found, reverse=True)]


def check_writable(out: Path) -> None:
    """The output folder exists (or can be made) and takes files: checked before anything loads."""
    from mathgrpo.errors import UserError

    if out.exists() and not out.is_dir():
        raise UserError(f"output_dir {out} is a file; give a folder (field `output_dir`)")
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as err:
        raise UserError(
            f"output_dir {out} is not writable ({err.strerror}); choose another folder (field `output_dir`)"
        ) from None


def check_output_file(path: Path, flag: str) -> Path:
    """An output file a verb is about to write: not a folder, and its folder takes files."""
    from mathgrpo.errors import UserError

    if path.is_dir():
        raise UserError(f"{flag} {path} is a folder; give a file name")
    try:
        check_writable(path.parent)
    except UserError:
        raise UserError(f"{flag} {path}: its folder cannot be written; choose a writable place") from None
    return path


def read_json(path: Path) -> dict | None:
    """A JSON object from ``path``, or None when it is missing, unreadable or not an object
    (a file another process may be writing right now)."""
    import json

    try:
        value = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """A unique temporary path beside ``path``; on success it is flushed to disk and renamed over
    ``path``, so a reader sees the old file or the new one, never half of one, and two writers never
    share a temporary file. On an error the temporary file is removed and ``path`` is untouched."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """A fresh temporary folder beside ``path``; on success it replaces ``path`` whole, so a reader
    never takes a half-written folder (a converted model, say) for a finished one."""
    import shutil

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        yield tmp
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def write_atomic(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically (see :func:`atomic_path`)."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
