"""The final model of a training run: gathered whole from every process, written in the recipe's
dtype, checked, and put into ``output_dir`` so that it is complete or not there at all.

Usage: ``save_final(trainer, out, FinalSpec(model_path, dtype))`` on every process after training;
``save_final(..., checkpoint=path)`` to finish the save of a run killed after its last step.

How each setup gets its weights (docs/scaling.md, "The final model"):
- one process or DDP: the model's own weights (they are the trained float32 weights);
- DeepSpeed ZeRO-2/3: the float32 master weights from the optimizer, gathered with DeepSpeed's
  ``safe_get_full_fp32_param`` (a collective: every process calls it, in the same order). The
  module's own weights are bf16 copies (ZeRO-3: empty shards), so they are never saved;
- finishing the save from a DeepSpeed checkpoint: DeepSpeed's ``zero_to_fp32`` reads the float32
  master weights from the checkpoint's ZeRO files (no engine is needed, so none is built);
- FSDP (GPU only): Trainer's ``save_model``, which gathers FSDP's shards itself.
A LoRA run writes its adapter (``adapter/``, float32 LoRA weights) and the merged model: peft's
``merge_and_unload`` on the base model read afresh from disk in the recipe's dtype, so the merge
never sees DeepSpeed's bf16 copies of the frozen weights.

Completeness: every tensor is checked against the architecture's shapes before anything moves.
The files are then moved into ``output_dir``; ``mathgrpo_run.json`` says ``finished`` only after the
last move (run.py), and resume, eval, report and push all read that marker: a kill during the move
leaves a run that resume finishes by redoing the whole save.
"""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

STAGE = ".final-tmp"
ADAPTER_DIR = "adapter"
# Top-level files of a previous final save that a new one replaces (or removes, if it has no such file).
MODEL_PATTERNS = (
    "model*.safetensors",
    "model.safetensors.index.json",
    "pytorch_model*.bin",
    "pytorch_model.bin.index.json",
    "config.json",
    "generation_config.json",
)


@dataclass
class FinalSpec:
    model_path: str  # the base model (a LoRA merge reads it afresh)
    dtype: object  # torch dtype of the exported weights: the recipe's `dtype`
    load_kwargs: dict  # revision, trust_remote_code (as the policy was loaded)


def is_peft(model) -> bool:
    return hasattr(model, "peft_config") and hasattr(model, "merge_and_unload")


def save_final(trainer, out: Path, spec: FinalSpec, checkpoint: str | None = None) -> None:
    """Every process calls this. ``checkpoint``: a checkpoint at the last step whose weights are the
    final ones (the run only needs its save finished); under DeepSpeed they are read from its files."""
    args, acc = trainer.args, trainer.accelerator
    stage = out / STAGE
    if args.should_save and stage.exists():
        shutil.rmtree(stage)
    acc.wait_for_everyone()
    model = acc.unwrap_model(trainer.model)
    peft = is_peft(model)
    if trainer.is_deepspeed_enabled:
        if checkpoint is not None:
            weights = _from_zero_checkpoint(checkpoint, peft) if args.should_save else None
        else:
            weights = _gathered_fp32(model, trainable_only=peft, keep=args.should_save)
    elif peft and not trainer.is_fsdp_enabled:
        weights = {n: p.detach().float().cpu() for n, p in model.named_parameters() if p.requires_grad}
    else:
        weights = None  # Trainer's own save (one process, DDP, FSDP)
        trainer.save_model(str(stage / ADAPTER_DIR if peft else stage))
    if args.should_save:
        stage.mkdir(parents=True, exist_ok=True)
        if peft:
            _write_merged(model, weights, stage, spec)
        elif weights is not None:
            _write_full(model, weights, stage, spec)
        trainer.processing_class.save_pretrained(stage)
        check_complete(stage, spec)
        install(stage, out)
    acc.wait_for_everyone()
    if args.should_save:
        log.info("final model saved in %s", out)


def _gathered_fp32(model, trainable_only: bool, keep: bool) -> dict:
    """{state-dict name: float32 tensor} on the main process (empty elsewhere), from DeepSpeed's
    float32 master weights. Names follow ``model.state_dict()``, tied weights included once per name
    (the same tensor), so the writer sees the model's own tying."""
    import torch
    from deepspeed.utils import safe_get_full_fp32_param

    params = dict(model.named_parameters(remove_duplicate=False))
    gathered: dict = {}
    out: dict = {}
    for name in model.state_dict():
        param = params.get(name)
        if param is None or (trainable_only and not param.requires_grad):
            continue
        if id(param) not in gathered:
            full = safe_get_full_fp32_param(param)  # collective
            if full is None:
                raise RuntimeError(f"DeepSpeed holds no float32 master weight for {name}; cannot save it whole")
            gathered[id(param)] = full.detach().to("cpu", torch.float32).clone() if keep else None
        if keep:
            out[name] = gathered[id(param)]
    return out


def _from_zero_checkpoint(checkpoint: str, peft: bool) -> dict:
    """The float32 master weights in a DeepSpeed checkpoint, read by DeepSpeed's own zero_to_fp32."""
    from deepspeed.utils.zero_to_fp32 import get_fp32_state_dict_from_zero_checkpoint

    return dict(get_fp32_state_dict_from_zero_checkpoint(checkpoint, exclude_frozen_parameters=peft))


