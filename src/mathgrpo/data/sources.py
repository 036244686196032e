"""Read a dataset source into batches of problem text, gold(s) and the rule each gold was read by.

Usage: ``for batch in open_source("data.parquet").batches(): batch.problem, batch.answer ...``

A source is a hub name (``datasets.load_dataset``), a local parquet / jsonl / json file, a
folder (``save_to_disk`` output, or a folder of such files whose names carry the split), or
``generated:...`` (the project's own problem generator). Fields come from the schema registry
(:mod:`mathgrpo.data.schemas`) or are named explicitly; a dotted name reaches into a struct
(``reward_model.ground_truth``). A chat prompt (role/content or from/value turns) gives its one
user turn; any other turn is refused, never dropped silently. Arrow-backed sources are read
batch by batch with vectorised pyarrow ops, so a 1.79M-row file never sits in memory whole.
:mod:`mathgrpo.data.clean` does the cleaning (instruction strip, dedup, filters) on these batches.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mathgrpo.data.schemas import choose_fields
from mathgrpo.errors import UserError
from mathgrpo.files import looks_like_path, read_jsonl

log = logging.getLogger(__name__)

BATCH_ROWS = 16_384  # bounds memory: ~25 MB of problem text per batch; larger batches are no faster
DATA_SUFFIXES = (".parquet", ".jsonl", ".json")
# JSON files in a dataset folder that describe it rather than hold rows.
METADATA_FILES = ("dataset_info.json", "dataset_infos.json", "dataset_dict.json", "state.json")
# Split names a hub folder's file names carry (data/train-00000-of-00002.parquet, math/..., code/...).
SPLIT_WORD = r"(^|[/_.-]){}([/_.-]|$)"
# Chat turns: role/content (OpenAI, TRL, verl) or from/value (ShareGPT, Open-Reasoner-Zero).
TURN_KEYS = (("role", "content"), ("from", "value"))
USER_ROLES = ("user", "human")
GOLDS_FIELD = "answers"  # mathgrpo's column of several golds (prepare-data output): a list is alternatives


class Batch(NamedTuple):
    """One batch of rows: problem text, first gold, the other golds (None: no row has more) and
    the gold rule of each row (mathgrpo.data.schemas.RULES)."""

    problem: pa.Array
    answer: pa.Array
    more: list | None
    rule: pa.Array


@dataclass
class Source:
    """An opened source: its name, its top-level columns, the chosen fields and the schema read."""

    name: str
    columns: list[str]
    problem_field: str
    answer_field: str
    batches: Callable[[], Iterator[Batch]]
    schema: str = "fields"


# --------------------------------------------------------------------------- arrow extraction


def _arrow_field(batch: pa.RecordBatch, path: str) -> pa.Array:
    head, *rest = path.split(".")
    arr = batch.column(head)
    for part in rest:
        arr = pc.struct_field(arr, part)
    return arr


def _turn_keys(typ) -> tuple[str, str] | None:
    if not (pa.types.is_list(typ) or pa.types.is_large_list(typ)) or not pa.types.is_struct(typ.value_type):
        return None
    names = {typ.value_type.field(i).name for i in range(typ.value_type.num_fields)}
    return next((k for k in TURN_KEYS if set(k) <= names), None)


def _refuse_turns(name: str, row: int, roles: list) -> None:
    raise UserError(
        f"{name} row {row + 1}: the chat prompt has turns {roles}, not one user turn; mathgrpo renders the "
        "problem with its own template and will not drop system or few-shot turns silently -- keep only the "
        "user turn in the data, or give the problem as text with --problem_field"
    )


def _chat_problem(messages: pa.Array, keys: tuple[str, str], name: str, offset: int) -> pa.Array:
    """The content of each row's one user turn; a row with any other turn is refused."""
    role_key, content_key = keys
    lengths = pc.fill_null(pc.list_value_length(messages), 0).to_numpy(zero_copy_only=False)
    flat = pc.list_flatten(messages)
    roles = pc.utf8_lower(flat.field(role_key).cast(pa.string()))
    is_user = pc.fill_null(pc.is_in(roles, pa.array(USER_ROLES)), False).to_numpy(zero_copy_only=False)
    parents = pc.list_parent_indices(messages).to_numpy()
    bad = np.flatnonzero(lengths > 1)
    not_user = parents[~is_user] if len(parents) else np.array([], dtype=np.int64)
    if len(bad) or len(not_user):
        row = int(min(bad.min() if len(bad) else len(messages), not_user.min() if len(not_user) else len(messages)))
        _refuse_turns(name, offset + row, [t.get(role_key) for t in messages[row].as_py()])
    take = np.full(len(messages), -1, dtype=np.int64)
    take[parents] = np.arange(len(parents))
    return flat.field(content_key).cast(pa.string()).take(pa.array(take, mask=take < 0))


