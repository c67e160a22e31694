"""How a decoder is trained in CPT and as the ranking teacher: full fine-tuning with fp32 master
weights, or LoRA adapters through peft, with optional gradient checkpointing (the profile's `llm:`
section, `config.LLMParams`).

- `full`: every weight trains and stays fp32; the run's `precision` (bf16 autocast on a GPU)
  makes the arithmetic cheap. bf16 *weights* under AdamW would lose most updates: at lr 1e-5 an
  update is below half a bf16 ulp of a weight of magnitude ~0.01, so it rounds away.
- `lora`: the backbone is frozen (stored in `base_dtype`, bf16 halves its memory) and low-rank
  adapters train in fp32. QLoRA (a 4-bit backbone) is not offered: merging into 4-bit weights
  would round most of the update away, and the merged decoder would need bitsandbytes to load.
- Adapters are merged into the weights after training (`merge`), so every later stage loads a
  plain checkpoint with `from_pretrained` and never needs peft.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


def load_kwargs(llm: Any) -> dict[str, Any]:
    """`from_pretrained` keyword arguments for a decoder that will be trained under `llm`: fp32
    for full fine-tuning (master weights), `base_dtype` for LoRA."""
    return {"dtype": torch.float32 if llm.finetune == "full" else DTYPES[llm.base_dtype]}


def prepare(model: nn.Module, llm: Any, task: str) -> nn.Module:
    """`model` ready to train under `llm`: gradient checkpointing on (non-reentrant, so frozen
    inputs need no special care) and, for `lora`, peft adapters on it (`task`:
    `CAUSAL_LM` for CPT, `FEATURE_EXTRACTION` for a ranking teacher's backbone). Returns the
    model to train: `model` itself, or the peft model that wraps it."""
    if llm.gradient_checkpointing:
        if not getattr(model, "supports_gradient_checkpointing", False):
            raise ValueError(f"{type(model).__name__} does not support gradient checkpointing")
        model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
    if llm.finetune == "full":
        return model
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(r=llm.lora.r, lora_alpha=llm.lora.alpha, lora_dropout=llm.lora.dropout,
                        target_modules=llm.lora.target_modules, task_type=task)
    return get_peft_model(model, config)


def merge(model: nn.Module) -> nn.Module:
    """The plain model with any LoRA adapters merged into its weights (a model without adapters
    comes back as it is; a ranking teacher's backbone is merged in place); gradient checkpointing
    is switched off for scoring and saving."""
    from peft import PeftModel

    if hasattr(model, "backbone") and isinstance(model.backbone, nn.Module):  # rankers.LastTokenScorer
        model.backbone = merge(model.backbone)
        return model
    if isinstance(model, PeftModel):
        model = model.merge_and_unload()
    if getattr(model, "is_activation_checkpointing", False):
        model.activation_checkpointing_disable()
    return model

