"""Read a dataset source into batches of two text columns: the raw problem and the gold answer.

Usage: ``for problems, answers in open_source("data.parquet").batches(): ...``

A source is a hub name (``datasets.load_dataset``), a local parquet / jsonl / json file, a
folder (``save_to_disk`` output, or a folder of such files), or ``generated:...`` (the
project's own problem generator). Fields are auto-detected or named explicitly; a dotted
name reaches into a struct (``reward_model.ground_truth``). Arrow-backed sources are read
batch by batch with vectorised pyarrow ops, so a 1.79M-row file never sits in memory whole.
:mod:`mathgrpo.data.clean` does the cleaning (wrapper strip, dedup, filters) on these batches.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mathgrpo.errors import UserError
from mathgrpo.files import looks_like_path, read_jsonl

log = logging.getLogger(__name__)

BATCH_ROWS = 16_384  # bounds memory: ~25 MB of problem text per batch; larger batches are no faster
DATA_SUFFIXES = (".parquet", ".jsonl", ".json")
# Auto-detection order (first present wins); explicit --problem-field/--answer-field override.
PROBLEM_FIELDS = ("problem", "question", "prompt", "query")
ANSWER_FIELDS = ("answer", "final_answer", "ground_truth", "gold", "target", "solution")
DAPO_FIELDS = ("prompt", "reward_model.ground_truth")
# A field of worked solutions: its gold is the last \boxed{} in it; rows without one have no answer.
SOLUTION_FIELDS = ("solution",)
# JSON files in a dataset folder that describe it rather than hold rows.
METADATA_FILES = ("dataset_info.json", "dataset_infos.json", "dataset_dict.json", "state.json")

Batch = tuple[pa.Array, pa.Array]  # (problem text or null, answer text or null)


@dataclass
class Source:
    """An opened source: its name, its top-level columns and the chosen fields."""

    name: str
    columns: list[str]
    problem_field: str
    answer_field: str
    batches: Callable[[], Iterator[Batch]]


# --------------------------------------------------------------------------- fields


def _has_path(schema_or_keys, path: str) -> bool:
    """Whether a dotted ``path`` exists in an arrow schema (or, for JSON, a set of keys)."""
    head, _, rest = path.partition(".")
    if isinstance(schema_or_keys, pa.Schema):
        if head not in schema_or_keys.names:
            return False
        typ = schema_or_keys.field(head).type
        for part in rest.split(".") if rest else []:
            if not pa.types.is_struct(typ) or typ.get_field_index(part) < 0:
                return False
            typ = typ.field(part).type
        return True
    return head in schema_or_keys  # JSON rows: nested keys are resolved (or missing) per row


def choose_fields(name: str, columns, problem_field: str | None, answer_field: str | None) -> tuple[str, str]:
    """Pick the problem and answer fields: explicit names, else DAPO's schema, else common names."""
    names = list(columns.names) if isinstance(columns, pa.Schema) else sorted(columns)
    listed = ", ".join(names) or "none"
    if problem_field is None and answer_field is None and all(_has_path(columns, f) for f in DAPO_FIELDS):
        return DAPO_FIELDS
    if problem_field is None:
        problem_field = next((f for f in PROBLEM_FIELDS if _has_path(columns, f)), None)
        if problem_field is None:
            raise UserError(
                f"{name}: no problem column found (columns: {listed}); set the problem column with --problem_field NAME"
            )
    elif not _has_path(columns, problem_field):
        raise UserError(f"{name}: no field {problem_field!r} for the problem (columns: {listed})")
    if answer_field is None:
        answer_field = next((f for f in ("reward_model.ground_truth", *ANSWER_FIELDS) if _has_path(columns, f)), None)
        if answer_field is None:
            raise UserError(
                f"{name}: no answer column found (columns: {listed}); set the answer column with --answer_field NAME"
            )
    elif not _has_path(columns, answer_field):
        raise UserError(f"{name}: no field {answer_field!r} for the answer (columns: {listed})")
    return problem_field, answer_field


# --------------------------------------------------------------------------- arrow extraction


def _arrow_field(batch: pa.RecordBatch, path: str) -> pa.Array:
    head, *rest = path.split(".")
    arr = batch.column(head)
    for part in rest:
        arr = pc.struct_field(arr, part)
    return arr


