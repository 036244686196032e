"""``mathgrpo grade``: re-grade saved generations with exactly the training grader.

Usage: ``mathgrpo grade samples.jsonl -o graded.jsonl --answer-field answer --completion-field completion``

Each input line is a JSON object; each output line is the same object with ``correct``
(true / false / null where the gold cannot be graded) and one ``<name>_reward`` per reward added:
``accuracy_reward`` and ``format_reward`` by default, or every reward a run used with ``--run RUN_DIR``
(its recorded ``reward_funcs``, weights and verdict), or those named by ``--rewards`` (registry names
or dotted paths). The rewards are the training reward functions themselves (mathgrpo.train.rewards),
times the weights (defaults: the seed recipe's accuracy 1.0, format 0.5; 1.0 for any other). A reward
that reads token ids (``soft_overlong``) gets them from ``--tokenizer`` (a run folder holds its own).
The gold field may hold a list of golds (any may match). ``--extraction text`` makes ``correct`` read
the answer as published graders do (no box needed); the rewards always read the box, as in training.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

from mathgrpo.errors import ArgumentParser, UserError
from mathgrpo.files import atomic_path, check_output_file, exclusive, iter_jsonl
from mathgrpo.grading import BOXED, EXTRACTIONS, STRICT, TEXT, VERDICTS, completion_text, default_grader
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
        epilog="Each <name>_reward is weighted: the raw reward times its weight. By default accuracy and "
        "format with the seed recipe's weights "
        f"({SEED_WEIGHTS['accuracy']} and {SEED_WEIGHTS['format']}), so a correct, well-formatted "
        "completion shows accuracy_reward 1.0 and format_reward 0.5; --run RUN_DIR grades with every reward "
        "that run used, at its weights. Malformed JSON lines "
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
    p.add_argument("--accuracy-weight", type=float, default=None, help="default: the seed recipe's 1.0")
    p.add_argument("--format-weight", type=float, default=None, help="default: the seed recipe's 0.5")
    p.add_argument(
        "--run",
        help="a training output folder: grade with every reward it used, its weights and accuracy verdict "
        "(mathgrpo_run.json), and its tokenizer",
    )
    p.add_argument(
        "--rewards",
        nargs="+",
        help="rewards to compute, as in a recipe's reward_funcs: registry names or dotted paths "
        "(default: accuracy format, or the run's)",
    )
    p.add_argument("--weights", nargs="+", type=float, help="one weight per --rewards entry (default 1.0 each)")
    p.add_argument("--tokenizer", help="model folder or hub name whose tokenizer gives rewards their token ids")
    p.add_argument(
        "--max-completion-length",
        type=int,
        default=None,
        help="the run's max_completion_length, for soft_overlong (default: the run's, else 2048 as the seed recipe)",
    )
    p.set_defaults(overlong_buffer=None, overlong_penalty=1.0)  # the recipe defaults; --run reads the run's
    return p.parse_args(argv)


def reward_plan(args) -> tuple[list[str], list[float], list[str]]:
    """The rewards to compute (logged names), their weights and their sources (registry names or dotted
    paths): --rewards, else the run's, else the seed recipe's two; --accuracy-weight / --format-weight
    override those two rewards' weights."""
    from mathgrpo.train.rewards import check_reward_names, reward_name

    names, weights = ["accuracy", "format"], [SEED_WEIGHTS["accuracy"], SEED_WEIGHTS["format"]]
    if args.run:
        info = _run_record(args.run)
        names = list(info.get("reward_sources") or info.get("reward_funcs") or names)
        weights = list(info.get("reward_weights") or [1.0] * len(names))
        script = info.get("script_args") or {}
        args.verdict = script.get("accuracy_verdict", args.verdict)
        args.overlong_buffer = script.get("overlong_buffer")
        args.overlong_penalty = script.get("overlong_penalty", 1.0)
        args.tokenizer = args.tokenizer or args.run
        max_length = (info.get("training_args") or {}).get("max_completion_length")
        args.max_completion_length = args.max_completion_length or max_length
    if args.rewards:
        names = list(args.rewards)
        weights = list(args.weights) if args.weights else [SEED_WEIGHTS.get(n, 1.0) for n in names]
    if len(weights) != len(names):
        raise UserError(f"--weights has {len(weights)} values for {len(names)} rewards ({', '.join(names)})")
    check_reward_names(names)
    for flag, name in ((args.accuracy_weight, "accuracy"), (args.format_weight, "format")):
        if flag is not None and name in names:
            weights[names.index(name)] = flag
    return [reward_name(n) for n in names], weights, names


