"""The model card (``README.md``) of a training run, and publishing the finished run with ``push_to_hub``.

Usage: ``write_model_card("output/smollm2-demo")``; ``publish(out, repo_id)`` (``mathgrpo train`` calls both
through ``train/final.finish_run``; ``mathgrpo report RUN --push`` calls ``publish``).

Publishing: ``mathgrpo train`` keeps Trainer from pushing (Trainer would upload ``output_dir`` at
every save, and inside ``save_model`` before our staged final files are in place), and uploads the
finished folder once, here: the final model (the merged model for a LoRA run, with the adapter in
``adapter/``), tokenizer, our card, the report and the run record; never the checkpoints. The token
comes from the environment or the login cache (``mathgrpo train`` moves a recipe's ``hub_token``
into ``HF_TOKEN``); it is never written.
"""

from __future__ import annotations

import logging
from pathlib import Path

from mathgrpo.files import CARD_FILE, REPORT_DIR, REPORT_PAGE, hub_id, write_atomic
from mathgrpo.report.algorithm import Algorithm, name_algorithm
from mathgrpo.report.reader import Run
from mathgrpo.report.summary import Report, build_report, final_numbers, hardware_line, hyper_rows, table, what_rows

log = logging.getLogger(__name__)

# What a published run leaves out: checkpoints (optimizer state, GBs), half-saved ones, staging.
PUSH_IGNORE = ["checkpoint-*", "incomplete-checkpoint-*", ".*", ".final-tmp/*"]


def front_matter(run: Run) -> str:
    from huggingface_hub import ModelCardData

    base, dataset = hub_id(run.info.get("model")), hub_id(run.info.get("dataset"))
    data = ModelCardData(
        base_model=base,
        datasets=[dataset] if dataset else None,
        library_name="transformers",
        pipeline_tag="text-generation",
        tags=["trl", "grpo", "math", "reasoning", "mathgrpo"],
    )
    return f"---\n{data.to_yaml()}\n---\n"


def run_algorithm(run: Run) -> Algorithm | None:
    """The run's algorithm, named from every defining field it recorded (None when none was)."""
    settings = {**run.training_args, **(run.info.get("algorithm") or {})}
    script = run.info.get("script_args") or {}
    if "dynamic_sampling" in script:
        settings.setdefault("dynamic_sampling", script["dynamic_sampling"])
    return name_algorithm(settings) if settings.get("loss_type") else None


def algorithm_line(run: Run) -> str:
    algorithm = run_algorithm(run)
    return f"algorithm: {algorithm.line()}" if algorithm else "algorithm not recorded"


def card_markdown(rep: Report) -> str:
    run, info = rep.run, rep.run.info
    name = run.path.name
    base = info.get("model", "an unrecorded base model")
    lines = [
        front_matter(run),
        f"# {name}",
        "",
        f"`{base}` fine-tuned with reinforcement learning for math reasoning by mathgrpo on TRL's "
        f"`GRPOTrainer` (group-relative advantages; {algorithm_line(run)}). Training {run.status()}.",
    ]
    lines += ["", "## Training data, template and rewards", "", table(["what", "value"], what_rows(run))]
    if rep.samples:
        prompt = rep.samples[0]["prompt"]
        lines += [
            "",
            "Prompts were built with the template above (use the same one at inference; "
            "`mathgrpo eval --model` reads it from `mathgrpo_run.json`). One training prompt:",
            "",
            "```text",
            prompt,
            "```",
        ]
    lines += ["", "## Hyper-parameters", "", table(["setting", "value"], hyper_rows(run))]
    wall = run.wall_time()
    lines += [
        "",
        "## Hardware and time",
        "",
        f"- hardware: {hardware_line(info.get('hardware') or {})}",
        f"- started {info.get('started', '?')}, ended {info.get('ended', '(not finished)')}",
        f"- wall time: {wall or 'unknown'}; {run.global_step} optimizer steps",
    ]
    lines += ["", "## Evaluation", ""]
    lines.append(rep.eval_md or f"Not evaluated yet: `mathgrpo eval --model {name} --output {name}/eval`.")
    lines += ["", "## Training curves", ""]
    for panel, file in rep.plots:
        lines += [f"![{panel.title}]({REPORT_DIR}/{file})"]
    rows = [[r[0], r[2], r[5]] for r in final_numbers(run)]
    if rows:
        lines += ["", "Final logged values:", "", table(["metric", "last", "step"], rows)]
    lines += [
        "",
        "Sample completions, all numbers and what is missing: "
        f"[{REPORT_DIR}/{REPORT_PAGE}]({REPORT_DIR}/{REPORT_PAGE}).",
        "",
    ]
    return "\n".join(lines)


def write_model_card(run_dir: str | Path, evals: list[str | Path] = ()) -> Report:
    """Refresh the report, then write ``RUN_DIR/README.md`` (atomically) from it."""
    rep = build_report(run_dir, evals)
    write_atomic(rep.run.path / CARD_FILE, card_markdown(rep))
    log.info("model card written to %s", rep.run.path / CARD_FILE)
    return rep


# --------------------------------------------------------------------------- publishing


def publish(out: Path, repo_id: str, *, revision: str | None = None, private: bool | None = None, api=None) -> str:
    """Upload the finished run folder to ``repo_id`` (created if needed), once, without checkpoints."""
    from huggingface_hub import HfApi

    api = api or HfApi()  # token: HF_TOKEN or the login cache
    repo_id = api.create_repo(repo_id, private=private, exist_ok=True).repo_id
    api.upload_folder(
        repo_id=repo_id,
        folder_path=str(out),
        ignore_patterns=PUSH_IGNORE,
        commit_message="mathgrpo: trained model, model card and training report",
        revision=revision,
    )
    log.info("%s pushed to %s", out, repo_id)
    return repo_id
