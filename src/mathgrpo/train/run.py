"""``mathgrpo train``: build everything from a recipe, check it, run TRL's GRPOTrainer, resume.

Usage: ``mathgrpo train --config recipes/qwen2.5-math-1.5b/seed.yaml [--learning_rate 2e-6 ...]``

Order matters: every check that can fail on the config alone runs before a model is loaded,
so a recipe that cannot work costs seconds, not a model download.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import time
from pathlib import Path

from mathgrpo.errors import UserError
from mathgrpo.files import RUN_FILE, STATE_FILE, share_modes, write_atomic
from mathgrpo.train.checks import check_attention, check_optimizer, hub_token_rule
from mathgrpo.train.config import ScriptArguments, check_language, parse_train_args

log = logging.getLogger(__name__)


def check_config(script_args: ScriptArguments, args, model_args) -> None:
    """Checks that need no model and no data. Each failure is one line naming the field."""
    from mathgrpo.data.templates import get_template
    from mathgrpo.train.rewards import check_reward_options, reward_name
    from mathgrpo.train.versions import check_trl_version

    check_trl_version(script_args.allow_untested_trl)
    template = get_template(script_args.template)
    check_reward_options(script_args.reward_funcs, reward_options(script_args, args, template))
    if args.reward_weights is not None and len(args.reward_weights) != len(script_args.reward_funcs):
        raise UserError(
            f"reward_weights has {len(args.reward_weights)} values but reward_funcs has "
            f"{len(script_args.reward_funcs)} ({', '.join(script_args.reward_funcs)}); give one weight each"
        )
    check_optimizer(args.optim)  # the bitsandbytes ones, as transformers lists them (train/checks.py)
    check_attention(model_args, args)
    if args.use_vllm and importlib.util.find_spec("vllm") is None:
        raise UserError(
            "use_vllm is true but vLLM is not installed: pip install 'mathgrpo[vllm]', or set --use_vllm false"
        )
    for tracker in _as_list(args.report_to):
        module = TRACKER_MODULES.get(tracker)
        if module and importlib.util.find_spec(module) is None:
            raise UserError(
                f"report_to includes {tracker!r} but {module} is not installed: pip install {module} "
                "(or pip install 'mathgrpo[trackers]'), or set --report_to none"
            )
    if script_args.dynamic_sampling:
        from mathgrpo.train.dynamic import check_dynamic_sampling

        check_dynamic_sampling(
            args,
            script_args.max_resample_rounds,
            script_args.dynamic_sampling_oversample,
            script_args.dynamic_sampling_metric,
            [reward_name(n) for n in script_args.reward_funcs],  # the names TRL logs (a dotted path's last part)
        )
    check_language(script_args.language)
    if not model_args.model_name_or_path:
        raise UserError("model_name_or_path is not set; give a hub name, a local folder or a .gguf file")


def reward_options(script_args: ScriptArguments, args, template):
    """The reward functions' options from the recipe (built for the check and for training alike)."""
    from mathgrpo.train.rewards import RewardOptions

    return RewardOptions(
        max_completion_length=args.max_completion_length,
        overlong_buffer=script_args.overlong_buffer,
        overlong_penalty=script_args.overlong_penalty,
        think_in_prompt=template.opens_think,
        verdict=script_args.accuracy_verdict,
    )


TRACKER_MODULES = {
    "tensorboard": "tensorboard",
    "wandb": "wandb",
    "trackio": "trackio",
    "mlflow": "mlflow",
    "comet_ml": "comet_ml",
    "clearml": "clearml",
}


def _as_list(value) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def model_context_length(model_path: str, script_args: ScriptArguments, args, model_args) -> int | None:
    """The model's context in tokens, read from its config alone (no weights loaded)."""
    if script_args.model_context_length:
        return script_args.model_context_length
    from transformers import AutoConfig

    from mathgrpo.models import load_error

    try:
        config = AutoConfig.from_pretrained(
            model_path, revision=model_args.model_revision, trust_remote_code=args.trust_remote_code
        )
    except (OSError, ValueError) as err:  # a hub 404, a gated repo, an unreadable config
        raise load_error(model_args.model_name_or_path, err, "model_name_or_path") from None
    config = config.get_text_config() if hasattr(config, "get_text_config") else config
    return getattr(config, "max_position_embeddings", None)


def check_context(script_args: ScriptArguments, args, context: int | None) -> None:
    prompt_limit = script_args.max_prompt_length or 0
    if context is not None and prompt_limit + args.max_completion_length > context:
        raise UserError(
            f"max_prompt_length {prompt_limit} + max_completion_length {args.max_completion_length} = "
            f"{prompt_limit + args.max_completion_length} tokens exceeds the model's context of {context}; "
            "lower one of them"
        )
    if (
        args.use_vllm
        and args.vllm_max_model_length
        and prompt_limit + args.max_completion_length > args.vllm_max_model_length
    ):
        raise UserError(
            "max_prompt_length + max_completion_length exceeds "
            f"vllm_max_model_length={args.vllm_max_model_length}; raise it"
        )