def _fresh(spec: FinalSpec, config=None):
    """A plain transformers model on this process alone: ZeRO-3's partitioning at load time is
    switched off while it is built (transformers reads a global that the Trainer set)."""
    import torch
    from transformers import AutoModelForCausalLM
    from transformers.integrations import deepspeed as hf_ds

    saved = hf_ds._hf_deepspeed_config_weak_ref
    hf_ds.unset_hf_deepspeed_config()
    try:
        if config is None:
            return AutoModelForCausalLM.from_pretrained(spec.model_path, dtype=spec.dtype, **spec.load_kwargs)
        with torch.device("meta"):
            return AutoModelForCausalLM.from_config(
                config, dtype=spec.dtype, trust_remote_code=spec.load_kwargs.get("trust_remote_code", False)
            )
    finally:
        hf_ds._hf_deepspeed_config_weak_ref = saved


def _write_full(model, weights: dict, stage: Path, spec: FinalSpec) -> None:
    fresh = _fresh(spec, model.config)
    weights = {k: v.to(spec.dtype) for k, v in weights.items()}
    _, unexpected = fresh.load_state_dict(weights, strict=False, assign=True)
    fresh.tie_weights()  # a tied output layer shares the embedding (written once)
    # what save_pretrained writes (non-persistent buffers, like rotary tables, are not saved)
    missing = [n for n, t in fresh.state_dict().items() if t.device.type == "meta"]
    if missing or unexpected:
        raise RuntimeError(f"final weights do not fit the model: missing {missing[:5]}, unexpected {unexpected[:5]}")
    fresh.generation_config = model.generation_config
    fresh.save_pretrained(stage, safe_serialization=True)


def _write_merged(model, weights: dict, stage: Path, spec: FinalSpec) -> None:
    """LoRA: the adapter (float32) into stage/adapter, the merged model (recipe dtype) into stage."""
    from peft import get_peft_model

    config = model.peft_config[model.active_adapter]
    if weights is None:  # FSDP: Trainer saved the adapter; read it back
        from peft import PeftModel

        merged = PeftModel.from_pretrained(_fresh(spec), stage / ADAPTER_DIR).merge_and_unload()
    else:
        fresh = get_peft_model(_fresh(spec), config)
        lora = {k: v for k, v in weights.items() if "lora_" in k}
        _, unexpected = fresh.load_state_dict({k: v.float() for k, v in lora.items()}, strict=False)
        trained = {n for n, p in fresh.named_parameters() if p.requires_grad}
        missing = sorted(trained - set(lora))
        if unexpected or not lora or missing:
            raise RuntimeError(f"LoRA weights do not fit: unexpected {unexpected[:5]}, missing {missing[:5]}")
        fresh.save_pretrained(stage / ADAPTER_DIR, safe_serialization=True)
        merged = fresh.merge_and_unload()
    merged.generation_config = model.get_base_model().generation_config
    merged.save_pretrained(stage, safe_serialization=True)


def check_complete(stage: Path, spec: FinalSpec) -> None:
    """Every tensor written is non-empty, and (full model) the names and shapes are the architecture's:
    a model that would not load is never declared saved."""
    from safetensors import safe_open

    files = sorted(stage.glob("*.safetensors"))
    if not files:
        raise RuntimeError(f"final save wrote no weights into {stage}")
    shapes = {}
    for path in files:
        with safe_open(str(path), framework="pt") as fh:
            for key in fh.keys():
                shapes[key] = tuple(fh.get_slice(key).get_shape())
    empty = [k for k, s in shapes.items() if 0 in s or not s]
    if empty:
        raise RuntimeError(f"final save is incomplete: {len(empty)} of {len(shapes)} tensors are empty ({empty[:3]})")
    from transformers import AutoConfig

    arch = _fresh(spec, AutoConfig.from_pretrained(stage, trust_remote_code=spec.load_kwargs.get("trust_remote_code")))
    # named_parameters() lists a tied weight once, under the name the model saves and loads it by
    expected = {n: tuple(p.shape) for n, p in arch.named_parameters()}
    wrong = [n for n in expected if shapes.get(n) != expected[n]]
    if wrong:
        raise RuntimeError(f"final save is incomplete: {len(wrong)} tensors missing or misshapen ({wrong[:3]})")


def install(stage: Path, out: Path) -> None:
    """Move the complete staged save into ``out``: first the files of an older final save that this
    one lacks go, then each staged entry replaces its namesake. Not atomic as a whole (output_dir
    also holds checkpoints and logs); the run record's ``finished`` flag, written after this, is what
    says the model is whole."""
    staged = {p.name for p in stage.iterdir()}
    for pattern in MODEL_PATTERNS:
        for old in out.glob(pattern):
            if old.name not in staged and old.is_file():
                old.unlink()
    for item in sorted(stage.iterdir()):
        target = out / item.name
        if item.is_dir() and target.exists():
            shutil.rmtree(target)
        os.replace(item, target)
    shutil.rmtree(stage, ignore_errors=True)


# --------------------------------------------------------------------------- after the final save


def save_state(trainer, out: Path) -> None:
    """The complete log history (the checkpoints lack the last entries) at the top level."""
    from mathgrpo.files import STATE_FILE, atomic_path

    with atomic_path(out / STATE_FILE) as tmp:
        trainer.state.save_to_json(str(tmp))


def finish_run(out: str | Path, trainer, push: bool = False, api=None):
    """After the final save: the full log, the report and the card, and with ``push`` the one upload of
    the folder (``hub_model_id``, else the folder's name, as Trainer names it). Returns the report."""
    from mathgrpo.report.card import publish, write_model_card

    out = Path(out)
    args = trainer.args
    save_state(trainer, out)
    rep = write_model_card(out)
    if push:
        repo = args.hub_model_id or Path(args.output_dir).absolute().name
        publish(out, repo, revision=getattr(args, "hub_revision", None), private=args.hub_private_repo, api=api)
    return rep
