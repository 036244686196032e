"""Load any problem source into uniform ``{problem, answer}`` rows: DAPO schema, wrapper strip,
dedup, conflict and language filters; render prompts and drop the too long; ``prepare-data``.

Usage: ``ds, stats = load_problems("BytedTsinghua-SIA/DAPO-Math-17k"); print(stats.summary())``
       ``mathgrpo prepare-data --dataset ../shared/data/dapo-math-17k.parquet --output dapo.jsonl``

Reading (hub, parquet, jsonl/json, save_to_disk folders, ``generated:``) lives in
:mod:`mathgrpo.sources`; this module cleans the batches it yields. Memory stays bounded: per
batch only arrow arrays; across batches only one dict entry per *distinct* problem.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from mathgrpo.errors import ArgumentParser, UserError
from mathgrpo.sources import open_source

log = logging.getLogger(__name__)

# DAPO-Math-17k wraps every problem in its own answer instruction ("Answer: $Answer" on the
# last line). Departure from DAPO, which trains with that wrapper and reads the "Answer:" line:
# we strip it so the only answer instruction the model sees is the template's \boxed{}, the
# format our one grader reads -- two competing formats would teach the model neither.
DAPO_HEAD_TEXT = (
    "Solve the following math problem step by step. The last line of your response should be of the form "
    "Answer: $Answer (without quotes) where $Answer is the answer to the problem.\n\n"
)
DAPO_TAIL_TEXT = '\n\nRemember to put your answer on its own line after "Answer:".'
# The same wrapper with its whitespace altered (re-saved copies), for rows the exact fast path misses.
DAPO_HEAD = (
    r"(?s)^\s*Solve the following math problem step by step\.\s+The last line of your response should be "
    r"of the form Answer:\s*\$Answer \(without quotes\) where \$Answer is the answer to the problem\.\s*"
)
DAPO_TAIL = r"(?s)\s*Remember to put your answer on its own line after \"Answer:\"\.?\s*$"
DAPO_MARKERS = ("$Answer", 'on its own line after "Answer:"')
# 20 of DAPO's Chinese problems carry a second, Chinese instruction inside the wrapper ("Let's
# think step by step. Output the final answer as 'Answer: \boxed{...}' ..."); stripped likewise.
DAPO_ZH_MARKER = "让我们一步一步地思考。"
DAPO_ZH_TAIL = r"(?s)\s*让我们一步一步地思考。\s*请以“Answer:.*$"
HAN = r"\p{Han}"  # "zh" = the problem has CJK ideographs; "en" = it has none
LANGUAGES = ("all", "en", "zh")
PROGRESS_EVERY = 500_000


@dataclass
class PrepStats:
    """Row counts of one preparation. Every input row is counted exactly once:
    rows_in = missing_answer + missing_problem + language_filtered + duplicates + conflicts
              + over_limit + ungradeable + too_long + out_of_band + rows_out
    ``duplicates`` are repeats of an earlier row's problem (whitespace-insensitive);
    ``conflicts`` are distinct problems dropped because their copies disagree on the answer
    (their other copies are in ``duplicates``)."""

    rows_in: int = 0
    duplicates: int = 0
    conflicts: int = 0
    missing_answer: int = 0
    language_filtered: int = 0
    too_long: int = 0
    rows_out: int = 0
    missing_problem: int = 0
    over_limit: int = 0
    ungradeable: int = 0  # golds the grader cannot read: left out of training (mathgrpo.grading)
    out_of_band: int = 0  # pass rate outside --pass-rate-keep (mathgrpo.difficulty)

    def summary(self) -> str:
        parts = [f"{self.duplicates:,} duplicates", f"{self.conflicts:,} with conflicting answers",
                 f"{self.missing_answer:,} missing answer", f"{self.language_filtered:,} other language"]  # fmt: skip
        for value, label in (
            (self.missing_problem, "missing problem"),
            (self.over_limit, "over the limit"),
            (self.ungradeable, "ungradeable gold"),
            (self.out_of_band, "pass rate outside the band"),
        ):
            if value:
                parts.append(f"{value:,} {label}")
        parts.append(f"{self.too_long:,} too long")
        return f"rows in {self.rows_in:,}; dropped: {', '.join(parts)}; rows out {self.rows_out:,}"

    def to_dict(self) -> dict:
        return asdict(self)


def _count(mask: pa.Array) -> int:
    return pc.sum(mask).as_py() or 0


def _replace_where(arr: pa.Array, mask: pa.Array, fn) -> pa.Array:
    """``fn`` applied to the rows of ``mask`` only: regexes scan every byte, so running them on
    the few rows that can match (found by a fast literal search) keeps 1.79M rows fast."""
    if not pc.any(mask).as_py():
        return arr
    return pc.replace_with_mask(arr, mask, fn(arr.filter(mask)))


def strip_wrappers(problem: pa.Array) -> pa.Array:
    """Remove DAPO's answer instruction (exact text fast, altered whitespace by regex)."""
    exact = pc.and_(pc.starts_with(problem, DAPO_HEAD_TEXT), pc.ends_with(problem, DAPO_TAIL_TEXT))
    problem = _replace_where(
        problem, pc.fill_null(exact, False),
        lambda a: pc.utf8_slice_codeunits(a, len(DAPO_HEAD_TEXT), -len(DAPO_TAIL_TEXT)),
    )  # fmt: skip

    def loose_strip(a: pa.Array) -> pa.Array:
        a = pc.replace_substring_regex(a, DAPO_HEAD, "", max_replacements=1)
        return pc.replace_substring_regex(a, DAPO_TAIL, "")

    loose = pc.fill_null(pc.or_(*(pc.match_substring(problem, m) for m in DAPO_MARKERS)), False)
    problem = _replace_where(problem, loose, loose_strip)
    zh = pc.fill_null(pc.match_substring(problem, DAPO_ZH_MARKER), False)
    problem = _replace_where(problem, zh, lambda a: pc.replace_substring_regex(a, DAPO_ZH_TAIL, ""))
    return pc.utf8_trim_whitespace(problem)