def _last_user_message(messages: pa.Array) -> pa.Array:
    """Content of each row's last ``user`` message (chat-format prompts such as DAPO's)."""
    flat = pc.list_flatten(messages)
    parents = pc.list_parent_indices(messages).to_numpy()
    is_user = pc.fill_null(pc.equal(flat.field("role"), "user"), False).to_numpy(zero_copy_only=False)
    idx = np.flatnonzero(is_user)
    par = parents[idx]
    last = np.ones(len(idx), dtype=bool)
    last[:-1] = par[1:] != par[:-1]  # parents are sorted: keep the last user message of each row
    take = np.full(len(messages), -1, dtype=np.int64)
    take[par[last]] = idx[last]
    return flat.field("content").take(pa.array(take, mask=take < 0))


def _as_text(arr: pa.Array, name: str, field: str, *, messages_ok: bool) -> pa.Array:
    typ = arr.type
    if pa.types.is_string(typ) or pa.types.is_large_string(typ):
        return arr.cast(pa.string())
    if (
        messages_ok
        and pa.types.is_list(typ)
        and pa.types.is_struct(typ.value_type)
        and (typ.value_type.get_field_index("content") >= 0 and typ.value_type.get_field_index("role") >= 0)
    ):
        return _last_user_message(arr)
    if not messages_ok and (pa.types.is_list(typ) or pa.types.is_large_list(typ)):
        # A list of gold answers (e.g. OlympiadBench's final_answer) becomes one string.
        return pc.binary_join(arr.cast(pa.list_(pa.string())), ", ")
    if not messages_ok and (pa.types.is_integer(typ) or pa.types.is_floating(typ) or pa.types.is_decimal(typ)):
        return arr.cast(pa.string())  # 27.0 -> "27"; integers keep every digit
    kind = "problem text or chat messages" if messages_ok else "answers"
    raise UserError(f"{name}: field {field!r} holds {typ}, not {kind}; pass the right field name")


def _boxed(answers: pa.Array, solution_field: bool) -> pa.Array:
    """Replace answers holding a \\boxed{} by its content (worked solutions, boxed golds)."""
    has_box = pc.fill_null(pc.match_substring(answers, "\\boxed"), False)
    if not solution_field and not pc.any(has_box).as_py():
        return answers
    from mathgrpo.grading import extract_boxed

    values = answers.to_pylist()
    flags = has_box.to_pylist()
    out = [extract_boxed(v) if f else (None if solution_field else v) for v, f in zip(values, flags)]
    return pa.array(out, pa.string())


def arrow_batches(name: str, tables: Callable[[], Iterator[pa.RecordBatch]], p_field: str, a_field: str):
    """Batches of (problem, answer) text from arrow record batches."""
    solution = a_field.rpartition(".")[2] in SOLUTION_FIELDS

    def gen() -> Iterator[Batch]:
        for batch in tables():
            problem = _as_text(_arrow_field(batch, p_field), name, p_field, messages_ok=True)
            answer = _as_text(_arrow_field(batch, a_field), name, a_field, messages_ok=False)
            yield problem, _boxed(answer, solution)

    return gen


# --------------------------------------------------------------------------- python (JSON) extraction


def _py_get(row: dict, path: str):
    value = row
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _py_problem(value, where: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, list) and value and all(isinstance(m, dict) for m in value):
        users = [m for m in value if m.get("role") == "user"]
        content = users[-1].get("content") if users else None
        return content if isinstance(content, str) else None
    raise UserError(f"{where}: the problem is {type(value).__name__} {str(value)[:40]!r}, not text or chat "
                    "messages; fix the row or pass the right --problem_field")  # fmt: skip


