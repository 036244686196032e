"""Precision of the trained weights: float32 master weights by default, and a loud warning for
the one setting that silently stops a run from learning.

Usage: ``check_update_precision(model, args, model_args)`` right after the policy is loaded.

mathgrpo's recipes load float32 weights (``dtype: float32``) and compute in bf16 under autocast
(``bf16: true``): weights, gradients and AdamW's moments stay float32, so an update of size ~lr
lands. With ``dtype: bfloat16`` (open-r1's recipes write ``torch_dtype: bfloat16``) and a plain
AdamW, the weights themselves are bf16. bf16 keeps 8 significant bits: near a typical weight
(|w| ~ 0.02) neighbouring bf16 numbers are ~1e-4 apart, so an update of ~1e-6 rounds back to the
same number. ``bench/precision.py`` measures it on SmolLM2-135M (docs/performance.md).
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def optim_arguments(text: str | None) -> dict[str, str]:
    """GRPOConfig's ``optim_args`` ("k=v,k=v") as transformers reads it."""
    pairs = [item.split("=", 1) for item in (text or "").replace(" ", "").split(",") if "=" in item]
    return {key: value for key, value in pairs}


def compensates(optim: str, optim_args: str | None) -> bool:
    """Whether ``optim`` with these ``optim_args`` compensates the rounding of 16-bit weights (Kahan
    summation), as transformers 5.x builds it -- read from its arguments, never assumed by name:
    - ``adamw_anyprecision`` (torchdistx): only with ``use_kahan_summation=True``; transformers
      defaults it to False.
    - ``stable_adamw`` (torch-optimi): ``kahan_sum`` unset leaves optimi's default, on for bf16
      parameters; transformers converts a given value with ``bool(text)``, so any non-empty text
      (even ``False``) turns it on and only an empty value turns it off.
    - every other optimizer (AdamW in torch, fused or not, bitsandbytes' 8-bit ones, Adafactor, ...)
      writes each update straight into the weights."""
    args = optim_arguments(optim_args)
    if optim == "adamw_anyprecision":
        return args.get("use_kahan_summation", "False").lower() in ("true", "1", "yes", "y", "on", "t")
    if optim == "stable_adamw":
        return args.get("kahan_sum") != ""
    return False


def sixteen_bit_trainable(model):
    """The 16-bit dtype of the model's trainable parameters, or None when they are wider."""
    import torch

    for param in model.parameters():
        if param.requires_grad and param.dtype in (torch.bfloat16, torch.float16):
            return param.dtype
    return None


def check_update_precision(model, args, model_args) -> str | None:
    """Warn (one line, also returned) when a full fine-tune updates 16-bit weights with an optimizer
    that rounds each update into them. LoRA runs train float32 adapters and are not affected."""
    if getattr(model_args, "use_peft", False):
        return None
    dtype = sixteen_bit_trainable(model)
    optim = str(getattr(args.optim, "value", args.optim))
    if dtype is None or compensates(optim, getattr(args, "optim_args", None)):
        return None
    name = str(dtype).removeprefix("torch.")
    message = (
        f"the weights are {name} (field `dtype`) and `optim: {optim}` writes each update into them: at "
        f"learning_rate {args.learning_rate:g} most updates round away (bench/precision.py, 3 steps at 1e-6: "
        f"0.4% of the weights moved). {_advice(optim)}"
    )
    log.warning(message)
    return message


def _advice(optim: str) -> str:
    """What fixes it, for this optimizer. The fix is float32 weights, whatever the optimizer: an
    8-bit optimizer (bitsandbytes) keeps small *states* but still writes each update into the
    16-bit weights, so it is never the advice to a run already on it, nor alone to any run."""
    from mathgrpo.train.checks import bnb_optimizers

    fix = "Use `dtype: float32` (bf16: true still computes in bf16)"
    if optim in bnb_optimizers():
        return f"{fix}; `optim: {optim}` keeps its small states there, and every update lands"
    return f"{fix}; to save optimizer memory with float32 weights, add `optim: adamw_bnb_8bit` (8-bit states)"