class _UnscorableNotice(logging.Filter):
    """TRL prints a multi-line warning with the whole sample when every reward returned None.
    mathgrpo returns None for every reward on purpose when a sample's correctness is unknown (see
    train/rewards.py) and logs how often as ``grading/unknown``; the dump is left out."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("All reward functions returned None")


def build_datasets(script_args: ScriptArguments, tokenizer, template):
    from mathgrpo.data.clean import add_prompts, training_rows

    dataset, stats = training_rows(script_args.data_source())
    dataset, too_long = add_prompts(dataset, tokenizer, template, script_args.max_prompt_length)
    stats.too_long, stats.rows_out = too_long, len(dataset)
    log.info("data: %s", stats.summary())
    if len(dataset) == 0:
        raise UserError(f"no training rows left from {script_args.dataset_name} ({stats.summary()})")
    eval_dataset = None
    if script_args.eval_benchmark:
        from mathgrpo.evaluation.benchmarks import load_benchmark

        eval_dataset = load_benchmark(
            script_args.eval_benchmark, data_dir=script_args.eval_data_dir, limit=script_args.eval_limit
        )
        eval_dataset, _ = add_prompts(eval_dataset, tokenizer, template, None)
    return dataset, eval_dataset, stats


def load_policy(model_path: str, model_args, args, tokenizer):
    import torch
    from transformers import AutoModelForCausalLM

    from mathgrpo.models import apply_stop_tokens

    # The weights' dtype is the recipe's `dtype` and nothing else (TRL's ModelConfig default is
    # float32): `bf16: true` only turns on bf16 autocast for the compute. "auto" keeps the
    # checkpoint's own dtype (bf16 for Qwen2.5-Math), which check_update_precision warns about.
    dtype = model_args.dtype or "float32"
    kwargs = dict(
        revision=model_args.model_revision,
        trust_remote_code=args.trust_remote_code,  # off unless the user turns it on
        dtype=dtype if dtype == "auto" else getattr(torch, dtype),
    )
    if model_args.attn_implementation:
        kwargs["attn_implementation"] = model_args.attn_implementation
    model = AutoModelForCausalLM.from_pretrained(model_path, **kwargs)
    stops = apply_stop_tokens(model, tokenizer)
    log.info("generation stops at token ids %s", stops)
    return model, stops


def final_spec(model_path: str, model_args, args, model):
    """What the final save needs to write the model in the recipe's dtype (train/final.py)."""
    import torch

    from mathgrpo.train.final import FinalSpec

    dtype = model_args.dtype or "float32"
    # "auto": the checkpoint's own dtype, as loaded (read before DeepSpeed casts the model to bf16)
    dtype = getattr(model.config, "dtype", None) or torch.float32 if dtype == "auto" else getattr(torch, dtype)
    dtype = getattr(torch, dtype) if isinstance(dtype, str) else dtype
    kwargs = dict(revision=model_args.model_revision, trust_remote_code=args.trust_remote_code)
    return FinalSpec(model_path=model_path, dtype=dtype, load_kwargs=kwargs)