def _py_answer(value, where: str) -> str | None:
    """A JSON answer as text, by the rules parquet columns follow (_as_text): text as it is, numbers
    written out (27.0 -> 27; integers keep every digit), a list of answers joined; a dict or a
    boolean is no answer and is refused, as the same column in parquet would be."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool) or isinstance(value, dict):
        raise UserError(f"{where}: the answer is {type(value).__name__} {str(value)[:40]!r}, not text or a number; "
                        "fix the row or pass the right --answer_field")  # fmt: skip
    if isinstance(value, (int, float)):
        from mathgrpo.grading.normalize import number_text

        return number_text(value)
    if isinstance(value, list):
        return ", ".join(str(_py_answer(v, where)) for v in value if v is not None)
    raise UserError(f"{where}: the answer is {type(value).__name__}, not text or a number")


def python_batches(name: str, rows: Callable[[], Iterator[list[dict]]], p_field: str, a_field: str):
    solution = a_field.rpartition(".")[2] in SOLUTION_FIELDS

    def gen() -> Iterator[Batch]:
        seen = 0
        for chunk in rows():
            problems = pa.array([_py_problem(_py_get(r, p_field), f"{name} row {seen + i + 1}, field {p_field!r}")
                                 for i, r in enumerate(chunk)], pa.string())  # fmt: skip
            answers = pa.array([_py_answer(_py_get(r, a_field), f"{name} row {seen + i + 1}, field {a_field!r}")
                                for i, r in enumerate(chunk)], pa.string())  # fmt: skip
            seen += len(chunk)
            yield problems, _boxed(answers, solution)

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
        if not all(isinstance(r, dict) for r in rows):
            raise UserError(f"{path}: expected a JSON array of objects")
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
        p_field, a_field = choose_fields(str(path), schema, *fields)
        cols = sorted({p_field.split(".")[0], a_field.split(".")[0]})

        def tables() -> Iterator[pa.RecordBatch]:
            # pre_buffer=False: with it, the reader runs ahead of a slow consumer and buffers
            # most of the file (290 MiB for the hub-sized copy) instead of one batch.
            yield from pq.ParquetFile(path, pre_buffer=False).iter_batches(batch_size=BATCH_ROWS, columns=cols)

        return Source(str(path), schema.names, p_field, a_field, arrow_batches(str(path), tables, p_field, a_field))
    if suffix in (".jsonl", ".json"):
        chunks = (lambda: _jsonl_chunks(path)) if suffix == ".jsonl" else _json_chunks(path)
        keys = _json_keys(chunks)
        if not keys:
            raise UserError(f"{path} is empty (no JSON rows); give a file with problem and answer fields")
        p_field, a_field = choose_fields(str(path), keys, *fields)
        return Source(str(path), sorted(keys), p_field, a_field, python_batches(str(path), chunks, p_field, a_field))
    raise UserError(f"{path}: unsupported file type {suffix or '(none)'}; use .parquet, .jsonl or .json")


def from_dataset(name: str, ds, fields: tuple[str | None, str | None]) -> Source:
    """A ``datasets.Dataset`` (hub download or ``load_from_disk``), read in arrow batches."""
    p_field, a_field = choose_fields(name, ds.data.schema, *fields)
    cols = sorted({p_field.split(".")[0], a_field.split(".")[0]})

    def tables() -> Iterator[pa.RecordBatch]:
        for table in ds.select_columns(cols).with_format("arrow").iter(batch_size=BATCH_ROWS):
            yield from table.to_batches()

    return Source(name, list(ds.column_names), p_field, a_field, arrow_batches(name, tables, p_field, a_field))


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
        p for p in path.rglob("*")
        if p.is_file() and p.suffix.lower() in DATA_SUFFIXES and p.name not in METADATA_FILES
        and not any(part.startswith(".") for part in p.relative_to(path).parts)
    )  # fmt: skip
    if not files:
        raise UserError(f"{path}: no save_to_disk dataset and no .parquet/.jsonl/.json files in this folder")
    # A hub-style folder (data/train-00000-of-00002.parquet, data/test-...) holds several splits.
    word = re.compile(rf"(^|[/_.-]){re.escape(split)}([/_.-]|$)")
    of_split = [p for p in files if word.search(p.relative_to(path).as_posix())]
    files = of_split or files
    parts = [_open_file(p, fields) for p in files]
    first = parts[0]
    log.info("%s: reading %d file(s) (%s ...)", path, len(files), files[0].name)

    def gen() -> Iterator[Batch]:
        for part in parts:
            yield from part.batches()

    return Source(str(path), first.columns, first.problem_field, first.answer_field, gen)


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
        p_field, a_field = choose_fields(source, keys, *fields)
        batches = python_batches(source, lambda: iter([rows]), p_field, a_field)
        return Source(source, sorted(keys), p_field, a_field, batches)
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