def clean_batch(problem: pa.Array, answer: pa.Array, language: str, stats: PrepStats) -> tuple[pa.Array, pa.Array]:
    """Strip wrappers and whitespace; drop (and count) rows without answer/problem or in the
    wrong language. Vectorised: a few arrow kernels per batch."""
    stats.rows_in += len(problem)
    answer = pc.utf8_trim_whitespace(answer)
    has_answer = pc.fill_null(pc.greater(pc.utf8_length(answer), 0), False)
    problem = strip_wrappers(problem)
    has_problem = pc.fill_null(pc.greater(pc.utf8_length(problem), 0), False)
    keep = pc.and_(has_answer, has_problem)
    stats.missing_answer += len(answer) - _count(has_answer)
    stats.missing_problem += _count(pc.and_(has_answer, pc.invert(has_problem)))
    if language != "all":
        han = pc.fill_null(pc.match_substring_regex(problem, HAN), False)
        wanted = han if language == "zh" else pc.invert(han)
        stats.language_filtered += _count(pc.and_(keep, pc.invert(wanted)))
        keep = pc.and_(keep, wanted)
    return problem.filter(keep), answer.filter(keep)


class Deduper:
    """Keeps the first row of each problem (whitespace-insensitive); a problem whose copies
    carry different answers is dropped whole, since we cannot tell which gold is right.
    Memory: one entry per distinct problem text, whatever the number of rows."""

    def __init__(self) -> None:
        self.by_text: dict[str, int] = {}  # exact text -> output row (saves re-normalising repeats)
        self.by_key: dict[str, int] = {}  # whitespace-normalised text -> output row
        self.problems: list[str] = []
        self.answers: list[str] = []
        self.conflicted: set[int] = set()

    def add(self, problem: pa.Array, answer: pa.Array, stats: PrepStats) -> None:
        by_text, by_key, problems, answers = self.by_text, self.by_key, self.problems, self.answers
        before = len(answers)
        for text, ans in zip(problem.to_pylist(), answer.to_pylist()):
            j = by_text.get(text)
            if j is None:
                key = " ".join(text.split())  # str.split: every Unicode whitespace run
                j = by_key.get(key)
                if j is None:  # a new problem: this row is its first occurrence
                    by_text[text] = by_key[key] = len(answers)
                    problems.append(text)
                    answers.append(ans)
                    continue
                by_text[text] = j
            if answers[j] != ans:
                self.conflicted.add(j)
        stats.duplicates += len(problem) - (len(answers) - before)

    def result(self, stats: PrepStats) -> tuple[list[str], list[str]]:
        stats.conflicts += len(self.conflicted)
        keep = [i for i in range(len(self.answers)) if i not in self.conflicted]
        return [self.problems[i] for i in keep], [self.answers[i] for i in keep]