def _problem_text(arr: pa.Array, name: str, field: str, offset: int) -> pa.Array:
    typ = arr.type
    if pa.types.is_string(typ) or pa.types.is_large_string(typ):
        return arr.cast(pa.string())
    keys = _turn_keys(typ)
    if keys is not None:
        return _chat_problem(arr, keys, name, offset)
    raise UserError(
        f"{name}: field {field!r} holds {typ}, not problem text or chat messages; pass the right field name"
    )


def _answer_text(arr: pa.Array, name: str, field: str) -> tuple[pa.Array, bool]:
    """(answers as text, whether they are joined lists)."""
    typ = arr.type
    if pa.types.is_string(typ) or pa.types.is_large_string(typ):
        return arr.cast(pa.string()), False
    if (pa.types.is_list(typ) or pa.types.is_large_list(typ)) and field.rpartition(".")[2] == GOLDS_FIELD:
        # mathgrpo's own `answers` column: several golds, read as a JSON list of them is.
        golds = arr.cast(pa.list_(pa.string())).to_pylist()
        return pa.array([json.dumps(g) if g else None for g in golds], pa.string()), False
    if pa.types.is_list(typ) or pa.types.is_large_list(typ):
        # A list of parts of one answer (OlympiadBench's final_answer) becomes one string.
        return pc.binary_join(arr.cast(pa.list_(pa.string())), ", "), True
    if pa.types.is_integer(typ) or pa.types.is_floating(typ) or pa.types.is_decimal(typ):
        return arr.cast(pa.string()), False  # 27.0 -> "27"; integers keep every digit
    raise UserError(f"{name}: field {field!r} holds {typ}, not answers; pass the right field name")


def _golds(answer: pa.Array, joined: pa.Array | bool, worked: bool) -> tuple[pa.Array, list | None, pa.Array]:
    from mathgrpo.data.schemas import read_golds

    first, more, rule = read_golds(answer, worked)
    if isinstance(joined, bool):
        return first, more, (pa.repeat(pa.scalar("joined_list"), len(answer)) if joined else rule)
    return first, more, pc.if_else(joined, "joined_list", rule)


def arrow_batches(name: str, tables: Callable[[], Iterator[pa.RecordBatch]], p_field: str, a_field: str):
    """Batches of (problem, golds) from arrow record batches."""
    from mathgrpo.data.schemas import looks_worked

    def gen() -> Iterator[Batch]:
        worked = None  # decided once per source, on its first batch's values
        seen = 0
        for batch in tables():
            problem = _problem_text(_arrow_field(batch, p_field), name, p_field, seen)
            answer, joined = _answer_text(_arrow_field(batch, a_field), name, a_field)
            if worked is None:
                worked = not joined and looks_worked(answer)
            seen += len(batch)
            yield Batch(problem, *_golds(answer, joined, worked))

    return gen


# --------------------------------------------------------------------------- python (JSON) extraction


def _py_get(row: dict, path: str):
    value = row
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _py_problem(value, name: str, row: int, field: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(m, dict) for m in value):
        keys = next((k for k in TURN_KEYS if value and all(k[0] in m for m in value)), TURN_KEYS[0])
        if len(value) > 1 or (value and str(value[0].get(keys[0])).lower() not in USER_ROLES):
            _refuse_turns(name, row, [m.get(keys[0]) for m in value])
        content = value[0].get(keys[1]) if value else None
        return content if isinstance(content, str) else None
    raise UserError(
        f"{name} row {row + 1}, field {field!r}: the problem is {type(value).__name__} {str(value)[:40]!r}, "
        "not text or chat messages; fix the row or pass the right --problem_field"
    )


