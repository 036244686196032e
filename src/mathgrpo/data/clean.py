"""Load any problem source into uniform ``{problem, answer}`` rows: DAPO schema, wrapper strip,
dedup, conflict and language filters; render prompts and drop the too long; ``prepare-data``.

Usage: ``ds, stats = load_problems("BytedTsinghua-SIA/DAPO-Math-17k"); print(stats.summary())``
(the ``prepare-data`` verb around it is prepare.py)

Reading (hub, parquet, jsonl/json, save_to_disk folders, ``generated:``) lives in
:mod:`mathgrpo.data.sources`; this module cleans the batches it yields. Memory stays bounded: per
batch only arrow arrays; across batches only one dict entry per *distinct* problem.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass

import pyarrow as pa
import pyarrow.compute as pc

from mathgrpo.data.sources import open_source
from mathgrpo.errors import UserError

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
    out_of_band: int = 0  # pass rate outside --pass-rate-keep (mathgrpo.evaluation.difficulty)

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


def training_rows(script_args):
    """The rows a training run trains on, from its ScriptArguments (data fields): loaded, cleaned,
    deduplicated, and without golds the grader cannot read. ``mathgrpo train`` and
    ``mathgrpo prepare-data`` both read their data through this one call."""
    ds, stats = load_problems(
        script_args.dataset_name,
        split=script_args.dataset_split,
        config_name=script_args.dataset_config,
        problem_field=script_args.problem_field,
        answer_field=script_args.answer_field,
        language=script_args.language,
        dedup=script_args.dedup,
        limit=script_args.max_train_samples,
    )
    return drop_ungradeable(ds, stats), stats


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
    from mathgrpo.data.templates import encode_prompts

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