def load_problems(
    source: str,
    *,
    split: str = "train",
    problem_field: str | None = None,
    answer_field: str | None = None,
    language: str = "all",
    dedup: bool = True,
    limit: int | None = None,
    config_name: str | None = None,
):
    """Load ``source`` as a ``datasets.Dataset`` with exactly the columns ``problem`` and
    ``answer`` (both str), plus its :class:`PrepStats`. ``limit`` keeps the first N problems
    after cleaning and dedup. Raises UserError for anything the user can fix."""
    import datasets

    if language not in LANGUAGES:
        raise UserError(f"unknown language {language!r} (field `language`); choose one of: {', '.join(LANGUAGES)}")
    if limit is not None and limit < 0:
        raise UserError(f"limit must be >= 0, got {limit}")
    src = open_source(
        source, split=split, problem_field=problem_field, answer_field=answer_field, config_name=config_name
    )
    log.info("reading %s (problem: %s, answer: %s)", src.name, src.problem_field, src.answer_field)
    stats = PrepStats()
    deduper = Deduper() if dedup else None
    kept: list[tuple[pa.Array, pa.Array]] = []
    next_report = PROGRESS_EVERY
    for raw_problem, raw_answer in src.batches():
        problem, answer = clean_batch(raw_problem, raw_answer, language, stats)
        if deduper is not None:
            deduper.add(problem, answer, stats)
        else:
            kept.append((problem, answer))
        if stats.rows_in >= next_report:
            log.info("%s: %s rows read", src.name, f"{stats.rows_in:,}")
            next_report += PROGRESS_EVERY
    if stats.rows_in and stats.missing_answer == stats.rows_in:
        raise UserError(
            f"{src.name}: field {src.answer_field!r} has no answer in any of {stats.rows_in:,} rows "
            f"(columns: {', '.join(src.columns)}); set the answer column with --answer_field NAME"
        )
    if deduper is not None:
        problems, answers = deduper.result(stats)
    else:
        problems = pa.concat_arrays([p for p, _ in kept]) if kept else pa.array([], pa.string())
        answers = pa.concat_arrays([a for _, a in kept]) if kept else pa.array([], pa.string())
    if limit is not None and len(problems) > limit:
        stats.over_limit = len(problems) - limit
        problems, answers = problems[:limit], answers[:limit]
    stats.rows_out = len(problems)
    features = datasets.Features({"problem": datasets.Value("string"), "answer": datasets.Value("string")})
    ds = datasets.Dataset.from_dict({"problem": problems, "answer": answers}, features=features)
    log.debug("%s: %s", src.name, stats.summary())  # the caller reports the final counts
    return ds, stats


def drop_ungradeable(ds, stats: PrepStats):
    """Leave out (and count) rows whose gold the grader cannot read. Their accuracy would be None at
    every step; rather than have every reward return None for them each time, they never enter
    training. A gold the grader could not judge in time (a busy machine) is kept."""
    from mathgrpo.grading import default_grader

    grader = default_grader()
    keep = [i for i, gold in enumerate(ds["answer"]) if grader.gradeable(gold) is not False]
    dropped = len(ds) - len(keep)
    if dropped:
        log.warning("left out %d rows whose gold answer the grader cannot read", dropped)
        ds = ds.select(keep)
    stats.ungradeable += dropped
    stats.rows_out = len(ds)
    return ds


