"""The students' mean-pooled cross-encoder: a BERT encoder, mean pooling, one linear score.

A sentence-embedding checkpoint (all-MiniLM-L6-v2) was trained on the *mean* of its token states;
its CLS state and BERT's dense+tanh pooler were never trained for anything a ranker needs, and the
tanh bounds the state the score reads. `MeanPoolCrossEncoder` scores the pair from the mean of the
last hidden states over the attention mask through `Linear(hidden, 1)`: no pooler, no tanh, no
dropout on the head. Pooling and score run in fp32 outside any autocast (the logits and the head's
gradient are fp32 under bf16 mixed precision), as `distilrank.rankers.LastTokenScorer`'s head does.

Self-contained (torch and transformers only): `distilrank.rankers.save_ranker` copies this file
beside a saved student and names it in the config's `auto_map`, so

    AutoModelForSequenceClassification.from_pretrained(path, trust_remote_code=True)

loads the student in a process that never imported distilrank. Importing `distilrank.rankers`
registers the classes with the Auto factories (`register`), so there no remote code is needed.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers import BertConfig, BertModel, BertPreTrainedModel
from transformers.modeling_outputs import SequenceClassifierOutput

MODEL_TYPE = "distilrank_meanpool_bert"


class MeanPoolConfig(BertConfig):
    """A BERT config whose model type names the mean-pooled cross-encoder."""

    model_type = MODEL_TYPE


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """The fp32 mean of each row's hidden states over its real tokens: (B, L, H), (B, L) -> (B, H)."""
    mask = attention_mask.to(torch.float32).unsqueeze(-1)
    return (hidden.to(torch.float32) * mask).sum(1) / mask.sum(1).clamp(min=1.0)


class MeanPoolCrossEncoder(BertPreTrainedModel):
    """BERT (without its pooler) + mean pooling + `Linear(hidden, 1)`: logits of shape (B, 1).

    Loads an encoder checkpoint (keys with or without the `bert.` prefix) with a fresh `score`
    layer; a BERT checkpoint's pooler weights are left unused."""

    config_class = MeanPoolConfig

    def __init__(self, config: BertConfig) -> None:
        super().__init__(config)
        self.num_labels = 1
        self.bert = BertModel(config, add_pooling_layer=False)
        self.score = nn.Linear(config.hidden_size, 1)
        self.post_init()

    def forward(self, input_ids: torch.Tensor | None = None, attention_mask: torch.Tensor | None = None,
                token_type_ids: torch.Tensor | None = None, position_ids: torch.Tensor | None = None,
                inputs_embeds: torch.Tensor | None = None, labels: torch.Tensor | None = None,
                **kwargs: object) -> SequenceClassifierOutput:
        kwargs.pop("return_dict", None)  # always a SequenceClassifierOutput (sentence-transformers passes it)
        hidden = self.bert(input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids,
                           position_ids=position_ids, inputs_embeds=inputs_embeds, return_dict=True,
                           **kwargs).last_hidden_state
        if attention_mask is None:
            attention_mask = torch.ones(hidden.shape[:2], dtype=torch.long, device=hidden.device)
        with torch.autocast(device_type=hidden.device.type, enabled=False):
            pooled = mean_pool(hidden, attention_mask)
            # fp32 whatever the model's dtype (a copy cast to bf16 for timing still scores in fp32)
            logits = nn.functional.linear(pooled, self.score.weight.to(torch.float32), self.score.bias.to(torch.float32))
        loss = None
        if labels is not None:
            loss = nn.functional.mse_loss(logits.squeeze(-1), labels.to(torch.float32).view(-1))
        return SequenceClassifierOutput(loss=loss, logits=logits)


def register() -> None:
    """Register the classes with `AutoConfig` and `AutoModelForSequenceClassification`; calling it
    again (a second import, a module reload) is harmless."""
    from transformers import AutoConfig, AutoModelForSequenceClassification

    AutoConfig.register(MODEL_TYPE, MeanPoolConfig, exist_ok=True)
    AutoModelForSequenceClassification.register(MeanPoolConfig, MeanPoolCrossEncoder, exist_ok=True)
