"""A ``mathgrpo eval`` output folder: settings that must match for a resume, samples appended per
batch, one writer at a time, and verdicts that follow the grader.

Usage: ``with EvalFolder(out).writing(): done = folder.open(settings); folder.append(records)``

- ``settings.json`` is written with the first batch of samples, so a run that fails before any
  sample exists leaves nothing that would block its corrected rerun.
- A rerun resumes only with the same settings (:data:`COMPARED`, the backend and dtype included):
  one folder never averages two kinds of samples into one number.
- Every sample records the grader version it was graded under; :meth:`regrade` re-grades those
  graded under another version, and those whose verdict stayed unknown (a math-verify timeout),
  at every run: grading is cheap; generation is not.
- ``.lock`` is held (``flock``) while a process writes: a second writer is refused in one line.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

from mathgrpo.errors import UserError
from mathgrpo.files import EVAL_LOCK, EVAL_SAMPLES, EVAL_SETTINGS, atomic_path, exclusive, iter_jsonl, write_atomic

log = logging.getLogger(__name__)

# What makes two samples comparable. n, benchmarks, limit and batch size may change between runs
# into one folder (more samples, more problems); these may not.
COMPARED = ("model", "template", "temperature", "top_p", "max_new_tokens", "seed", "backend", "dtype")


def grade_record(completion: str, gold, extraction: str = "boxed") -> dict:
    """The verdict fields of one sample: the answer the ``extraction`` reading finds, both verdicts
    against the gold (or list of golds; None: unknown, stored as such, never as wrong), whether the
    grader can read the gold, the grader version and the reading."""
    from mathgrpo.grading import EQUIVALENT, GRADER_VERSION, STRICT, default_grader

    grader = default_grader()
    answer, known = grader.answer(completion, extraction)  # read once, graded twice
    correct, strict = [grader.grade_answer(answer, gold, v) if known else None for v in (EQUIVALENT, STRICT)]
    # An unknown verdict is a timeout (re-graded on resume) or a gold the grader cannot read.
    gold_ok = None if correct is not None and strict is not None else grader.gradeable(gold)
    return {
        "answer": answer,
        "correct": correct,
        "correct_strict": strict,
        "gold_ok": gold_ok,
        "grader": GRADER_VERSION,
        "extraction": extraction,
    }


class EvalFolder:
    def __init__(self, path: Path, compared: tuple[str, ...] = ()) -> None:
        self.path = Path(path)
        self.compared = (*COMPARED, *compared)  # settings that must match for a resume
        self.settings_path = self.path / EVAL_SETTINGS
        self.samples_path = self.path / EVAL_SAMPLES
        self._settings: dict | None = None

    def writing(self):
        """One writer at a time (see :func:`exclusive`)."""
        if self.path.exists() and not self.path.is_dir():
            raise UserError(f"--output {self.path} is a file; give a folder")
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise UserError(f"--output {self.path} cannot be created ({err.strerror}); choose another folder") from None
        return exclusive(self.path / EVAL_LOCK, self.path)

    def stored_settings(self) -> dict | None:
        if not self.settings_path.is_file():
            return None
        try:
            return json.loads(self.settings_path.read_text())["settings"]
        except (OSError, ValueError, KeyError, TypeError):
            raise UserError(f"{self.settings_path} is unreadable; pick another --output") from None

    def open(self, settings: dict) -> dict[tuple[str, str, int], dict]:
        """Check the folder against ``settings`` and return the samples already there."""
        old = self.stored_settings()
        if old is not None:
            diff = [k for k in self.compared if _comparable(old).get(k) != _comparable(settings).get(k)]
            if diff:
                changes = ", ".join(f"{k} {old.get(k)!r} -> {settings.get(k)!r}" for k in diff)
                raise UserError(
                    f"{self.path} holds samples made with other settings ({changes}); pick another --output"
                )
        elif self.samples_path.exists() and self.samples_path.stat().st_size:
            raise UserError(f"{self.samples_path} exists without {EVAL_SETTINGS}; pick another --output")
        self._settings = settings
        return self.read()

    def read(self) -> dict[tuple[str, str, int], dict]:
        """The samples (the writer, holding the lock, also cuts a line an interrupt left half-written)."""
        return read_samples(self.samples_path, repair=True)

    def append(self, records: list[dict]) -> None:
        """Append one batch and make it durable before the next batch starts; the settings are
        written with the first batch."""
        if not self.settings_path.is_file() and self._settings is not None:
            write_atomic(
                self.settings_path,
                json.dumps({"settings": self._settings, "created": time.strftime("%Y-%m-%d %H:%M:%S")}, indent=2),
            )
        with open(self.samples_path, "a", encoding="utf-8") as fh:
            fh.write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
            fh.flush()
            os.fsync(fh.fileno())

    def regrade(self, records: dict, everything: bool = False, extraction: str = "boxed") -> int:
        """Re-grade the samples graded under another grader version or another reading, or left
        unknown (a timeout on a busy machine), all of them with ``everything``; rewrite the samples
        file atomically, and return how many changed."""
        from mathgrpo.grading import GRADER_VERSION

        def stale_(r: dict) -> bool:
            unknown = r.get("correct") is None or r.get("correct_strict", False) is None
            return (
                everything
                or r.get("grader") != GRADER_VERSION
                or r.get("extraction", "boxed") != extraction
                or (unknown and r.get("gold_ok") is not False)
            )

        stale = [r for r in records.values() if stale_(r)]
        changed = 0
        for rec in stale:
            fields = grade_record(rec.get("completion", ""), rec.get("gold"), extraction)
            changed += any(rec.get(k) != v for k, v in fields.items() if k != "grader")
            rec.update(fields)
        if stale:
            log.info(
                "%s: re-graded %d samples under grader %s (%d verdicts changed)",
                self.path,
                len(stale),
                GRADER_VERSION,
                changed,
            )
            with atomic_path(self.samples_path) as tmp:
                tmp.write_text(
                    "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records.values()), encoding="utf-8"
                )
        return len(stale)


def _comparable(settings: dict) -> dict:
    # Greedy decoding ignores top-p and the seed: changing them must not block a resume.
    if settings.get("temperature") == 0:
        return {**settings, "top_p": None, "seed": None}
    return settings


def read_samples(path: Path, repair: bool = False) -> dict[tuple[str, str, int], dict]:
    """Records by (benchmark, id, sample). A last line without its newline is being written, or was
    cut by an interrupt: it is not read, and with ``repair`` (the lock holder only) it is removed so
    its sample is generated again. Any other unreadable line is an error."""
    if not path.is_file():
        return {}
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        cut = data.rfind(b"\n") + 1
        if repair:
            log.warning("%s: dropping a partial last line (interrupted write)", path)
            with open(path, "r+b") as fh:
                fh.truncate(cut)
        data = data[:cut]
    records: dict[tuple[str, str, int], dict] = {}
    for n, rec, error in iter_jsonl(path, data.splitlines()):
        try:
            if error:
                raise ValueError(error)
            records[(rec["benchmark"], str(rec["id"]), int(rec["sample"]))] = rec
        except (ValueError, KeyError, TypeError):
            raise UserError(f"{path}:{n}: not a sample record; pick another --output") from None
    return records