def add_prompts(ds, tokenizer, template, max_prompt_length: int | None):
    """Add ``prompt`` = ``template.render(problem, tokenizer)`` and drop rows whose prompt is
    longer than ``max_prompt_length`` tokens. Returns (dataset, number dropped).

    TRL >= 0.28 has no ``max_prompt_length`` (it used to truncate prompts from the left,
    which cut problems' beginnings); dropping the few long prompts keeps every problem whole."""
    prompts = [template.render(p, tokenizer) for p in ds["problem"]]
    if "prompt" in ds.column_names:
        ds = ds.remove_columns("prompt")
    ds = ds.add_column("prompt", prompts)
    ds = ds.select_columns(["prompt", *[c for c in ds.column_names if c != "prompt"]])
    if max_prompt_length is None:
        return ds, 0
    if tokenizer is None:
        raise UserError("max_prompt_length needs a tokenizer to count prompt tokens")
    from mathgrpo.templates import encode_prompts

    keep: list[int] = []
    step = 1024
    for start in range(0, len(prompts), step):  # counted as TRL tokenizes them for generation
        ids = encode_prompts(tokenizer, prompts[start : start + step])
        keep += [start + i for i, row in enumerate(ids) if len(row) <= max_prompt_length]
    dropped = len(prompts) - len(keep)
    if dropped:
        log.info("dropped %d of %d prompts longer than %d tokens", dropped, len(prompts), max_prompt_length)
        ds = ds.select(keep)
    return ds, dropped


# --------------------------------------------------------------------------- prepare-data verb

OUTPUT_FORMATS = (".jsonl", ".json", ".parquet")


def write_rows(ds, output: str | os.PathLike) -> Path:
    """Write ``ds`` to ``output`` (format by extension), atomically (mathgrpo.files.atomic_path)."""
    from mathgrpo.files import atomic_path

    out = check_output(str(output))
    suffix = out.suffix.lower()
    with atomic_path(out) as tmp:
        if suffix == ".parquet":
            ds.to_parquet(str(tmp))
        else:
            with open(tmp, "w", encoding="utf-8") as fh:
                rows = ds.to_list()
                if suffix == ".jsonl":
                    fh.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
                else:
                    json.dump(rows, fh, ensure_ascii=False, indent=1)
                    fh.write("\n")
    return out


def _parser() -> argparse.ArgumentParser:
    from mathgrpo.config import ScriptArguments

    defaults = ScriptArguments()  # one source of defaults, shared with `mathgrpo train`
    p = ArgumentParser(
        prog="mathgrpo prepare-data",
        description="Normalise, deduplicate and filter a problem dataset into one file of problem/answer rows.",
    )
    p.add_argument("--dataset", required=True, help="hub name, .parquet/.jsonl/.json file or folder, or generated:...")
    p.add_argument("--output", required=True, help="output file: .jsonl, .json or .parquet")
    p.add_argument("--split", default="train", help="split of a hub dataset or DatasetDict folder (default: train)")
    p.add_argument("--config-name", "--config_name", dest="config_name", default=None, help="hub dataset config name")
    p.add_argument("--problem-field", "--problem_field", dest="problem_field", default=None, help="problem column (default: auto-detected)")
    p.add_argument("--answer-field", "--answer_field", dest="answer_field", default=None, help="answer column; dotted into structs: reward_model.ground_truth")
    p.add_argument("--language", choices=LANGUAGES, default="all", help="keep problems in this language (zh: has CJK)")
    p.add_argument("--no-dedup", dest="dedup", action="store_false", help="keep repeated problems")
    p.add_argument("--limit", type=int, default=None, help="keep only the first N problems")
    p.add_argument("--tokenizer", default=None, help="also render prompts with this tokenizer (path or hub name)")
    p.add_argument("--template", default=defaults.template, help=f"prompt template (default: {defaults.template})")
    p.add_argument(
        "--max-prompt-length", "--max_prompt_length", dest="max_prompt_length", type=int, default=defaults.max_prompt_length,
        help=f"with --tokenizer: drop prompts over this many tokens, 0 keeps all (default: {defaults.max_prompt_length})",
    )  # fmt: skip
    p.add_argument("--pass-rate-model", default=None,
                   help="difficulty filter: sample answers with this model (hub name, folder, .gguf, smollm2-135m-instruct) "
                        "and write each problem's pass rate")  # fmt: skip
    p.add_argument("--pass-rate-k", type=int, default=8, help="difficulty filter: answers per problem (default 8)")
    p.add_argument("--pass-rate-keep", default="0,1",
                   help="difficulty filter: keep problems with LOW < pass rate < HIGH (default 0,1: drop the always "
                        "and the never solved)")  # fmt: skip
    p.add_argument("--pass-rate-max-new-tokens", type=int, default=1024, help="difficulty filter: answer length limit")
    p.add_argument("--pass-rate-temperature", type=float, default=1.0, help="difficulty filter: sampling temperature")
    p.add_argument("--pass-rate-batch-size", type=int, default=None, help="difficulty filter: sequences per call")
    return p


