"""Every GRPOConfig default that changes what a recipe samples or how its loss is computed, as TRL
1.16 ships it. A TRL release that changes one fails here, naming the field, before it can change a
run silently; a new GRPOConfig field fails until it is classified below."""

from __future__ import annotations

import dataclasses

from transformers import TrainingArguments
from trl import GRPOConfig

# Sampling and the loss. (Recipes pin the algorithm itself: config.ALGORITHM_FIELDS.)
SAMPLING_AND_LOSS = {
    # what is generated
    "num_generations": 8,
    "max_completion_length": 512,
    "temperature": 1.0,
    "top_p": 1.0,
    "top_k": 0,
    "min_p": None,
    "repetition_penalty": 1.0,
    "generation_kwargs": None,
    "generation_batch_size": None,
    "steps_per_generation": None,
    "shuffle_dataset": True,
    "vllm_structured_outputs_regex": None,
    # how the model computes
    "disable_dropout": False,
    "cast_lm_head_to_fp32": False,
    "router_aux_loss_coef": None,
    # the objective
    "loss_type": "dapo",
    "beta": 0.0,
    "num_iterations": 1,
    "epsilon": 0.2,
    "epsilon_high": None,
    "delta": None,
    "importance_sampling_level": "token",
    "scale_rewards": "group",
    "reward_weights": None,
    "multi_objective_aggregation": "sum_then_normalize",
    "mask_truncated_completions": False,
    "use_bias_correction_kl": True,
    "top_entropy_quantile": 1.0,
    "off_policy_mask_threshold": None,
    "sapo_temperature_neg": 1.05,
    "sapo_temperature_pos": 1.0,
    "vespo_k_pos": 2.0,
    "vespo_lambda_pos": 3.0,
    "vespo_k_neg": 3.0,
    "vespo_lambda_neg": 2.0,
    "entropy_coef": 0.0,
    "use_adaptive_entropy": False,
    "entropy_coef_min": 0.0,
    "entropy_coef_max": 1.0,
    "entropy_coef_delta": 0.005,
    "entropy_target": 0.2,
    "sync_ref_model": False,
    "ref_model_mixup_alpha": 0.6,
    "ref_model_sync_steps": 512,
    # vLLM's off-policy correction (the vLLM recipes state these explicitly)
    "vllm_importance_sampling_correction": True,
    "vllm_importance_sampling_mode": "sequence_mask",
    "vllm_importance_sampling_clip_max": 3.0,
    "vllm_importance_sampling_clip_min": None,
    "vllm_importance_sampling_cap": None,
}

# Fields that do not change what is trained: loading, plumbing, logging, evaluation.
OTHER = {
    "model_init_kwargs",
    "trust_remote_code",
    "num_generations_eval",
    "ds3_gather_for_generation",
    "pad_to_multiple_of",
    "chat_template_kwargs",
    "cache_implementation",
    "use_vllm",
    "vllm_mode",
    "vllm_model_impl",
    "vllm_enable_sleep_mode",
    "vllm_server_base_url",
    "vllm_server_host",
    "vllm_server_port",
    "vllm_server_timeout",
    "vllm_group_port",
    "vllm_gpu_memory_utilization",
    "vllm_max_model_length",
    "vllm_tensor_parallel_size",
    "max_tool_calling_iterations",
    "log_completions",
    "log_multimodal",
    "num_completions_to_print",
    "log_unique_prompts",
    "log_completions_hub_repo",
    "use_transformers_continuous_batching",
    "transformers_continuous_batching_config",
    "use_transformers_paged",
}


def own_fields() -> dict[str, object]:
    base = {f.name for f in dataclasses.fields(TrainingArguments)}
    out = {}
    for f in dataclasses.fields(GRPOConfig):
        if f.name in base:
            continue
        if f.default is not dataclasses.MISSING:
            out[f.name] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            out[f.name] = f.default_factory()
        else:
            out[f.name] = dataclasses.MISSING
    return out


def test_every_sampling_and_loss_default_is_as_tested():
    fields = own_fields()
    changed = [
        f"GRPOConfig.{k}: TRL now defaults to {fields.get(k, 'nothing (field removed)')!r}, tested with {v!r}"
        for k, v in SAMPLING_AND_LOSS.items()
        if fields.get(k, "<removed>") != v
    ]
    assert not changed, "a TRL release changed what recipes train; pin the old value in the recipes:\n" + "\n".join(
        changed
    )


def test_every_grpo_config_field_is_classified():
    new = sorted(set(own_fields()) - set(SAMPLING_AND_LOSS) - OTHER)
    assert not new, f"TRL added GRPOConfig fields {new}: decide whether each changes sampling or the loss"


def test_the_snapshot_can_fail(monkeypatch):
    monkeypatch.setitem(SAMPLING_AND_LOSS, "epsilon", 0.3)
    try:
        test_every_sampling_and_loss_default_is_as_tested()
    except AssertionError as err:
        assert "GRPOConfig.epsilon: TRL now defaults to 0.2, tested with 0.3" in str(err)
    else:
        raise AssertionError("a changed default went unnoticed")


def test_vllm_recipes_state_the_correction_they_rely_on():
    from pathlib import Path

    import yaml

    for path in sorted((Path(__file__).resolve().parents[1] / "recipes").rglob("*vllm*.yaml")):
        recipe = yaml.safe_load(path.read_text())
        for key in (
            "vllm_importance_sampling_correction",
            "vllm_importance_sampling_mode",
            "vllm_importance_sampling_clip_max",
        ):
            assert key in recipe, f"{path.name} leaves {key} to TRL's default"
        # Chosen on purpose (the recipes' comment says why): per-token truncation, not TRL's sequence_mask.
        assert (recipe["vllm_importance_sampling_mode"], recipe["vllm_importance_sampling_clip_max"]) == (
            "token_truncate",
            2.0,
        ), path.name
        assert "vllm_importance_sampling_clip_min" not in recipe, path.name  # TIS caps from above only
