"""Generation backends for evaluation: vLLM when installed (and a GPU is there), transformers
otherwise. Both take the same token ids, so both see byte-identical prompts.

Usage: ``backend = make_backend("auto", model_path, tokenizer, Sampling(0.0, 1.0, 3000, 0))``
then ``backend.generate(templates.encode_prompts(tokenizer, prompts), seeds)`` -> list of :class:`Completion`.

One call generates one completion per entry; a prompt sampled n times is passed n times
(vLLM's prefix cache makes the repeats cheap). Stop tokens are the training ones
(:func:`mathgrpo.models.stop_token_ids`); a completion that ends without one hit the
token limit and is reported as truncated.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from dataclasses import dataclass

from mathgrpo.errors import UserError

log = logging.getLogger(__name__)

BACKENDS = ("auto", "vllm", "transformers")
DTYPES = ("auto", "bfloat16", "float16", "float32")


@dataclass(frozen=True)
class Sampling:
    temperature: float  # 0 = greedy
    top_p: float
    max_new_tokens: int
    seed: int

    @property
    def greedy(self) -> bool:
        return self.temperature == 0


@dataclass(frozen=True)
class Completion:
    text: str
    truncated: bool  # ended without a stop token (hit max_new_tokens)
    n_tokens: int  # generated tokens, the stop token included


def vllm_available() -> bool:
    return importlib.util.find_spec("vllm") is not None


def cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def choose_backend(name: str) -> str:
    if name not in BACKENDS:
        raise UserError(f"unknown backend {name!r} (--backend); choose one of: {', '.join(BACKENDS)}")
    if name == "vllm" and not vllm_available():
        raise UserError(
            "--backend vllm but vLLM is not installed: pip install 'mathgrpo[vllm]', or use --backend transformers"
        )
    if name == "auto":
        return "vllm" if vllm_available() and cuda_available() else "transformers"
    return name


def resolve_dtype(dtype: str, on_gpu: bool) -> str:
    """The dtype the transformers backend will really use: bf16 is what published evaluations run
    (vLLM, dtype=bfloat16); CPUs get float32."""
    if dtype not in DTYPES:
        raise UserError(f"unknown dtype {dtype!r} (--dtype); choose one of: {', '.join(DTYPES)}")
    if dtype != "auto":
        return dtype
    if on_gpu:
        import torch

        return "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
    return "float32"


def _torch_dtype(dtype: str, on_gpu: bool):
    import torch

    return getattr(torch, resolve_dtype(dtype, on_gpu))


def set_cpu_threads() -> int:
    """Use the cores this process may run on ($OMP_NUM_THREADS wins when set): torch's own
    default counts the machine's cores, which oversubscribes a container's CPU quota."""
    import torch

    if os.environ.get("OMP_NUM_THREADS"):
        return torch.get_num_threads()
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    torch.set_num_threads(max(1, cores))
    return cores


class TransformersBackend:
    """Batched ``model.generate`` with left padding; runs on CPU for small models."""

    name = "transformers"

    def __init__(
        self, model_path: str, tokenizer, sampling: Sampling, *, dtype: str = "auto", trust_remote_code: bool = False
    ):
        import torch
        from transformers import AutoModelForCausalLM, GenerationConfig

        from mathgrpo.models import apply_stop_tokens

        self.device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        if self.device.type == "cpu":
            log.info("transformers backend on CPU with %d threads", set_cpu_threads())
        self.model = AutoModelForCausalLM.from_pretrained(
            model_path, dtype=_torch_dtype(dtype, self.device.type == "cuda"), trust_remote_code=trust_remote_code
        ).to(self.device)
        self.model.eval()
        self.tokenizer = tokenizer
        self.stops = apply_stop_tokens(self.model, tokenizer)
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else self.stops[0]
        self.sampling = sampling
        # A fresh config, not the model's: a checkpoint's own defaults (top_k=20, repetition
        # penalty 1.05, ...) would otherwise change what "temperature T, top-p P" means, and
        # vLLM applies only what we pass. top_k=0 switches transformers' default top-k 50 off.
        params: dict = {"do_sample": False}
        if not sampling.greedy:
            params = {"do_sample": True, "temperature": sampling.temperature, "top_p": sampling.top_p, "top_k": 0}
        self.config = GenerationConfig(
            max_new_tokens=sampling.max_new_tokens,
            eos_token_id=self.stops,
            pad_token_id=self.pad_id,
            num_beams=1,
            repetition_penalty=1.0,
            **params,
        )

    def _left_pad(self, rows: list[list[int]]):
        import torch

        width = max(len(ids) for ids in rows)
        input_ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for row, ids in enumerate(rows):  # left padding: every prompt ends where generation starts
            input_ids[row, width - len(ids) :] = torch.tensor(ids, dtype=torch.long)
            mask[row, width - len(ids) :] = 1
        return input_ids, mask

    def _shared_prefix(self, prompt_ids: list[list[int]]):
        """The KV cache of every prompt but its last token, computed once per distinct prompt and
        repeated for its copies; None when the batch holds no repeated prompt."""
        import torch

        distinct = list(dict.fromkeys(tuple(ids) for ids in prompt_ids))
        if len(distinct) == len(prompt_ids) or min(len(ids) for ids in distinct) < 2:
            return None
        where = {ids: i for i, ids in enumerate(distinct)}
        ids, mask = self._left_pad([list(d) for d in distinct])
        ids, mask = ids[:, :-1].to(self.device), mask[:, :-1].to(self.device)
        cache = self.model(
            input_ids=ids, attention_mask=mask, position_ids=_positions(mask), use_cache=True
        ).past_key_values
        cache.reorder_cache(torch.tensor([where[tuple(p)] for p in prompt_ids], device=self.device))
        return cache

    def generate(self, prompt_ids: list[list[int]], seeds: list[int], progress=None) -> list[Completion]:
        """``progress(step)``, if given, is called after each generated token of the batch. A prompt
        sampled several times in the batch is read once: its key/value cache is computed for one
        copy and shared by the others (``--n 16`` reads each prompt once, not 16 times)."""
        import torch

        input_ids, mask = self._left_pad(prompt_ids)
        extra = {"logits_processor": [_Progress(progress)]} if progress else {}
        with torch.inference_mode():
            shared = self._shared_prefix(prompt_ids)
            if shared is not None:
                extra["cache"] = shared
            # transformers draws one random stream for the whole batch: seeding it per batch from
            # the batch's first sample makes a batch reproducible (vLLM seeds every sample).
            torch.manual_seed(seeds[0])
            out = self.model.generate(
                input_ids=input_ids.to(self.device),
                attention_mask=mask.to(self.device),
                generation_config=self.config,
                **extra,
            )
        width = input_ids.size(1)
        stops = set(self.stops)
        results = []
        for row in out[:, width:].tolist():
            end = next((i for i, tok in enumerate(row) if tok in stops), None)
            tokens = row if end is None else row[:end]
            text = self.tokenizer.decode(tokens, skip_special_tokens=True)
            results.append(Completion(text, end is None, len(row) if end is None else end + 1))
        return results


def _positions(mask):
    """Position ids of left-padded rows, as ``generate`` computes them."""
    positions = mask.long().cumsum(-1) - 1
    return positions.masked_fill(mask == 0, 1)


class _Progress:
    """A logits processor that changes nothing and reports each decoding step (one token per sequence)."""

    def __init__(self, report) -> None:
        self.report, self.step = report, 0

    def __call__(self, input_ids, scores):
        self.step += 1
        self.report(self.step)
        return scores


class VLLMBackend:
    """vLLM offline engine: tensor parallelism for big models, one seed per sample."""

    name = "vllm"

    def __init__(
        self,
        model_path: str,
        tokenizer,
        sampling: Sampling,
        *,
        dtype: str = "auto",
        trust_remote_code: bool = False,
        tensor_parallel_size: int = 1,
        gpu_memory_utilization: float = 0.9,
        max_model_len: int | None = None,
    ):
        from vllm import LLM

        from mathgrpo.models import stop_token_ids

        self.stops = stop_token_ids(tokenizer)
        self.sampling = sampling
        self.llm = LLM(
            model=model_path,
            tokenizer=model_path,
            dtype="auto" if dtype == "auto" else dtype,
            seed=sampling.seed,
            tensor_parallel_size=tensor_parallel_size,
            gpu_memory_utilization=gpu_memory_utilization,
            max_model_len=max_model_len,
            enable_prefix_caching=True,
            trust_remote_code=trust_remote_code,
        )

    def generate(self, prompt_ids: list[list[int]], seeds: list[int], progress=None) -> list[Completion]:
        from vllm import SamplingParams

        s = self.sampling
        params = [
            SamplingParams(
                n=1,
                temperature=s.temperature,
                top_p=1.0 if s.greedy else s.top_p,
                max_tokens=s.max_new_tokens,
                stop_token_ids=self.stops,
                seed=None if s.greedy else seed,
                skip_special_tokens=True,
            )
            for seed in seeds
        ]
        prompts = [{"prompt_token_ids": ids} for ids in prompt_ids]
        outputs = self.llm.generate(prompts, params, use_tqdm=False)
        results = []
        for out in outputs:
            c = out.outputs[0]
            # finish_reason "length" = hit max_tokens; a stop token ends it as "stop" (vLLM keeps
            # that token in token_ids and out of text, as the transformers backend counts it).
            results.append(Completion(c.text, c.finish_reason == "length", len(c.token_ids)))
        return results


def make_backend(name: str, model_path: str, tokenizer, sampling: Sampling, **options):
    """The backend ``name`` (auto/vllm/transformers), loaded. vLLM-only options (tensor
    parallelism, memory share, context) are ignored by transformers."""
    chosen = choose_backend(name)
    log.info("generation backend: %s", chosen)
    if chosen == "vllm":
        return VLLMBackend(model_path, tokenizer, sampling, **options)
    common = {k: options[k] for k in ("dtype", "trust_remote_code") if k in options}
    return TransformersBackend(model_path, tokenizer, sampling, **common)
