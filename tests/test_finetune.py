"""Hub-format decoders trained as the paper profile trains them: the fp32 head on a bf16
backbone, LoRA adapters merged after training, gradient checkpointing, fp32 master weights."""

import pytest
import torch
from support.tiny import save_tiny_decoder
from transformers import AutoModelForCausalLM, AutoTokenizer

from distilrank import decoders, finetune
from distilrank.config import LLMParams, LoraParams, ParamsError, load_params, validate
from distilrank.rankers import LastTokenScorer, encode_pairs, pad_batch
from distilrank.stages import continued_pretraining

TEXTS = ["wing flutter at high speed", "heat transfer in a boundary layer", "shock waves past a cone",
         "buckling of thin cylindrical shells", "query clicked document"] * 4


@pytest.fixture(scope="module")
def decoder_dir(tmp_path_factory):
    return save_tiny_decoder(tmp_path_factory.mktemp("hub") / "tiny-qwen2", TEXTS, vocab_size=200)


def _batch(path):
    tok = AutoTokenizer.from_pretrained(str(path))
    seqs = encode_pairs(tok, ["wing flutter", "shock waves"], ["flutter of a wing", "a cone in a flow"], 32, decoder=True)
    return pad_batch(seqs, tok.pad_token_id)


LORA = LLMParams(finetune="lora", base_dtype="bf16", gradient_checkpointing=True, lora=LoraParams(r=4, alpha=8, dropout=0.0))


def test_a_bf16_hub_decoder_scores_through_the_fp32_head(decoder_dir):
    # the crash of issue 13: a bf16 backbone (as CPT saves a hub decoder) and a head made in fp32
    scorer = LastTokenScorer.from_decoder(decoder_dir, dtype=torch.bfloat16)
    assert next(scorer.backbone.parameters()).dtype == torch.bfloat16 and scorer.head.weight.dtype == torch.float32
    logits = scorer(**_batch(decoder_dir)).logits
    assert logits.dtype == torch.float32 and logits.shape == (2, 1) and torch.isfinite(logits).all()


def test_load_kwargs_keep_fp32_master_weights_for_full_fine_tuning():
    assert finetune.load_kwargs(LLMParams()) == {"dtype": torch.float32}
    assert finetune.load_kwargs(LORA) == {"dtype": torch.bfloat16}
    with pytest.raises(ParamsError, match="fp32 master weights"):
        validate({**load_params("params/smoke.yaml").model_dump(), "llm": {"finetune": "full", "base_dtype": "bf16"}}, "x")


def test_qlora_is_refused_with_the_allowed_values():
    with pytest.raises(ValueError, match="'full' or 'lora'"):
        LLMParams(finetune="qlora", base_dtype="bf16")


def test_the_head_stays_fp32_under_bf16_autocast(decoder_dir):
    scorer = LastTokenScorer.from_decoder(decoder_dir, dtype=torch.bfloat16)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits = scorer(**_batch(decoder_dir)).logits
    assert logits.dtype == torch.float32


def test_lora_teacher_trains_adapters_and_head_only_then_merges(decoder_dir):
    scorer = decoders.load_scorer(decoder_dir, LORA)
    trainable = {n for n, p in scorer.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n or n.startswith("head.") for n in trainable)
    assert scorer.backbone.base_model.model.is_activation_checkpointing
    frozen = {n: p.detach().clone() for n, p in scorer.named_parameters() if not p.requires_grad}
    opt = torch.optim.AdamW([p for p in scorer.parameters() if p.requires_grad], lr=1e-2)
    batch = _batch(decoder_dir)
    scorer.train()
    for _ in range(3):
        loss = -(scorer(**batch).logits[0] - scorer(**batch).logits[1]).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert all(torch.equal(frozen[n], p) for n, p in scorer.named_parameters() if n in frozen), "the bf16 backbone stays frozen"
    scorer.eval()
    with torch.no_grad():
        before = scorer(**batch).logits
        merged = finetune.merge(scorer)
        after = merged(**batch).logits
    assert not any("lora_" in n for n, _ in merged.named_parameters())
    assert not merged.backbone.is_activation_checkpointing
    assert torch.allclose(before, after, atol=0.05)  # bf16 weights: merging rounds the update once


def test_gradient_checkpointing_gives_the_same_gradients(decoder_dir):
    grads = []
    for on in (False, True):
        scorer = decoders.load_scorer(decoder_dir, LLMParams(gradient_checkpointing=on))
        torch.manual_seed(0)
        torch.nn.init.normal_(scorer.head.weight, std=0.02)
        scorer.train()
        scorer(**_batch(decoder_dir)).logits.sum().backward()
        grads.append(torch.cat([p.grad.flatten() for p in scorer.backbone.parameters() if p.grad is not None]))
        assert scorer.backbone.is_activation_checkpointing == on
    assert next(scorer.backbone.parameters()).dtype == torch.float32
    assert torch.allclose(grads[0], grads[1], atol=1e-6)


def test_cpt_with_lora_leaves_a_plain_trained_decoder(decoder_dir, tmp_path):
    lm = AutoModelForCausalLM.from_pretrained(str(decoder_dir), **finetune.load_kwargs(LORA))
    tok = AutoTokenizer.from_pretrained(str(decoder_dir))
    before = {n: p.detach().clone() for n, p in lm.named_parameters()}
    feats = continued_pretraining.build_features(tok, [{"prompt": continued_pretraining.cpt_prompt("wing flutter"), "target": "flutter of a wing"}] * 8, 32)
    log = continued_pretraining.train_cpt(lm, tok, feats, output_dir=str(tmp_path / "t"), epochs=2, lr=5e-2, batch_size=4, seed=0,
                        device="cpu", llm=LORA)
    assert log and all(torch.isfinite(torch.tensor(h["loss"])) for h in log)
    names = {n for n, _ in lm.named_parameters()}
    assert names == set(before), "adapters merged: the decoder has its own parameters and no others"
    changed = [n for n, p in lm.named_parameters() if not torch.equal(before[n], p)]
    assert changed and all(any(m in n for m in ("q_proj", "v_proj")) for n in changed)  # peft's default targets for qwen2