def _py_answer(value, where: str, several: bool = False) -> str | None:
    """A JSON answer as text, by the rules parquet columns follow (_answer_text): text as it is, numbers
    written out (27.0 -> 27; integers keep every digit), a list of answers joined; a dict or a
    boolean is no answer and is refused, as the same column in parquet would be."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool) or isinstance(value, dict):
        raise UserError(
            f"{where}: the answer is {type(value).__name__} {str(value)[:40]!r}, not text or a number; "
            "fix the row or pass the right --answer_field"
        )
    if isinstance(value, (int, float)):
        from mathgrpo.grading.normalize import number_text

        return number_text(value)
    if isinstance(value, list) and several:  # mathgrpo's `answers`: alternatives, not parts
        return json.dumps([str(_py_answer(v, where)) for v in value if v is not None]) if value else None
    if isinstance(value, list):
        return ", ".join(str(_py_answer(v, where)) for v in value if v is not None)
    raise UserError(f"{where}: the answer is {type(value).__name__}, not text or a number")


def python_batches(name: str, rows: Callable[[], Iterator[list[dict]]], p_field: str, a_field: str):
    from mathgrpo.data.schemas import looks_worked

    def gen() -> Iterator[Batch]:
        worked = None  # decided once per source, on its first batch's values
        seen = 0
        for chunk in rows():
            problems = pa.array(
                [_py_problem(_py_get(r, p_field), name, seen + i, p_field) for i, r in enumerate(chunk)], pa.string()
            )
            raw = [_py_get(r, a_field) for r in chunk]
            several = a_field.rpartition(".")[2] == GOLDS_FIELD
            answers = pa.array(
                [_py_answer(v, f"{name} row {seen + i + 1}, field {a_field!r}", several) for i, v in enumerate(raw)],
                pa.string(),
            )
            joined = pa.array([isinstance(v, list) and not several for v in raw])
            if worked is None:
                worked = not pc.any(joined).as_py() and looks_worked(answers)
            seen += len(chunk)
            yield Batch(problems, *_golds(answers, joined, worked))

    return gen


# --------------------------------------------------------------------------- readers


def _jsonl_chunks(path: Path) -> Iterator[list[dict]]:
    chunk: list[dict] = []
    for row in read_jsonl(path):
        chunk.append(row)
        if len(chunk) >= BATCH_ROWS:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _json_chunks(path: Path) -> Callable[[], Iterator[list[dict]]]:
    """A .json file: a JSON array of objects, or (as many hub files are) JSON Lines."""
    with open(path, encoding="utf-8", errors="replace") as fh:
        head = fh.read(4096).lstrip()
    if not head.startswith("["):
        return lambda: _jsonl_chunks(path)

    def gen() -> Iterator[list[dict]]:
        try:
            with open(path, encoding="utf-8") as fh:
                rows = json.load(fh)
        except json.JSONDecodeError as err:
            raise UserError(f"{path}:{err.lineno}: not valid JSON ({err.msg})") from None
        except UnicodeDecodeError:
            raise UserError(f"{path}: not valid UTF-8; save the file as UTF-8") from None
        if rows and all(isinstance(r, list) for r in rows):
            # A row written as a list of turns (Open-Reasoner-Zero's training JSON): turn i is field "i".
            rows = [{str(i): turn for i, turn in enumerate(r)} for r in rows]
        if not all(isinstance(r, dict) for r in rows):
            raise UserError(f"{path}: expected a JSON array of objects (or of lists of turns)")
        for i in range(0, len(rows), BATCH_ROWS):
            yield rows[i : i + BATCH_ROWS]

    return gen


def _json_keys(chunks: Callable[[], Iterator[list[dict]]]) -> set[str]:
    first = next(chunks(), [])
    return set().union(*(r.keys() for r in first)) if first else set()


def _open_file(path: Path, fields: tuple[str | None, str | None]) -> Source:
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        try:
            schema = pq.read_schema(path)
        except (pa.ArrowException, OSError) as err:
            raise UserError(f"{path}: not a readable parquet file ({err})") from None
        p_field, a_field, label = choose_fields(str(path), schema, *fields)
        cols = sorted({p_field.split(".")[0], a_field.split(".")[0]})

        def tables() -> Iterator[pa.RecordBatch]:
            # pre_buffer=False: with it, the reader runs ahead of a slow consumer and buffers
            # most of the file (290 MiB for the hub-sized copy) instead of one batch.
            yield from pq.ParquetFile(path, pre_buffer=False).iter_batches(batch_size=BATCH_ROWS, columns=cols)

        batches = arrow_batches(str(path), tables, p_field, a_field)
        return Source(str(path), schema.names, p_field, a_field, batches, label)
    if suffix in (".jsonl", ".json"):
        chunks = (lambda: _jsonl_chunks(path)) if suffix == ".jsonl" else _json_chunks(path)
        keys = _json_keys(chunks)
        if not keys:
            raise UserError(f"{path} is empty (no JSON rows); give a file with problem and answer fields")
        p_field, a_field, label = choose_fields(str(path), keys, *fields)
        batches = python_batches(str(path), chunks, p_field, a_field)
        return Source(str(path), sorted(keys), p_field, a_field, batches, label)
    raise UserError(f"{path}: unsupported file type {suffix or '(none)'}; use .parquet, .jsonl or .json")


def from_dataset(name: str, ds, fields: tuple[str | None, str | None]) -> Source:
    """A ``datasets.Dataset`` (hub download or ``load_from_disk``), read in arrow batches."""
    p_field, a_field, label = choose_fields(name, ds.data.schema, *fields)
    cols = sorted({p_field.split(".")[0], a_field.split(".")[0]})

    def tables() -> Iterator[pa.RecordBatch]:
        for table in ds.select_columns(cols).with_format("arrow").iter(batch_size=BATCH_ROWS):
            yield from table.to_batches()

    batches = arrow_batches(name, tables, p_field, a_field)
    return Source(name, list(ds.column_names), p_field, a_field, batches, label)


def _pick_split(name: str, dd, split: str):
    if split not in dd:
        raise UserError(f"{name}: no split {split!r}; it has: {', '.join(dd)} (pass --split)")
    return dd[split]


def _open_folder(path: Path, split: str, fields) -> Source:
    if (path / "dataset_info.json").is_file() or (path / "dataset_dict.json").is_file():
        import datasets

        ds = datasets.load_from_disk(str(path))
        if isinstance(ds, datasets.DatasetDict):
            ds = _pick_split(str(path), ds, split)
        return from_dataset(str(path), ds, fields)
    files = sorted(
        p
        for p in path.rglob("*")
        if p.is_file()
        and p.suffix.lower() in DATA_SUFFIXES
        and p.name not in METADATA_FILES
        and not any(part.startswith(".") for part in p.relative_to(path).parts)
    )
    if not files:
        raise UserError(f"{path}: no save_to_disk dataset and no .parquet/.jsonl/.json files in this folder")
    # A hub-style folder (data/train-00000-of-00002.parquet, data/test-..., math/..., code/...) holds
    # several splits: the files of the asked split are those whose path names it as a word. A
    # folder whose file names name no split is read whole only if it is one file; otherwise it
    # is refused -- reading every file took code-*.parquet rows, test cases for golds, as math.
    word = re.compile(SPLIT_WORD.format(re.escape(split)))
    of_split = [p for p in files if word.search(p.relative_to(path).as_posix())]
    if not of_split and len(files) > 1:
        names = ", ".join(p.relative_to(path).as_posix() for p in files[:6]) + (", ..." if len(files) > 6 else "")
        raise UserError(
            f"{path}: no file name names the split {split!r} ({len(files)} files: {names}); pass --split "
            "with the word the file names carry (train, test, math...), or give one file"
        )
    files = of_split or files
    parts = [_open_file(p, fields) for p in files]
    first = parts[0]
    log.info("%s: reading %d file(s) (%s ...)", path, len(files), files[0].name)

    def gen() -> Iterator[Batch]:
        for part in parts:
            yield from part.batches()

    return Source(str(path), first.columns, first.problem_field, first.answer_field, gen, first.schema)


def open_source(
    source: str,
    *,
    split: str = "train",
    problem_field: str | None = None,
    answer_field: str | None = None,
    config_name: str | None = None,
) -> Source:
    """Open ``source`` (generated:..., local file or folder, or hub name) for batch reading."""
    fields = (problem_field, answer_field)
    if source.startswith("generated:"):
        from mathgrpo.data.synthetic import generate

        rows = generate(source)
        keys = set().union(*(r.keys() for r in rows)) if rows else {"problem", "answer"}
        p_field, a_field, label = choose_fields(source, keys, *fields)
        batches = python_batches(source, lambda: iter([rows]), p_field, a_field)
        return Source(source, sorted(keys), p_field, a_field, batches, label)
    path = Path(source).expanduser()
    if path.is_dir():
        return _open_folder(path, split, fields)
    if path.is_file():
        return _open_file(path, fields)
    if looks_like_path(source, DATA_SUFFIXES):
        raise UserError(f"dataset file {source} not found; give an existing .parquet/.jsonl/.json file or folder")
    return _open_hub(source, split, config_name, fields)


def _open_hub(name: str, split: str, config_name: str | None, fields) -> Source:
    import datasets

    from mathgrpo.models import check_hub_dataset

    check_hub_dataset(name, "dataset (field `dataset_name`)")
    log.info("loading %s (config %s, split %s) with datasets.load_dataset", name, config_name, split)
    try:
        ds = datasets.load_dataset(name, config_name, split=split)
    except Exception as err:  # noqa: BLE001 -- any hub failure is the user's to fix (name, network, auth)
        msg = " ".join(str(err).split())[:300]
        raise UserError(
            f"could not load dataset {name!r} from the Hugging Face Hub ({type(err).__name__}: {msg}); "
            "check the name/split/config and your network, or pass a local file"
        ) from None
    if isinstance(ds, datasets.DatasetDict):  # only when split=None slips through
        ds = _pick_split(name, ds, split)
    return from_dataset(name, ds, fields)