def run(script_args: ScriptArguments, args, model_args, callbacks=None, make_optimizer=None):
    """Train; returns the GRPOTrainer after saving the final model, or None when a resumed run
    had nothing left to do.

    ``callbacks``: extra ``transformers.TrainerCallback`` objects (e.g. to stop early);
    ``make_optimizer``: ``model -> torch.optim.Optimizer``, for an optimizer transformers has no ``optim`` name for."""
    from trl import get_peft_config

    from mathgrpo.data.templates import get_template
    from mathgrpo.models import load_tokenizer, resolve_model
    from mathgrpo.train.console import quiet_console, silence_noise
    from mathgrpo.train.features import trainer_class
    from mathgrpo.train.final import save_final
    from mathgrpo.train.precision import check_update_precision
    from mathgrpo.train.ranks import built_once, check_same_rows, shared_run_id
    from mathgrpo.train.record import build_record, new_run_id
    from mathgrpo.train.resume import CardOnSave, CheckpointJanitor, RunIdentity, plan_start
    from mathgrpo.train.rewards import build_reward_funcs

    started = time.time()
    silence_noise()
    check_config(script_args, args, model_args)
    hub_token_rule(args)  # the recipe's hub_token wins over HF_TOKEN, and is never pickled (train/checks.py)
    run_id = shared_run_id(new_run_id)  # minted once, so every rank stamps the same id
    plan = plan_start(script_args, args, new_run_id=lambda: run_id)
    out = Path(args.output_dir)
    if plan.finished:
        log.info("%s: this run already finished (all steps trained, final model saved): nothing to do", out)
        return None
    model_path = resolve_model(model_args.model_name_or_path)
    check_context(script_args, args, model_context_length(model_path, script_args, args, model_args))

    template = get_template(script_args.template)
    tokenizer = load_tokenizer(model_path, trust_remote_code=args.trust_remote_code, revision=model_args.model_revision)
    # Built on the main process and broadcast: a gold check that times out on one busy rank must not
    # give that rank other rows (train/ranks.py); then every rank checks it holds what the others do.
    train_ds, eval_ds, stats = built_once(lambda: build_datasets(script_args, tokenizer, template))
    check_same_rows(train_ds, eval_ds)
    rewards = build_reward_funcs(
        script_args.reward_funcs,
        reward_options(script_args, args, template),
    )
    model, stops = load_policy(model_path, model_args, args, tokenizer)
    final = final_spec(model_path, model_args, args, model)
    check_update_precision(model, args, model_args)
    logging.getLogger("trl.trainer.grpo_trainer").addFilter(_UnscorableNotice())
    if args.use_vllm:
        # vLLM reads stop tokens from its sampling params, not from model.generation_config.
        args.generation_kwargs = {"stop_token_ids": stops, **(args.generation_kwargs or {})}

    out.mkdir(parents=True, exist_ok=True)
    run_info = build_record(script_args, args, model_args, run_id=plan.run_id, stats=stats, stops=stops)
    if args.should_save:
        write_atomic(out / RUN_FILE, json.dumps(run_info, indent=2, default=str))
    # Trainer would push output_dir at every save and again inside save_model, before our staged
    # final files are in place (and only the adapter of a LoRA run): we push once, at the end.
    publish, args.push_to_hub = args.push_to_hub, False

    trainer_cls, extra = trainer_class(script_args, args, plan.resume_from)
    own_callbacks = [RunIdentity(plan.run_id), CheckpointJanitor(), CardOnSave()]
    if "pool" in extra:  # dynamic sampling's epoch pool saves its state with each checkpoint
        own_callbacks.append(extra["pool"])
    trainer = trainer_cls(
        model=model,
        reward_funcs=rewards,
        args=args,
        train_dataset=train_ds,
        eval_dataset=eval_ds,
        processing_class=tokenizer,
        peft_config=get_peft_config(model_args),
        callbacks=[*own_callbacks, *(callbacks or [])],
        optimizers=(make_optimizer(model) if make_optimizer else None, None),
        **extra,
    )
    quiet_console(trainer)
    if plan.trained:
        # The checkpoint holds every step (a kill during the final save or the card): load it and
        # only finish the saving. Trainer would train one step past max_steps here.
        from transformers import TrainerState

        log.info("%s already reached step %s: finishing the final save only", plan.resume_from, args.max_steps)
        if not trainer.is_deepspeed_enabled:  # DeepSpeed's weights are read from the checkpoint's ZeRO files
            trainer._load_from_checkpoint(plan.resume_from)
        trainer.state = TrainerState.load_from_json(str(Path(plan.resume_from) / STATE_FILE))
    else:
        if plan.resume_from:
            log.info("resuming from %s", plan.resume_from)
        trainer.train(resume_from_checkpoint=plan.resume_from)
        if trainer.control.should_training_stop and trainer.state.global_step < trainer.state.max_steps:
            log.warning("training stopped early at step %d; resume with --resume true", trainer.state.global_step)
            return trainer
        if script_args.dynamic_sampling and 0 < args.max_steps and trainer.state.global_step < args.max_steps:
            # Trainer sized its epochs by the plain count; dynamic sampling's refills use them up sooner.
            log.warning(
                "dynamic sampling used up the data after %d of max_steps %d steps (its refills draw from each "
                "epoch); give num_train_epochs instead of max_steps to train longer",
                trainer.state.global_step,
                args.max_steps,
            )
    save_final(trainer, out, final, checkpoint=plan.resume_from if plan.trained else None)
    run_info.update(
        finished=True,
        global_step=trainer.state.global_step,
        wall_seconds=round(time.time() - started, 1),
        ended=time.strftime("%Y-%m-%d %H:%M:%S"),
    )
    if args.should_save:
        share_modes(out)  # safetensors' save_file writes model.safetensors 0600: the umask's mode instead
        write_atomic(out / RUN_FILE, json.dumps(run_info, indent=2, default=str))
        after_training(out, trainer, push=publish)
    return trainer


def after_training(out: Path, trainer, push: bool = False) -> None:
    """Report, model card (README.md) and, with ``push``, one upload of the finished folder.
    A failed card or push never costs the trained model (it is already saved), but it is not
    swallowed either: the run ends with one line naming what failed and the command that retries it."""
    from mathgrpo.train.final import finish_run

    try:
        finish_run(out, trainer, push=push)
    except Exception as err:
        retry = f"mathgrpo report {out} --push" if push else f"mathgrpo report {out} --card"
        what = "the log, the model card or the upload" if push else "the log or the model card"
        detail = " ".join(str(err).split())[:300]
        raise UserError(
            f"the trained model is saved in {out}, but writing {what} failed ({type(err).__name__}: {detail}); "
            f"retry with: {retry}"
        ) from err


def main(argv: list[str] | None = None) -> int:
    argv = list(argv or [])
    if "--help-all" in argv or "-h" in argv or "--help" in argv:
        from mathgrpo.train.config import print_help

        print_help(all_fields="--help-all" in argv)
        return 0
    from mathgrpo.train.precheck import precheck

    recipe = precheck(argv)  # one read of the recipe; every check that needs no TRL, before TRL loads
    script_args, args, model_args = parse_train_args(argv, recipe=recipe)
    run(script_args, args, model_args)
    return 0