def _run_record(run_dir: str) -> dict:
    from mathgrpo.files import RUN_FILE

    path = Path(run_dir) / RUN_FILE
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"--run {run_dir}: no {RUN_FILE}; give a mathgrpo training output folder") from None
    except (OSError, ValueError) as err:
        raise UserError(f"--run {run_dir}: {RUN_FILE} is not readable JSON ({err})") from None


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


def grade_rows(rows: list[dict], args, rewards: list, summary: _Summary) -> list[dict]:
    """Add ``correct`` and each reward (``<name>_reward``, weighted) to ``rows``."""
    completions = [r.get(args.completion_field) for r in rows]
    golds = [r.get(args.answer_field) for r in rows]
    kwargs = {"answer": golds, "prompts": [r.get(args.prompt_field) for r in rows]}
    if args.token_ids is not None:
        kwargs["completion_ids"] = [args.token_ids(completion_text(c)) for c in completions]
    raw = {name: func(completions, **kwargs) for name, func, _ in rewards}
    if args.extraction == TEXT or "accuracy" not in raw:
        grader = default_grader()
        correct = [grader.grade(c, g, args.verdict, args.extraction) for c, g in zip(completions, golds)]
    else:
        correct = [None if a is None else a == 1.0 for a in raw["accuracy"]]
    for i, (row, ok) in enumerate(zip(rows, correct)):
        row["correct"] = ok
        for name, _, weight in rewards:
            value = raw[name][i]
            row[f"{name}_reward"] = None if value is None else value * weight
        summary.rows += 1
        summary.correct += ok is True
        summary.ungradeable += ok is None
        summary.formatted += "format" in raw and raw["format"][i] == 1.0
    return rows


def run(args) -> _Summary:
    if args.input != "-" and not Path(args.input).is_file():
        raise UserError(f"{args.input}: no such file; give a JSONL file of saved completions")
    names, weights, sources = reward_plan(args)
    args.max_completion_length = args.max_completion_length or 2048  # the seed recipe's
    funcs = build_reward_funcs(
        sources,
        RewardOptions(
            max_completion_length=args.max_completion_length,
            think_in_prompt=True if args.think_in_prompt else None,
            verdict=args.verdict,
            overlong_buffer=args.overlong_buffer,
            overlong_penalty=args.overlong_penalty,
        ),
    )
    rewards = list(zip(names, funcs, weights))
    args.token_ids = _token_counter(args.tokenizer) if args.tokenizer else None
    out_path = Path(args.output) if args.output else None
    if out_path is None:
        return _grade_into(args, sys.stdout, rewards)
    check_output_file(out_path, "-o")
    with exclusive(out_path.with_name(f".{out_path.name}.lock"), out_path, remove=True), atomic_path(out_path) as tmp:
        with open(tmp, "w", encoding="utf-8") as out:  # all or nothing: never a half-written file
            return _grade_into(args, out, rewards)


def _token_counter(model: str):
    """The completions' token ids under ``model``'s tokenizer (rewards such as soft_overlong read them)."""
    from mathgrpo.models import load_error, load_tokenizer, resolve_model

    path = resolve_model(model, field="--tokenizer")
    try:
        tokenizer = load_tokenizer(path)
    except (OSError, ValueError) as err:
        raise load_error(model, err, "--tokenizer") from None
    return lambda text: tokenizer(text, add_special_tokens=False)["input_ids"]


def _grade_into(args, out, rewards) -> _Summary:
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
            _write(out, grade_rows(batch, args, rewards, summary))
            batch = []
    _write(out, grade_rows(batch, args, rewards, summary) if batch else [])
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