def check_output(output: str) -> Path:
    """The output's format and folder, checked before any data is read."""
    from mathgrpo.files import check_writable

    out = Path(output).expanduser()
    if out.suffix.lower() not in OUTPUT_FORMATS:
        raise UserError(f"--output {out}: unknown format {out.suffix or '(none)'}; use {', '.join(OUTPUT_FORMATS)}")
    if out.is_dir():
        raise UserError(f"--output {out} is a folder; give a file name")
    try:
        check_writable(out.parent)
    except UserError:
        raise UserError(f"--output {out}: its folder cannot be written; choose a writable place") from None
    return out


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    out = check_output(args.output)
    from mathgrpo.models import check_reference
    from mathgrpo.templates import get_template

    get_template(args.template)
    if args.tokenizer:
        check_reference(args.tokenizer, "--tokenizer", tokenizer_only=True)
    if args.pass_rate_model:
        from mathgrpo.difficulty import parse_band

        parse_band(args.pass_rate_keep)
        check_reference(args.pass_rate_model, "--pass-rate-model")
    ds, stats = load_problems(
        args.dataset,
        split=args.split,
        problem_field=args.problem_field,
        answer_field=args.answer_field,
        language=args.language,
        dedup=args.dedup,
        limit=args.limit,
        config_name=args.config_name,
    )
    ds = drop_ungradeable(ds, stats)
    if args.pass_rate_model:
        from mathgrpo.difficulty import keep_band, parse_band, pass_rates

        band = parse_band(args.pass_rate_keep)
        work = out.with_name(f".{out.name}.pass-rate")  # resumable samples, beside the output
        rates = pass_rates(ds, model=args.pass_rate_model, template=args.template, k=args.pass_rate_k,
                           temperature=args.pass_rate_temperature, max_new_tokens=args.pass_rate_max_new_tokens,
                           work_dir=work, batch_size=args.pass_rate_batch_size)  # fmt: skip
        ds, stats.out_of_band = keep_band(ds, rates, band)
        stats.rows_out = len(ds)
    if args.tokenizer:
        from mathgrpo.models import load_tokenizer, resolve_model
        from mathgrpo.templates import get_template

        template = get_template(args.template)
        tokenizer = load_tokenizer(resolve_model(args.tokenizer, "--tokenizer", tokenizer_only=True))
        limit = args.max_prompt_length if args.max_prompt_length and args.max_prompt_length > 0 else None
        ds, stats.too_long = add_prompts(ds, tokenizer, template, limit)
        stats.rows_out = len(ds)
    out = write_rows(ds, args.output)
    print(f"{args.dataset}: {stats.summary()}")  # noqa: T201 - the verb's result
    print(f"wrote {len(ds):,} rows ({', '.join(ds.column_names)}) to {out}")  # noqa: T201
    return 0
