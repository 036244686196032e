"""What a run folder and an evaluation folder hold, by name, and how files get into them: whole or
not at all.

Usage: ``write_atomic(out / RUN_FILE, json.dumps(info))``; ``with atomic_path(out / "x.png") as tmp: fig.savefig(tmp)``

The one registry of file names: training writes them, evaluation, report and the model card read
them back, so no reader imports a writer to learn a name.
"""

from __future__ import annotations

import contextlib
import json
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
    found = [
        (int(m.group(1)), p)
        for p in Path(run_dir).glob("checkpoint-*")
        if p.is_dir() and (m := _CHECKPOINT.fullmatch(p.name))
    ]
    return [p for _, p in sorted(found, reverse=True)]


def check_writable(out: Path) -> None:
    """The output folder exists, or its nearest existing parent takes files so it can be made:
    checked before anything loads, and without making it -- a run that fails later must not
    leave an empty folder behind (the writers make it when they write)."""
    from mathgrpo.errors import UserError

    if out.exists() and not out.is_dir():
        raise UserError(f"output_dir {out} is a file; give a folder (field `output_dir`)")
    probe = out.absolute()
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise UserError(f"output_dir {out} cannot be made: {probe} is a file (field `output_dir`)")
    try:
        with tempfile.TemporaryFile(dir=probe):
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


def umask() -> int:
    """The process's umask, read without changing it where Linux tells it (/proc), else by the
    set-and-restore dance."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def file_mode() -> int:
    """The mode a plain ``open(path, "w")`` gives a new file under the user's umask (0644 under 022)."""
    return 0o666 & ~umask()


def dir_mode() -> int:
    """The mode ``mkdir`` gives a new folder under the user's umask (0755 under 022)."""
    return 0o777 & ~umask()


def share_modes(root: str | os.PathLike) -> int:
    """Give the files and folders under ``root`` that were created private (0600 / 0700: ``mkstemp``,
    ``mkdtemp``, and safetensors' ``save_file`` make them so) the mode the user's umask gives; other
    modes are left as they are. Returns how many were changed."""
    changed = 0
    want_file, want_dir = file_mode(), dir_mode()
    for dirpath, dirnames, filenames in os.walk(root):
        for name, private, want in [
            *((d, 0o700, want_dir) for d in dirnames),
            *((f, 0o600, want_file) for f in filenames),
        ]:
            full = os.path.join(dirpath, name)
            with contextlib.suppress(OSError):
                st = os.lstat(full)
                if not os.path.islink(full) and st.st_mode & 0o777 == private != want:
                    os.chmod(full, want)
                    changed += 1
    return changed


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """A unique temporary path beside ``path``; on success it is flushed to disk and renamed over
    ``path``, so a reader sees the old file or the new one, never half of one, and two writers never
    share a temporary file. On an error the temporary file is removed and ``path`` is untouched."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)  # check_writable checked it can be made, without making it
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.fchmod(fd, file_mode())  # mkstemp makes it 0600: the finished file gets the umask's mode
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
    os.chmod(tmp, dir_mode())  # mkdtemp makes it 0700: the finished folder gets the umask's mode
    try:
        yield tmp
        share_modes(tmp)  # what was written inside by save_file (0600) too
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


# --- local path or hub id: the one rule (models, datasets, the model card)
_HUB_ID = re.compile(r"^[\w.-]+/[\w.-]+$")


def looks_like_path(name: str, suffixes: tuple[str, ...] = ()) -> bool:
    """A reference no hub id can be: absolute, relative with ./ or ~, more than one slash, a trailing
    slash, a Windows separator, or (for datasets) a file name ending in one of ``suffixes``."""
    return (
        name.startswith(("/", ".", "~"))
        or name.count("/") > 1
        or name.endswith("/")
        or "\\" in name
        or bool(suffixes)
        and name.lower().endswith(suffixes)
    )


def hub_id(name: str | None) -> str | None:
    """``name`` when it reads as a hub repo id (``org/name``) and names nothing on this machine, else None."""
    if not name or looks_like_path(name) or not _HUB_ID.match(name) or Path(name).expanduser().exists():
        return None
    return name


# --- JSON Lines: the one reader and its one error policy
def iter_jsonl(path: str | os.PathLike, lines=None) -> Iterator[tuple[int, dict | None, str | None]]:
    """``(line number, row, None)`` per JSON object, or ``(line number, None, what is wrong)`` per bad
    line; blank lines are skipped. ``lines`` (bytes or str) replaces reading ``path``, which then only
    names the file in messages. For callers that keep going past a bad line (``mathgrpo grade``)."""
    stream = open(path, "rb") if lines is None else contextlib.nullcontext(lines)  # noqa: SIM115
    with stream as fh:
        for number, raw in enumerate(fh, 1):
            if isinstance(raw, bytes):
                try:
                    raw = raw.decode("utf-8")
                except UnicodeDecodeError as err:
                    yield number, None, f"not valid UTF-8 (byte {raw[err.start]:#04x} at column {err.start + 1})"
                    continue
            if not raw.strip():
                continue
            try:
                row = json.loads(raw)
            except json.JSONDecodeError as err:
                yield number, None, f"not valid JSON ({err.msg} at column {err.colno})"
                continue
            if not isinstance(row, dict):
                yield number, None, f"a JSON {type(row).__name__}, not an object"
                continue
            yield number, row, None


def read_jsonl(path: str | os.PathLike, lines=None) -> Iterator[dict]:
    """The rows of a JSON Lines file; the first bad line is a one-line UserError naming file and line."""
    from mathgrpo.errors import UserError

    for number, row, error in iter_jsonl(path, lines):
        if error:
            raise UserError(f"{path}:{number}: {error}; fix or remove that line")
        yield row


@contextlib.contextmanager
def exclusive(lock_path: Path, what: Path, remove: bool = False) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``lock_path`` (created if needed); refuse in one line when
    another process holds it. Released when the block ends or the process dies; with ``remove``
    the lock file is deleted (while still held) when the block ends."""
    import fcntl

    from mathgrpo.errors import UserError

    lock_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    locked = False
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            locked = True
        except BlockingIOError:
            raise UserError(
                f"another mathgrpo is writing {what}; wait for it to finish or choose another output"
            ) from None
        yield
    finally:
        if remove and locked:
            with contextlib.suppress(OSError):
                lock_path.unlink()
        os.close(fd)
