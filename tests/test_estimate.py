import pytest
from transformers import BertConfig

from distilrank import estimate
from distilrank.config import load_params
from distilrank.timing import forward_flops


def test_pass_factor_counts_backward_and_recomputation():
    s = estimate.Stage("x", "bert-6", True, 1, 8, 1)
    assert estimate.pass_factor(s) == 3.0  # forward + backward (twice the forward)
    assert estimate.pass_factor(estimate.Stage("x", "bert-6", True, 1, 8, 1, lora=True)) == 2.0  # no weight gradients
    assert estimate.pass_factor(estimate.Stage("x", "bert-6", True, 1, 8, 1, lora=True, checkpointing=True)) == 3.0
    assert estimate.pass_factor(estimate.Stage("x", "bert-6", False, 1, 8, 1)) == 1.0


def test_activation_bytes_by_hand():
    config = BertConfig(hidden_size=4, num_hidden_layers=3, num_attention_heads=2, vocab_size=10)
    # s=8, b=2, h=4, a=2: per layer 8*2*4*(34 + 5*2*8/4) = 64 * 54 = 3456 bytes
    assert estimate.activation_bytes(config, estimate.Stage("x", "bert-6", False, 1, 8, 2)) == 3456
    assert estimate.activation_bytes(config, estimate.Stage("x", "bert-6", True, 1, 8, 2)) == 3 * 3456
    # checkpointing keeps each layer's input (s*b*h*2 bytes) and one layer's activations
    assert estimate.activation_bytes(config, estimate.Stage("x", "bert-6", True, 1, 8, 2, checkpointing=True)) == 3 * 128 + 3456
    # CPT adds the fp32 logits and their gradient: 2 * s * b * vocab * 4
    assert estimate.activation_bytes(config, estimate.Stage("x", "bert-6", True, 1, 8, 2, lm_head=True)) == 3 * 3456 + 2 * 8 * 2 * 10 * 4


def test_estimate_divides_flops_by_peak_times_mfu():
    stage = estimate.Stage("x", "bert-6", True, 1000, 64, 8)
    row = estimate.estimate(stage, "A100 80GB", mfu=0.5)
    flops = 3 * forward_flops(estimate.SHAPES["bert-6"](), 64, 1000)
    assert row["hours"] == pytest.approx(flops / (312e12 * 0.5) / 3600)
    assert row["memory (GB)"] > 16 * estimate.n_params("bert-6") / 1e9  # fp32 weights, grads, AdamW moments


def test_paper_profile_fits_one_80gb_gpu_with_lora_but_not_full_fine_tuning():
    cfg = load_params("params/paper.yaml")
    rows = [estimate.estimate(s) for s in estimate.profile_stages(cfg)]
    assert all(r["memory (GB)"] < 80 for r in rows)
    full = cfg.model_copy(update={"llm": cfg.llm.model_copy(update={"finetune": "full", "base_dtype": "fp32"})})
    assert estimate.estimate(estimate.profile_stages(full)[0])["memory (GB)"] > 80
    with pytest.raises(ValueError, match="--queries N"):
        estimate.profile_stages(load_params("params/default.yaml"))
    assert estimate.profile_stages(load_params("params/default.yaml"), n_queries=225)[0].sequences > 0


def test_cli_prints_a_table_and_refuses_an_unknown_gpu(capsys):
    assert estimate.main(["params/paper.yaml", "H100 80GB"]) == 0
    assert "| 02 CPT | llm-7b |" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        estimate.main(["params/paper.yaml", "TPU"])


