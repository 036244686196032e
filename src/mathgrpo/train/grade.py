"""``mathgrpo grade``: re-grade saved generations with exactly the training grader.

Usage: ``mathgrpo grade samples.jsonl -o graded.jsonl --answer-field answer --completion-field completion``

Each input line is a JSON object; each output line is the same object with ``correct``
(true / false / null where the gold cannot be graded), ``accuracy_reward`` and ``format_reward``
added. The rewards are the training reward functions themselves (mathgrpo.train.rewards), times the
weights (defaults: the seed recipe's accuracy 1.0, format 0.5). The gold field may hold a list of
golds (any may match). ``--extraction text`` makes ``correct`` read the answer as published graders
do (no box needed); the rewards always read the box, as in training.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

from mathgrpo.errors import ArgumentParser, UserError
from mathgrpo.evaluation.folder import exclusive
from mathgrpo.files import atomic_path, check_output_file, iter_jsonl
from mathgrpo.grading import BOXED, EXTRACTIONS, STRICT, TEXT, VERDICTS, default_grader
from mathgrpo.train.rewards import RewardOptions, build_reward_funcs

# The seed recipe's reward weights (recipes/qwen2.5-math-1.5b/seed.yaml): the default scale of the
# rewards this verb writes.
SEED_WEIGHTS = {"accuracy": 1.0, "format": 0.5}

logger = logging.getLogger(__name__)

BATCH = 256


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = ArgumentParser(
        prog="mathgrpo grade",
        description="Re-grade saved completions (JSONL) with the training grader and reward functions.",
        epilog="accuracy_reward and format_reward are weighted: raw reward (1.0 or 0.0) times "
        "--accuracy-weight / --format-weight, which default to the seed recipe's weights "
        f"({SEED_WEIGHTS['accuracy']} and {SEED_WEIGHTS['format']}). A correct, well-formatted "
        "completion therefore shows accuracy_reward 1.0 and format_reward 0.5. Malformed JSON lines "
        "are reported with their line number and left out of the output (exit status 1).",
    )
    p.add_argument("input", help="JSONL file, one object per line ('-' for stdin)")
    p.add_argument("-o", "--output", help="where to write the graded JSONL (atomically); default: stdout")
    p.add_argument("--answer-field", default="answer", help="field holding the gold answer (default: answer)")
    p.add_argument(
        "--completion-field",
        default="completion",
        help="field holding the completion: a string, chat messages, or null (default: completion)",
    )
    p.add_argument(
        "--prompt-field",
        default="prompt",
        help="field holding the prompt, if present: a prompt ending in <think> opens the think block",
    )
    p.add_argument(
        "--think-in-prompt",
        action="store_true",
        help="the chat template itself opened <think> (not visible in the saved prompt)",
    )
    p.add_argument(
        "--verdict",
        choices=VERDICTS,
        default=STRICT,
        help="strict (the training reward's: an integer gold wants an integer written) or "
        "equivalent (mathematically equal answers count, as published graders do)",
    )
    p.add_argument(
        "--extraction",
        choices=EXTRACTIONS,
        default=BOXED,
        help="how `correct` reads a completion's answer: boxed (the last \\boxed{}, the training reward's) or "
        "text (the final box, several boxes of one answer together, else the answer the text states, as "
        "math-verify, lighteval and the Qwen2.5-Math harness read); accuracy_reward always reads the box",
    )
    p.add_argument("--accuracy-weight", type=float, default=SEED_WEIGHTS["accuracy"])
    p.add_argument("--format-weight", type=float, default=SEED_WEIGHTS["format"])
    return p.parse_args(argv)


def _read(path: str):
    """Yield ``(line_number, row or None, error or None)`` (files.iter_jsonl); a bad line is counted
    and reported, never fatal. Blank lines are skipped silently."""
    if path == "-":
        yield from iter_jsonl("<stdin>", getattr(sys.stdin, "buffer", sys.stdin))
        return
    if not Path(path).is_file():
        raise UserError(f"{path}: no such file; give a JSONL file of saved completions")
    yield from iter_jsonl(path)


class _Summary:
    def __init__(self, extraction: str = BOXED) -> None:
        self.extraction = extraction
        self.rows = self.correct = self.ungradeable = self.formatted = self.bad_lines = 0
        self.started = time.monotonic()

    def line(self) -> str:
        graded = self.rows - self.ungradeable
        acc = f"{self.correct / graded:.4f}" if graded else "n/a"
        fmt = f"{self.formatted / self.rows:.4f}" if self.rows else "n/a"
        return (
            f"rows {self.rows}  accuracy {acc} ({self.correct}/{graded})  reading {self.extraction}  "
            f"ungradeable {self.ungradeable}  "
            f"format {fmt}  malformed lines {self.bad_lines}  seconds {time.monotonic() - self.started:.1f}"
        )


def _check_fields(row: dict, args, number: int) -> None:
    """The first row tells whether the field names are right: fail early, naming what exists."""
    for flag, name in (("--answer-field", args.answer_field), ("--completion-field", args.completion_field)):
        if name not in row:
            keys = ", ".join(sorted(row)) or "none"
            raise UserError(f"{args.input} line {number}: no field {name!r} (fields: {keys}); set {flag}")


def grade_rows(rows: list[dict], args, accuracy, fmt, summary: _Summary) -> list[dict]:
    completions = [r.get(args.completion_field) for r in rows]
    prompts = [r.get(args.prompt_field) for r in rows]
    acc = accuracy(completions, answer=[r.get(args.answer_field) for r in rows])
    form = fmt(completions, prompts=prompts)
    if args.extraction == TEXT:
        grader = default_grader()
        golds = [r.get(args.answer_field) for r in rows]
        correct = [grader.grade(c, g, args.verdict, TEXT) for c, g in zip(completions, golds)]
    else:
        correct = [None if a is None else a == 1.0 for a in acc]
    for row, a, f, ok in zip(rows, acc, form, correct):
        row["correct"] = ok
        row["accuracy_reward"] = None if a is None else a * args.accuracy_weight
        row["format_reward"] = f * args.format_weight
        summary.rows += 1
        summary.correct += ok is True
        summary.ungradeable += ok is None
        summary.formatted += f == 1.0
    return rows


def run(args) -> _Summary:
    if args.input != "-" and not Path(args.input).is_file():
        raise UserError(f"{args.input}: no such file; give a JSONL file of saved completions")
    accuracy, fmt = build_reward_funcs(
        ["accuracy", "format"],
        RewardOptions(
            max_completion_length=1, think_in_prompt=True if args.think_in_prompt else None, verdict=args.verdict
        ),
    )
    out_path = Path(args.output) if args.output else None
    if out_path is None:
        return _grade_into(args, sys.stdout, accuracy, fmt)
    check_output_file(out_path, "-o")
    with exclusive(out_path.with_name(f".{out_path.name}.lock"), out_path, remove=True), atomic_path(out_path) as tmp:
        with open(tmp, "w", encoding="utf-8") as out:  # all or nothing: never a half-written file
            return _grade_into(args, out, accuracy, fmt)


def _grade_into(args, out, accuracy, fmt) -> _Summary:
    summary = _Summary(args.extraction)
    batch: list[dict] = []
    checked = False
    for number, row, error in _read(args.input):
        if error is not None:
            summary.bad_lines += 1
            print(f"mathgrpo grade: {args.input} line {number}: {error}; left out", file=sys.stderr)  # noqa: T201
            continue
        if not checked:
            _check_fields(row, args, number)
            checked = True
        batch.append(row)
        if len(batch) >= BATCH:
            _write(out, grade_rows(batch, args, accuracy, fmt, summary))
            batch = []
    _write(out, grade_rows(batch, args, accuracy, fmt, summary) if batch else [])
    out.flush()
    return summary


def _write(out, rows: list[dict]) -> None:
    for row in rows:
        line = json.dumps(row, ensure_ascii=False)
        try:
            line.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate ("\ud800" is valid JSON): keep it escaped
            line = json.dumps(row)
        out.write(line + "\n")


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    logging.getLogger("mathgrpo.grading.checker").setLevel(logging.ERROR)  # the summary counts them
    summary = run(args)
    # With the graded rows on stdout, the summary goes to stderr so that the JSONL stays clean.
    print(f"mathgrpo grade: {summary.line()}", file=sys.stdout if args.output else sys.stderr)  # noqa: T201
    return 1 if summary.bad_lines else 0
