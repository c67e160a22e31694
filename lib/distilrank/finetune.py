"""How a decoder is trained in CPT and as the ranking teacher: full fine-tuning with fp32 master
weights, or LoRA / QLoRA adapters through peft, with optional gradient checkpointing (the
profile's `llm:` section, `config.LLMParams`).

- `full`: every weight trains and stays fp32; the run's `precision` (bf16 autocast on a GPU)
  makes the arithmetic cheap. bf16 *weights* under AdamW would lose most updates: at lr 1e-5 an
  update is below half a bf16 ulp of a weight of magnitude ~0.01, so it rounds away.
- `lora`: the backbone is frozen (stored in `base_dtype`, bf16 halves its memory) and low-rank
  adapters train in fp32; `qlora`: the frozen backbone in 4 bits (bitsandbytes, CUDA only).
- Adapters are merged into the weights after training (`merge`), so every later stage loads a
  plain checkpoint with `from_pretrained` and never needs peft.
"""

from __future__ import annotations

import importlib.util
from typing import Any

import torch
from torch import nn

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


def load_kwargs(llm: Any) -> dict[str, Any]:
    """`from_pretrained` keyword arguments for a decoder that will be trained under `llm`: fp32
    for full fine-tuning (master weights), `base_dtype` for LoRA, a 4-bit config for QLoRA."""
    if llm.finetune == "full":
        return {"dtype": torch.float32}
    if llm.finetune == "lora":
        return {"dtype": DTYPES[llm.base_dtype]}
    return {"dtype": torch.bfloat16, "quantization_config": qlora_config()}


def qlora_config() -> Any:
    """bitsandbytes' 4-bit NF4 config (QLoRA, Dettmers et al. 2023); a clear error where it
    cannot run (no bitsandbytes, or no CUDA device)."""
    if importlib.util.find_spec("bitsandbytes") is None:
        raise RuntimeError("llm.finetune 'qlora' needs bitsandbytes (pip install bitsandbytes) and a CUDA GPU; "
                           "use 'lora' (with base_dtype bf16) elsewhere")
    if not torch.cuda.is_available():
        raise RuntimeError("llm.finetune 'qlora' needs a CUDA GPU (4-bit bitsandbytes kernels); use 'lora' on this machine")
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                              bnb_4bit_compute_dtype=torch.bfloat16)


def prepare(model: nn.Module, llm: Any, task: str) -> nn.Module:
    """`model` ready to train under `llm`: gradient checkpointing on (non-reentrant, so frozen
    inputs need no special care) and, for `lora`/`qlora`, peft adapters on it (`task`:
    `CAUSAL_LM` for CPT, `FEATURE_EXTRACTION` for a ranking teacher's backbone). Returns the
    model to train: `model` itself, or the peft model that wraps it."""
    if llm.gradient_checkpointing:
        if not getattr(model, "supports_gradient_checkpointing", False):
            raise ValueError(f"{type(model).__name__} does not support gradient checkpointing")
        model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
    if llm.finetune == "full":
        return model
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

    if llm.finetune == "qlora":
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=llm.gradient_checkpointing,
                                                gradient_checkpointing_kwargs={"use_reentrant": False})
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


def trainable_share(model: nn.Module) -> tuple[int, int]:
    """(trainable parameters, all parameters), tied weights counted once."""
    params = {id(p): p for p in model.parameters()}.values()
    return sum(p.numel() for p in params if p.requires_grad), sum(p.numel() for p in params)
