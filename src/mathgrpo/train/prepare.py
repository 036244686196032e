"""``mathgrpo prepare-data``: normalise, deduplicate and filter a dataset into one file.

Usage: ``mathgrpo prepare-data --dataset ../shared/data/dapo-math-17k.parquet --output dapo-clean.jsonl``

The cleaning is data/clean.py's (the same rows training loads); optionally prompts are rendered and
counted with a tokenizer, and problems are filtered by their pass rate under a model
(evaluation/difficulty.py). Every mistake a file or flag can make is found before the data is read.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from mathgrpo.data.clean import LANGUAGES, DataSource, add_prompts, training_rows
from mathgrpo.errors import ArgumentParser, UserError

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
    from mathgrpo.train.config import ScriptArguments

    defaults = ScriptArguments()  # one source of defaults, shared with `mathgrpo train`
    p = ArgumentParser(
        prog="mathgrpo prepare-data",
        description="Normalise, deduplicate and filter a problem dataset into one file of problem/answer rows.",
    )
    p.add_argument("--dataset", required=True, help="hub name, .parquet/.jsonl/.json file or folder, or generated:...")
    p.add_argument("--output", required=True, help="output file: .jsonl, .json or .parquet")
    p.add_argument("--split", default="train", help="split of a hub dataset or DatasetDict folder (default: train)")
    p.add_argument("--config-name", "--config_name", dest="config_name", default=None, help="hub dataset config name")
    p.add_argument(
        "--problem-field",
        "--problem_field",
        dest="problem_field",
        default=None,
        help="problem column (default: auto-detected)",
    )
    p.add_argument(
        "--answer-field",
        "--answer_field",
        dest="answer_field",
        default=None,
        help="answer column; dotted into structs: reward_model.ground_truth",
    )
    p.add_argument("--language", choices=LANGUAGES, default="all", help="keep problems in this language (zh: has CJK)")
    p.add_argument("--no-dedup", dest="dedup", action="store_false", help="keep repeated problems")
    p.add_argument("--limit", type=int, default=None, help="keep only the first N problems")
    p.add_argument("--tokenizer", default=None, help="also render prompts with this tokenizer (path or hub name)")
    p.add_argument("--template", default=defaults.template, help=f"prompt template (default: {defaults.template})")
    p.add_argument(
        "--max-prompt-length",
        "--max_prompt_length",
        dest="max_prompt_length",
        type=int,
        default=defaults.max_prompt_length,
        help="with --tokenizer: drop prompts over this many tokens, 0 keeps all "
        f"(default: {defaults.max_prompt_length})",
    )
    p.add_argument(
        "--pass-rate-model",
        default=None,
        help="difficulty filter: sample answers with this model "
        "(hub name, folder, .gguf, smollm2-135m-instruct) "
        "and write each problem's pass rate",
    )
    p.add_argument("--pass-rate-k", type=int, default=8, help="difficulty filter: answers per problem (default 8)")
    p.add_argument(
        "--pass-rate-keep",
        default="0,1",
        help="difficulty filter: keep problems with LOW < pass rate < HIGH (default 0,1: drop the always "
        "and the never solved)",
    )
    p.add_argument("--pass-rate-max-new-tokens", type=int, default=1024, help="difficulty filter: answer length limit")
    p.add_argument("--pass-rate-temperature", type=float, default=1.0, help="difficulty filter: sampling temperature")
    p.add_argument("--pass-rate-batch-size", type=int, default=None, help="difficulty filter: sequences per call")
    return p


def check_output(output: str) -> Path:
    """The output's format and folder, checked before any data is read."""
    from mathgrpo.files import check_output_file

    out = Path(output).expanduser()
    if out.suffix.lower() not in OUTPUT_FORMATS:
        raise UserError(f"--output {out}: unknown format {out.suffix or '(none)'}; use {', '.join(OUTPUT_FORMATS)}")
    return check_output_file(out, "--output")


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    out = check_output(args.output)
    from mathgrpo.data.templates import get_template
    from mathgrpo.models import check_reference

    get_template(args.template)
    if args.tokenizer:
        check_reference(args.tokenizer, "--tokenizer", tokenizer_only=True)
    if args.pass_rate_model:
        from mathgrpo.evaluation.difficulty import parse_band

        parse_band(args.pass_rate_keep)
        check_reference(args.pass_rate_model, "--pass-rate-model")
    ds, stats = training_rows(
        DataSource(
            name=args.dataset,
            split=args.split,
            config_name=args.config_name,
            problem_field=args.problem_field,
            answer_field=args.answer_field,
            language=args.language,
            dedup=args.dedup,
            limit=args.limit,
        )
    )
    if args.pass_rate_model:
        from mathgrpo.evaluation.difficulty import keep_band, parse_band, pass_rates

        band = parse_band(args.pass_rate_keep)
        work = out.with_name(f".{out.name}.pass-rate")  # resumable samples, beside the output
        rates = pass_rates(
            ds,
            model=args.pass_rate_model,
            template=args.template,
            k=args.pass_rate_k,
            temperature=args.pass_rate_temperature,
            max_new_tokens=args.pass_rate_max_new_tokens,
            work_dir=work,
            batch_size=args.pass_rate_batch_size,
        )
        ds, stats.out_of_band = keep_band(ds, rates, band)
        stats.rows_out = len(ds)
    if args.tokenizer:
        from mathgrpo.data.templates import get_template
        from mathgrpo.models import load_tokenizer, resolve_model

        template = get_template(args.template)
        tokenizer = load_tokenizer(resolve_model(args.tokenizer, "--tokenizer", tokenizer_only=True))
        limit = args.max_prompt_length if args.max_prompt_length and args.max_prompt_length > 0 else None
        ds, stats.too_long = add_prompts(ds, tokenizer, template, limit)
        stats.rows_out = len(ds)
    if not len(ds):  # every row filtered out: an empty file would only hide it
        raise UserError(f"{args.dataset}: no rows left ({stats.summary()}); nothing written")
    out = write_rows(ds, args.output)
    print(f"{args.dataset}: {stats.summary()}")  # noqa: T201 - the verb's result
    print(f"wrote {len(ds):,} rows ({', '.join(ds.column_names)}) to {out}")  # noqa: T201
    return 0
