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
import re
from dataclasses import asdict, dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from mathgrpo.data.instructions import strip_instructions
from mathgrpo.data.schemas import PLACEHOLDER_GOLDS
from mathgrpo.data.sources import Batch, open_source
from mathgrpo.errors import UserError

log = logging.getLogger(__name__)

_PLAIN_INT = re.compile(r"\s*[+-]?\d+\s*")
HAN = r"\p{Han}"  # "zh" = the problem has CJK ideographs; "en" = it has none
LANGUAGES = ("all", "en", "zh")
PROGRESS_EVERY = 500_000


@dataclass
class PrepStats:
    """Row counts of one preparation. Every input row is counted exactly once:
    rows_in = missing_answer + placeholder_gold + missing_problem + language_filtered + duplicates
              + conflicts + over_limit + ungradeable + too_long + out_of_band + rows_out
    ``duplicates`` are repeats of an earlier row's problem (whitespace-insensitive);
    ``conflicts`` are distinct problems dropped because their copies disagree on the answer
    (their other copies are in ``duplicates``). Beside the counts: ``schema``, the layout read
    (mathgrpo.data.schemas); ``golds``, per gold rule the rows kept after cleaning and how many of
    them go to the slow grading path (math-verify); ``instructions``, per answer instruction of
    another framework the rows it was stripped from (mathgrpo.data.instructions)."""

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
    placeholder_gold: int = 0  # "proof", "notfound" (NuminaMath-1.5): no answer to grade
    schema: str = ""
    golds: dict = field(default_factory=dict)  # rule -> {"rows": n, "slow": m}
    instructions: dict = field(default_factory=dict)  # instruction name -> rows stripped
    rules: list = field(default_factory=list, repr=False)  # each output row's gold rule (not saved)

    def summary(self) -> str:
        parts = [
            f"{self.duplicates:,} duplicates",
            f"{self.conflicts:,} with conflicting answers",
            f"{self.missing_answer:,} missing answer",
            f"{self.language_filtered:,} other language",
        ]
        for value, label in (
            (self.placeholder_gold, "placeholder gold (proof/notfound)"),
            (self.missing_problem, "missing problem"),
            (self.over_limit, "over the limit"),
            (self.ungradeable, "ungradeable gold"),
            (self.out_of_band, "pass rate outside the band"),
        ):
            if value:
                parts.append(f"{value:,} {label}")
        parts.append(f"{self.too_long:,} too long")
        line = f"rows in {self.rows_in:,}; dropped: {', '.join(parts)}; rows out {self.rows_out:,}"
        if self.golds:
            from mathgrpo.data.schemas import RULES

            read = ", ".join(
                f"{g['rows']:,} by {RULES.get(rule, rule)} ({g['slow']:,} slow)"
                for rule, g in sorted(self.golds.items(), key=lambda kv: -kv[1]["rows"])
            )
            line += f"; golds read ({self.schema or 'fields'} schema): {read}"
        if self.instructions:
            line += "; instructions stripped: " + ", ".join(f"{n:,} {k}" for k, n in sorted(self.instructions.items()))
        return line

    def to_dict(self) -> dict:
        out = asdict(self)
        del out["rules"]
        return out


def _count(mask: pa.Array) -> int:
    return pc.sum(mask).as_py() or 0


def clean_batch(batch: Batch, language: str, stats: PrepStats) -> Batch:
    """Strip instructions and whitespace; drop (and count) rows without answer/problem, with only
    placeholder golds or in the wrong language. Vectorised: a few arrow kernels per batch."""
    problem, answer, more, rule = batch
    stats.rows_in += len(problem)
    answer = pc.utf8_trim_whitespace(answer)
    has_answer = pc.fill_null(pc.greater(pc.utf8_length(answer), 0), False)
    missing = len(answer) - _count(has_answer)
    placeholder = pc.fill_null(pc.is_in(pc.utf8_lower(answer), pa.array(PLACEHOLDER_GOLDS)), False)
    if more is not None:  # several golds: placeholders and empty ones leave the list
        firsts, rests = [], []
        for a, rest in zip(answer.to_pylist(), more):
            golds = [g.strip() for g in [a, *rest] if g and g.strip() and g.strip().lower() not in PLACEHOLDER_GOLDS]
            firsts.append(golds[0] if golds else None)
            rests.append(golds[1:])
        answer, more = pa.array(firsts, pa.string()), rests
        placeholder = pc.and_(has_answer, pc.invert(pc.is_valid(answer)))
    stats.missing_answer += missing
    stats.placeholder_gold += _count(placeholder)
    has_answer = pc.and_(has_answer, pc.invert(placeholder))
    problem = strip_instructions(problem, stats.instructions)
    has_problem = pc.fill_null(pc.greater(pc.utf8_length(problem), 0), False)
    keep = pc.and_(has_answer, has_problem)
    stats.missing_problem += _count(pc.and_(has_answer, pc.invert(has_problem)))
    if language != "all":
        han = pc.fill_null(pc.match_substring_regex(problem, HAN), False)
        wanted = han if language == "zh" else pc.invert(han)
        stats.language_filtered += _count(pc.and_(keep, pc.invert(wanted)))
        keep = pc.and_(keep, wanted)
    if more is not None:
        flags = keep.to_pylist()
        more = [m for m, k in zip(more, flags) if k]
    return Batch(problem.filter(keep), answer.filter(keep), more, rule.filter(keep))


