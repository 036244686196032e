"""The evaluation benchmarks: one small definition each (where the question is, how to read the gold).

Usage: ``ds = load_benchmark("math500", data_dir="../shared/data/eval", limit=50)`` -> a
``datasets.Dataset`` with the columns ``problem``, ``answer`` (gold, str) and ``id`` (str).

``name`` is a built-in benchmark (see :data:`BENCHMARKS`), a path to the user's own
jsonl/json/parquet file (fields auto-detected or named), or a ``generated:...`` spec.
Built-ins are read from ``data_dir`` (else ``$MATHGRPO_DATA_DIR``), else from the hub.
The local files are the Qwen2.5-Math evaluation harness's, whose golds come in several
shapes: AIME's ``025``, AMC's float ``27.0``, Minerva's gold only inside its solution's last
``\\boxed{}``, OlympiadBench's list of ``$...$`` answers, GSM8K's ``#### 1,234``. Every gold
leaves here as one clean string that :func:`mathgrpo.grading.grade` reads.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mathgrpo.errors import UserError
from mathgrpo.files import read_jsonl

log = logging.getLogger(__name__)

DATA_DIR_ENV = "MATHGRPO_DATA_DIR"
USER_FILE_SUFFIXES = (".jsonl", ".json", ".parquet")


# --------------------------------------------------------------------------- gold readers


def plain_gold(value) -> str | None:
    """A harness gold field as text: numbers by the grader's rule (AMC's ``27.0`` is ``27``); an
    all-digit string loses its leading zeros (AIME's ``025``); everything else is stripped text."""
    from mathgrpo.grading.normalize import number_text

    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return number_text(value)
    if isinstance(value, (list, tuple)):
        return latex_list(value)
    text = str(value).strip()
    if re.fullmatch(r"\d+", text):
        return str(int(text))
    return text or None


def latex_list(value) -> str | None:
    """OlympiadBench's golds: a list of strings, each with its math in ``$...$`` (a multi-part
    answer may be ``$69$,$84$``). The ``$`` delimiters go; parts are joined by ``, ``."""
    items = value if isinstance(value, (list, tuple)) else [value]
    parts: list[str] = []
    for item in items:
        if item is None:
            continue
        text = str(item).strip()
        segments = re.findall(r"\$([^$]*)\$", text)
        parts += [s.strip() for s in segments] if segments else [text.strip("$ ")]
    parts = [p for p in parts if p]
    return ", ".join(parts) if parts else None


def after_hashes(value) -> str | None:
    """GSM8K's gold: the text after the last ``#### `` of the worked answer, thousands commas dropped."""
    from mathgrpo.data.schemas import gsm8k_gold  # the one GSM8K rule, shared with training data

    if value is None or "####" not in str(value):
        return None
    return gsm8k_gold(str(value))


def last_boxed(value) -> str | None:
    """Minerva's gold: the content of the worked solution's last ``\\boxed{}``."""
    if value is None:
        return None
    from mathgrpo.grading import extract_boxed

    boxed = extract_boxed(str(value))
    return boxed.strip() if boxed and boxed.strip() else None


# --------------------------------------------------------------------------- definitions


@dataclass(frozen=True, kw_only=True)
class Benchmark:
    """One benchmark: where it lives and how to read its question and gold. Field lists are tried in
    order, so one definition reads both the harness's local file and the hub copy (whose names differ).

    >>> mine = Benchmark(name="mine", files=("mine.jsonl",), question=("problem",), gold=(("answer", plain_gold),))
    >>> mine.gold_of({"problem": "1+1?", "answer": "2"})
    '2'
    """

    name: str
    question: tuple[str, ...]  # fields holding the question, first non-empty wins
    gold: tuple[tuple[str, Callable], ...]  # (field, gold reader), first that yields a gold wins
    files: tuple[str, ...] = ()  # file names looked for in the data folder
    hub: tuple[str, str | None, str] | None = None  # (dataset, config, split) for datasets.load_dataset
    id_field: str | None = None  # None: row positions
    size: int | None = None  # rows of the standard version (a check, logged when it differs)
    breakdowns: tuple[str, ...] = ()  # per-problem fields results are also broken down by (tables, summary)

    def problem_of(self, row: dict) -> str | None:
        for field in self.question:
            value = row.get(field)
            if isinstance(value, str) and value.strip():
                return value.strip()
        return None

    def gold_of(self, row: dict) -> str | None:
        for field, reader in self.gold:
            if row.get(field) is not None:
                gold = reader(row[field])
                if gold:
                    return gold
        return None


# The built-in benchmarks, each one definition. A new one is one more entry here, or, without editing
# the package, ``register_benchmark(Benchmark(...))`` before ``mathgrpo.evaluation.evaluate.main``.
BENCHMARKS: dict[str, Benchmark] = {}


def register_benchmark(bench: Benchmark) -> Benchmark:
    """Add ``bench`` to :data:`BENCHMARKS` (``--benchmarks NAME`` then finds it); returns it."""
    BENCHMARKS[bench.name] = bench
    return bench


for _bench in (
    Benchmark(
        name="math500",
        files=("math500.jsonl", "math500/test.jsonl"),
        hub=("HuggingFaceH4/MATH-500", None, "test"),
        question=("problem",),
        gold=(("answer", plain_gold), ("solution", last_boxed)),
        id_field="unique_id",
        size=500,
        breakdowns=("level", "subject"),
    ),
    Benchmark(
        name="aime24",
        files=("aime24.jsonl", "aime24/test.jsonl"),
        hub=("math-ai/aime24", None, "test"),
        question=("problem", "question"),
        gold=(("answer", plain_gold), ("solution", last_boxed)),
        id_field="id",
        size=30,
    ),
    Benchmark(
        name="aime25",
        files=("aime25.jsonl", "aime25/test.jsonl"),
        hub=("math-ai/aime25", None, "test"),
        question=("problem", "question"),
        gold=(("answer", plain_gold),),
        id_field="id",
        size=30,
    ),
    Benchmark(
        name="amc23",
        files=("amc23.jsonl", "amc23/test.jsonl"),
        hub=("math-ai/amc23", None, "test"),
        question=("problem", "question"),
        gold=(("answer", plain_gold),),
        id_field="id",
        size=40,
    ),
    Benchmark(
        name="minerva",
        files=("minerva_math.jsonl", "minerva_math/test.jsonl", "minerva.jsonl"),
        hub=("math-ai/minervamath", None, "test"),
        question=("problem", "question"),
        gold=(("answer", plain_gold), ("solution", last_boxed)),
        id_field="idx",
        size=272,
    ),
    Benchmark(
        name="olympiadbench",
        files=("olympiadbench.jsonl", "olympiadbench/test.jsonl"),
        hub=("math-ai/olympiadbench", None, "test"),
        question=("question", "problem"),
        gold=(("final_answer", latex_list), ("answer", latex_list)),
        id_field="id",
        size=675,
    ),
    Benchmark(
        name="gsm8k",
        files=("gsm8k.jsonl", "gsm8k/test.jsonl"),
        hub=("openai/gsm8k", "main", "test"),
        question=("question", "problem"),
        gold=(("answer", after_hashes),),
        id_field="idx",
        size=1319,
    ),
):
    register_benchmark(_bench)


def breakdowns_of(name: str) -> tuple[str, ...]:
    """The fields a benchmark's results are broken down by (none for a user's file)."""
    bench = BENCHMARKS.get(name)
    return bench.breakdowns if bench else ()


def get_benchmark(name: str) -> Benchmark:
    try:
        return BENCHMARKS[name]
    except KeyError:
        raise UserError(
            f"unknown benchmark {name!r}; choose from {', '.join(BENCHMARKS)}, "
            "or give a .jsonl/.json/.parquet file or a generated:... spec"
        ) from None


# --------------------------------------------------------------------------- reading


def _read_rows(path: Path) -> list[dict]:
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        return pq.read_table(path).to_pylist()
    return list(read_jsonl(path))


def _local_file(bench: Benchmark, data_dir: Path) -> Path | None:
    for name in bench.files:
        for candidate in (data_dir / name, (data_dir / name).with_suffix(".parquet")):
            if candidate.is_file():
                return candidate
    return None


def _hub_rows(bench: Benchmark) -> list[dict]:
    import datasets

    if bench.hub is None:
        raise UserError(f"benchmark {bench.name} has no hub copy; pass --data-dir with its files")
    path, config, split = bench.hub
    from mathgrpo.models import hub_offline, hub_reachable

    if not hub_offline() and not hub_reachable():
        raise UserError(
            f"benchmark {bench.name}: no --data-dir (or ${DATA_DIR_ENV}) and the Hugging Face Hub cannot be reached; "
            "pass --data-dir with the benchmark files (e.g. ../shared/data/eval)"
        )
    log.info("%s: loading %s (split %s) from the hub", bench.name, path, split)
    try:
        loaded = datasets.load_dataset(path, config)
    except Exception as err:  # noqa: BLE001 -- no network, no access, renamed copy: all the user's to fix
        msg = " ".join(str(err).split())[:200]
        raise UserError(
            f"benchmark {bench.name}: no --data-dir (or ${DATA_DIR_ENV}) given and the hub copy {path} "
            f"could not be loaded ({type(err).__name__}: {msg}); pass --data-dir with the benchmark files "
            "(e.g. ../shared/data/eval)"
        ) from None
    # Hub copies disagree on split names (test vs train); a one-split dataset is unambiguous.
    ds = loaded[split] if split in loaded else loaded[next(iter(loaded))]
    return list(ds)


def _rows_to_dataset(bench_name: str, rows: list[dict], problem_of, gold_of, id_of, breakdowns: tuple[str, ...] = ()):
    import datasets

    problems, answers, ids = [], [], []
    extra: dict[str, list[str]] = {field: [] for field in breakdowns}
    skipped = 0
    for index, row in enumerate(rows):
        problem, gold = problem_of(row), gold_of(row)
        if not problem or not gold:
            skipped += 1
            continue
        problems.append(problem)
        answers.append(gold)
        ids.append(id_of(row, index))
        for field in breakdowns:
            extra[field].append(str(row.get(field)) if row.get(field) is not None else "")
    if skipped:
        log.warning("%s: %d rows without a problem or a readable gold answer were left out", bench_name, skipped)
    if len(set(ids)) != len(ids):  # ids key resumable outputs; fall back to positions when not unique
        log.warning("%s: ids are not unique; using row positions as ids", bench_name)
        ids = [str(i) for i in range(len(ids))]
    columns = {"problem": problems, "answer": answers, "id": ids, **extra}
    features = datasets.Features({name: datasets.Value("string") for name in columns})
    return datasets.Dataset.from_dict(columns, features=features)


def _builtin(bench: Benchmark, data_dir: str | None):
    folder = data_dir or os.environ.get(DATA_DIR_ENV)
    if folder:
        root = Path(folder).expanduser()
        if not root.is_dir():
            raise UserError(
                f"data folder {root} does not exist (--data-dir / ${DATA_DIR_ENV}); point it at the benchmark files"
            )
        path = _local_file(bench, root)
        if path is None:
            raise UserError(
                f"benchmark {bench.name}: none of {', '.join(bench.files)} found in {root}; "
                "put the file there or fix --data-dir"
            )
        log.info("%s: reading %s", bench.name, path)
        rows = _read_rows(path)
    else:
        rows = _hub_rows(bench)

    def id_of(row: dict, index: int) -> str:
        value = row.get(bench.id_field) if bench.id_field else None
        return str(value) if value is not None else str(index)

    ds = _rows_to_dataset(bench.name, rows, bench.problem_of, bench.gold_of, id_of, bench.breakdowns)
    if bench.size is not None and len(ds) != bench.size:
        log.warning("%s: %d problems (the standard version has %d)", bench.name, len(ds), bench.size)
    return ds


def _user_source(source: str, problem_field: str | None, answer_field: str | None):
    """A user's file or a generated spec, read by the training data loader (one code path),
    without dedup: a benchmark's rows are its rows. Ids are row positions."""
    import datasets

    from mathgrpo.data.clean import load_problems

    ds, _ = load_problems(source, problem_field=problem_field, answer_field=answer_field, dedup=False)
    ids = [str(i) for i in range(len(ds))]
    ds = ds.add_column("id", ids, feature=datasets.Value("string"))
    # A file with several golds per row (Skywork-OR1's lists) keeps them all: any may match.
    return ds.select_columns(["problem", "answer", "id", *(["answers"] if "answers" in ds.column_names else [])])


def is_user_source(name: str) -> bool:
    return name.startswith("generated:") or name.lower().endswith(USER_FILE_SUFFIXES) or os.sep in name


def load_benchmark(
    name: str,
    data_dir: str | None = None,
    limit: int | None = None,
    *,
    problem_field: str | None = None,
    answer_field: str | None = None,
):
    """The benchmark ``name`` as a Dataset (``problem``, ``answer``, ``id``): its first ``limit`` rows.

    ``problem_field``/``answer_field`` name the fields of a user's own file (auto-detected otherwise).
    """
    if limit is not None and limit < 1:
        raise UserError(f"limit must be at least 1 (got {limit})")
    if is_user_source(name):
        if not name.startswith("generated:") and not Path(name).expanduser().is_file():
            raise UserError(f"benchmark file {name} not found; give an existing .jsonl/.json/.parquet file")
        ds = _user_source(name, problem_field, answer_field)
    else:
        ds = _builtin(get_benchmark(name), data_dir)
    if len(ds) == 0:
        raise UserError(f"benchmark {name} has no problems with a gold answer")
    if limit is not None and limit < len(ds):
        ds = ds.select(range(limit))
    return ds


def benchmark_label(name: str) -> str:
    """A short name for tables and records: the built-in name, a file's stem, or the spec."""
    if name in BENCHMARKS or name.startswith("generated:"):
        return name
    return Path(name).stem