def test_notebook_07_counts_its_grid_and_only_the_teacher_pairs_beyond_the_transfer_set():
    cfg = load_params("params/default.yaml")  # BM25 lists of the transfer set: depth 30
    cells = ["ranknet-ranks-bm25-d20", "ranknet-ranks-dense-d20", "ranknet-ranks-bm25-d10", "ranknet-ranks-bm25-d50", "adrmse-ranks-bm25-d20"]
    cfg = cfg.model_copy(update={"rank_distillm": cfg.rank_distillm.model_copy(update={"run": cells})})  # BM25 to depth 50, dense to 20
    stages = {s.name: s for s in estimate.profile_stages(cfg, n_queries=225)}
    rd = cfg.rank_distillm
    assert stages["07 5 grid students"].sequences == 5 * rd.steps * rd.groups_per_step * rd.group_size
    assert stages["07 teacher scores: first-stage lists beyond the transfer set"].sequences == 125 * ((50 - 30) + 20)


def test_notebook_04_counts_every_seed_of_every_core_student_and_each_recipe():
    cfg = load_params("params/smoke.yaml")
    d = cfg.distill.model_copy(update={"epochs": 2, "pseudo_groups": 5, "groups_per_step": 3, "seeds": 2, "no_llm_student": True,
                                       "recipes": [{"max_len": 24}, {"schedule": "constant"}]})
    cfg = cfg.model_copy(update={"distill": d, "split": cfg.split.model_copy(update={"n_train": None}),
                                 "models": cfg.models.model_copy(update={"students": {"bert6": cfg.models.students["bert6"]}})})
    n_train = 30 - cfg.split.n_test - cfg.split.n_dev
    stages = [s for s in estimate.profile_stages(cfg, n_queries=30) if s.name.startswith("04 bert6")]
    assert len(stages) == 1
    # ceil(2 epochs x (n_train + 5 pseudo groups) / 3 a step) steps; 5 students x 2 seeds + 2 recipes tried on dev
    steps = -(-2 * (n_train + 5) // 3)
    assert stages[0].sequences == 12 * steps * 3 * d.group_size
    assert stages[0].name.startswith("04 bert6: 12 students") and "2 seeds" in stages[0].name and "2 recipes" in stages[0].name
    without = cfg.model_copy(update={"distill": d.model_copy(update={"no_llm_student": False, "recipes": []})})
    assert [s.sequences for s in estimate.profile_stages(without, n_queries=30) if s.name.startswith("04 bert6")] == [8 * steps * 3 * d.group_size]


def test_gpus_divide_the_launched_stages_and_fsdp_shards_the_decoder():
    cfg = load_params("params/paper.yaml")
    one = {s.name: estimate.estimate(s) for s in estimate.profile_stages(cfg)}
    eight = {s.name: estimate.estimate(s, gpus=8) for s in estimate.profile_stages(cfg, gpus=8)}
    assert one["02 CPT"]["hours"] / eight["02 CPT"]["hours"] == pytest.approx(8 * estimate.DP_EFFICIENCY)
    assert eight["02 CPT"]["memory (GB)"] == pytest.approx(one["02 CPT"]["memory (GB)"])  # DDP: a whole copy per GPU
    kept = "02 dev likelihood ranking, before and after CPT"  # measured in the kernel: one process
    assert eight[kept]["hours"] == one[kept]["hours"] and eight[kept]["GPUs"] == 1
    curves = [n for n in eight if n.startswith("03 teacher learning curves")][0]
    assert "(2 dev points each)" in curves  # 8 times fewer steps: 8 times fewer points
    full = estimate.Stage("x", "llm-7b", True, 1000, 256, 16, launched=True)
    ddp, fsdp = (estimate.estimate(full, gpus=8, strategy=k)["memory (GB)"] for k in ("ddp", "fsdp"))
    acts = estimate.activation_bytes(estimate.SHAPES["llm-7b"](), full) / 1e9
    assert fsdp - acts == pytest.approx((ddp - acts) / 8)  # weights, gradients and AdamW moments sharded 8 ways


def test_cli_with_gpus_prints_wall_time_and_where_lora_makes_ddp_enough(capsys):
    assert estimate.main(["params/paper.yaml", "--gpus", "8"]) == 0
    out = capsys.readouterr().out
    assert "on 8 x A100 80GB" in out and "hours of wall time on 8 GPUs" in out
    assert "LoRA:" in out and "DDP is enough" in out and "full fine-tuning: " in out