class Deduper:
    """Keeps the first row of each problem (whitespace-insensitive); a problem whose copies
    carry different golds is dropped whole, since we cannot tell which gold is right.
    Memory: one entry per distinct problem text, whatever the number of rows."""

    def __init__(self) -> None:
        self.by_text: dict[str, int] = {}  # exact text -> output row (saves re-normalising repeats)
        self.by_key: dict[str, int] = {}  # whitespace-normalised text -> output row
        self.problems: list[str] = []
        self.answers: list = []  # the gold, or a tuple of golds where a row has several
        self.rules: list[str] = []
        self.conflicted: set[int] = set()

    def add(self, batch: Batch, stats: PrepStats) -> None:
        by_text, by_key, problems, answers = self.by_text, self.by_key, self.problems, self.answers
        before = len(answers)
        golds = _golds_of(batch)
        new: list[int] = []  # rows of this batch that are first occurrences
        for i, (text, ans) in enumerate(zip(batch.problem.to_pylist(), golds)):
            j = by_text.get(text)
            if j is None:
                key = " ".join(text.split())  # str.split: every Unicode whitespace run
                j = by_key.get(key)
                if j is None:  # a new problem: this row is its first occurrence
                    by_text[text] = by_key[key] = len(answers)
                    problems.append(text)
                    answers.append(ans)
                    new.append(i)
                    continue
                by_text[text] = j
            if answers[j] != ans:
                self.conflicted.add(j)
        self.rules += batch.rule.take(pa.array(new, pa.int64())).to_pylist()
        stats.duplicates += len(batch.problem) - (len(answers) - before)

    def result(self, stats: PrepStats) -> tuple[list[str], list, list[str]]:
        stats.conflicts += len(self.conflicted)
        keep = [i for i in range(len(self.answers)) if i not in self.conflicted]
        return [self.problems[i] for i in keep], [self.answers[i] for i in keep], [self.rules[i] for i in keep]


def _golds_of(batch: Batch) -> list:
    """Each row's gold: the text, or a tuple of every gold where the row has several."""
    first = batch.answer.to_pylist()
    if batch.more is None:
        return first
    return [(a, *m) if m else a for a, m in zip(first, batch.more)]


def gold_is_slow(gold: str) -> bool:
    """Whether grading against ``gold`` takes math-verify: the grader's fast path takes exact
    integers and plain numbers (mathgrpo.grading.checker), everything else goes to math-verify."""
    if _PLAIN_INT.fullmatch(gold):  # every DAPO gold: skip the general number reading
        return False
    from mathgrpo.grading.normalize import exact_number

    return exact_number(gold) is None


def count_golds(answers: list, rules: list[str], stats: PrepStats) -> None:
    """Per gold rule: rows, and rows of which some gold goes to the slow grading path."""
    counts: dict[str, dict[str, int]] = {}
    for ans, rule in zip(answers, rules):
        c = counts.setdefault(rule, {"rows": 0, "slow": 0})
        c["rows"] += 1
        c["slow"] += any(gold_is_slow(g) for g in ans) if isinstance(ans, tuple) else gold_is_slow(ans)
    stats.golds = counts


def to_dataset(problems: list[str], answers: list):
    """Rows {problem, answer} -- and ``answers`` (every gold, first == answer) on every row when some
    row has several golds (Arrow needs one type per column)."""
    import datasets

    columns = {"problem": problems, "answer": [a[0] if isinstance(a, tuple) else a for a in answers]}
    features = {"problem": datasets.Value("string"), "answer": datasets.Value("string")}
    if any(isinstance(a, tuple) for a in answers):
        columns["answers"] = [list(a) if isinstance(a, tuple) else [a] for a in answers]
        features["answers"] = datasets.Sequence(datasets.Value("string"))
    return datasets.Dataset.from_dict(columns, features=datasets.Features(features))


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
    """Load ``source`` as a ``datasets.Dataset`` with the columns ``problem`` and ``answer`` (both
    str) -- plus ``answers`` (list of str) when some row has several golds -- and its
    :class:`PrepStats`. ``limit`` keeps the first N problems after cleaning and dedup. Raises
    UserError for anything the user can fix."""
    if language not in LANGUAGES:
        raise UserError(f"unknown language {language!r} (field `language`); choose one of: {', '.join(LANGUAGES)}")
    if limit is not None and limit < 0:
        raise UserError(f"limit must be >= 0, got {limit}")
    src = open_source(
        source, split=split, problem_field=problem_field, answer_field=answer_field, config_name=config_name
    )
    log.info(
        "reading %s (schema %s; problem: %s, answer: %s)", src.name, src.schema, src.problem_field, src.answer_field
    )
    stats = PrepStats(schema=src.schema)
    deduper = Deduper() if dedup else None
    problems: list[str] = []
    answers: list = []
    rules: list[str] = []
    next_report = PROGRESS_EVERY
    for raw in src.batches():
        batch = clean_batch(raw, language, stats)
        if deduper is not None:
            deduper.add(batch, stats)
        else:
            problems += batch.problem.to_pylist()
            answers += _golds_of(batch)
            rules += batch.rule.to_pylist()
        if stats.rows_in >= next_report:
            log.info("%s: %s rows read", src.name, f"{stats.rows_in:,}")
            next_report += PROGRESS_EVERY
    if stats.rows_in and stats.missing_answer == stats.rows_in:
        raise UserError(
            f"{src.name}: field {src.answer_field!r} has no answer in any of {stats.rows_in:,} rows "
            f"(columns: {', '.join(src.columns)}); set the answer column with --answer_field NAME"
        )
    if deduper is not None:
        problems, answers, rules = deduper.result(stats)
    if limit is not None and len(problems) > limit:
        stats.over_limit = len(problems) - limit
        problems, answers, rules = problems[:limit], answers[:limit], rules[:limit]
    stats.rows_out = len(problems)
    count_golds(answers, rules, stats)
    stats.rules = rules
    ds = to_dataset(problems, answers)
    log.debug("%s: %s", src.name, stats.summary())  # the caller reports the final counts
    return ds, stats


SLOW_WARN_SHARE = 0.5  # warn when more than this share of the golds needs math-verify
SLOW_SAMPLE = 8  # golds timed for the warning's measured cost


@dataclass
class DataSource:
    """Which rows to train on: the data fields of a recipe (``ScriptArguments.data_source()``) or of
    ``mathgrpo prepare-data``'s command line, typed, so this layer never reads the training config."""

    name: str  # hub name, local file or folder, or generated:KIND?...
    split: str = "train"
    config_name: str | None = None
    problem_field: str | None = None
    answer_field: str | None = None
    language: str = "all"
    dedup: bool = True
    limit: int | None = None


def training_rows(source: DataSource):
    """The rows a training run trains on: loaded, cleaned, deduplicated, and without golds the grader
    cannot read. ``mathgrpo train`` and ``mathgrpo prepare-data`` both read their data through this one
    call. No row left is an error."""
    ds, stats = load_problems(
        source.name,
        split=source.split,
        config_name=source.config_name,
        problem_field=source.problem_field,
        answer_field=source.answer_field,
        language=source.language,
        dedup=source.dedup,
        limit=source.limit,
    )
    ds = drop_ungradeable(ds, stats)
    if not len(ds):
        raise UserError(f"{source.name}: no rows left ({stats.summary()})")
    warn_if_slow(ds, stats)
    return ds, stats


def _golds_column(ds) -> list:
    return ds["answers"] if "answers" in ds.column_names else ds["answer"]


def warn_if_slow(ds, stats: PrepStats) -> float | None:
    """One warning when most golds need math-verify, with the cost per grade measured here on a
    few of them (a wrong answer "0", so no cache and no early exact match). Returns that cost (s)."""
    slow = sum(g["slow"] for g in stats.golds.values())
    if not stats.rows_out or slow <= SLOW_WARN_SHARE * stats.rows_out:
        return None
    import time

    from mathgrpo.grading import default_grader

    grader = default_grader()
    grader.warm_up()
    golds = [g[0] if isinstance(g, list) else g for g in _golds_column(ds)]
    sample = [g for g in dict.fromkeys(golds) if gold_is_slow(g)][:SLOW_SAMPLE]
    start = time.perf_counter()
    for gold in sample:
        grader.grade_answer("0", gold)
    per_grade = (time.perf_counter() - start) / max(len(sample), 1)
    log.warning(
        "%s of %s golds need math-verify to grade (not a plain number): measured %.1f ms per grade here "
        "(a plain-number gold: microseconds); every step grades num_generations completions per problem",
        f"{slow:,}",
        f"{stats.rows_out:,}",
        per_grade * 1000,
    )
    return per_grade


def drop_ungradeable(ds, stats: PrepStats):
    """Leave out (and count) rows whose gold the grader cannot read (all golds, where a row has
    several). Their accuracy would be None at every step; rather than have every reward return None
    for them each time, they never enter training. A gold the grader could not judge in time (a
    busy machine) is kept."""
    from mathgrpo.grading import default_grader

    grader = default_grader()

    def readable(golds) -> bool:
        golds = golds if isinstance(golds, list) else [golds]
        return any(grader.gradeable(g) is not False for g in golds)

    keep = [i for i, golds in enumerate(_golds_column(ds)) if readable(golds)]
    dropped = len(ds) - len(keep)
    if dropped:
        log.warning("left out %d rows whose gold answer the grader cannot read", dropped)
        ds = ds.select(keep)
        if len(stats.rules) == len(keep) + dropped:
            stats.rules = [stats.rules[i] for i in keep]
            golds = _golds_column(ds)
            count_golds([tuple(g) if isinstance(g, list) else g for g in golds], stats.rules, stats)
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
