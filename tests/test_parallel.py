"""Data parallelism (`distilrank.parallel`, `distilrank.launch_jobs`, `training.launched_systems`)
on this CPU: two processes over gloo, tiny hub-format models. Teacher scoring on two processes
gives one process's scores in the same row order; a teacher fine-tuning (LoRA, gradient
checkpointing) and a student distillation on two processes (one launch, trained in turn) save
loadable checkpoints, and their first step's averaged gradient is the gradient of one process on
the two ranks' batches concatenated; a killed worker is an error naming its rank, and no scores
are merged. Three launches, about 35 s on two cores."""

import json

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from support.tiny import save_tiny_bert, save_tiny_decoder

from distilrank import losses, parallel
from distilrank.config import DistillParams, LLMParams, ParallelParams, ParamsError, TeacherParams, load_params, validate
from distilrank.data import read_cranfield
from distilrank.paths import ROOT
from distilrank.rankers import load_ranker, save_ranker, score_candidates
from distilrank.training import launched_systems

CPU2 = parallel.Plan(processes=2, device="cpu", backend="gloo")
LORA = LLMParams.model_validate({"finetune": "lora", "base_dtype": "fp32", "gradient_checkpointing": True,
                                 "lora": {"r": 4, "alpha": 8, "dropout": 0.0}})  # the paper's switches, no dropout: a gradient to compare


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A tiny decoder and BERT (dropout off) and a candidates frame: 7 queries x 6 Cranfield documents."""
    folder = tmp_path_factory.mktemp("parallel")
    cran = read_cranfield(ROOT.parent / "shared" / "data" / "cranfield")
    qids = sorted(cran.qrels, key=int)[:7]
    docs = sorted(cran.docs, key=int)[:30]
    rng = np.random.default_rng(0)
    rows = [{"query_id": q, "doc_id": d, "query": cran.queries[q], "title": cran.docs[d].title, "summary": cran.docs[d].body[:200],
             "gain": int(rng.integers(0, 3)), "target": float(rng.normal())}
            for i, q in enumerate(qids) for d in docs[i * 3: i * 3 + 6]]
    texts = [cran.docs[d].text for d in docs] + [cran.queries[q] for q in qids]
    decoder = save_tiny_decoder(folder / "decoder", texts, vocab_size=800)
    bert = save_tiny_bert(folder / "bert", texts, vocab_size=800)
    config = json.loads((bert / "config.json").read_text())
    (bert / "config.json").write_text(json.dumps({**config, "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0}))
    return folder, decoder, bert, pd.DataFrame(rows)


def test_parallel_section_defaults_to_one_process_and_rejects_unknown_keys():
    for profile in ("default", "smoke", "gpu"):
        assert load_params(f"params/{profile}.yaml").parallel.processes == 1
    assert load_params("params/paper.yaml").parallel.processes == "auto"
    raw = dict(load_params("params/smoke.yaml").model_dump())
    with pytest.raises(ParamsError, match="parallel.gpus: unknown key"):
        validate({**raw, "parallel": {"gpus": 2}}, "test")
    with pytest.raises(ParamsError, match="parallel"):
        validate({**raw, "parallel": {"processes": 0}}, "test")
    assert parallel.plan(ParallelParams(processes="auto"), "cpu") is None  # auto on a CPU: the kernel
    assert parallel.plan(ParallelParams(processes=1), "cuda") is None
    assert parallel.plan(ParallelParams(processes=2), "cpu") == CPU2
    with pytest.raises(ValueError, match="nccl needs CUDA"):
        parallel.plan(ParallelParams(processes=2, backend="nccl"), "cpu")


def test_shard_bounds_cover_the_rows_in_order():
    assert [parallel.shard_bounds(7, 3, r) for r in range(3)] == [(0, 3), (3, 5), (5, 7)]
    assert [parallel.shard_bounds(1, 2, r) for r in range(2)] == [(0, 1), (1, 1)]


def test_launch_command_is_accelerate_multi_process_on_cpu(tmp_path):
    cmd = parallel.launch_command(CPU2, tmp_path / "job.json")
    assert cmd[1:3] == ["-m", "accelerate.commands.launch"] and "--multi_gpu" in cmd
    assert cmd[cmd.index("--num_processes") + 1] == "2" and cmd[-3:] == ["-m", "distilrank.launch_jobs", str(tmp_path / "job.json")]


def test_teacher_scoring_on_two_processes_matches_one(world, tmp_path):
    folder, decoder, _, frame = world
    from distilrank.decoders import load_scorer

    torch.manual_seed(0)
    scorer = load_scorer(decoder, LLMParams())
    save_ranker(scorer, __import__("transformers").AutoTokenizer.from_pretrained(str(decoder)), tmp_path / "teacher")
    model, tok = load_ranker(tmp_path / "teacher")
    frames = {"train": frame, "odd": frame.iloc[:5]}
    one = {name: score_candidates(model, tok, df, 48, 4, "cpu") for name, df in frames.items()}
    two = parallel.score_frames(CPU2, tmp_path / "teacher", frames, tmp_path / "job", max_len=48, batch_size=4, precision="fp32")
    for name in frames:
        np.testing.assert_allclose(two[name], one[name], atol=1e-5, rtol=0)


def test_a_killed_worker_names_its_rank_and_merges_nothing(world, tmp_path):
    folder, _, bert, frame = world
    save_ranker(parallel.ModelSpec("cross_encoder", str(bert), 0).build(), __import__("transformers").AutoTokenizer.from_pretrained(str(bert)),
                tmp_path / "student")
    job = {"task": "score", "model": str(tmp_path / "student"), "frames": {"train": parallel.write_frame(frame, tmp_path / "train.parquet")},
           "max_len": 48, "batch_size": 8, "precision": "fp32", "fail_rank": 1}
    with pytest.raises(parallel.LaunchError, match=r"rank 1 died first: exit code -9; Signal 9 \(SIGKILL\)"):
        parallel.launch(CPU2, job, tmp_path / "job")
    assert not parallel.shard_file(tmp_path / "job", "train", 1).exists()
    with pytest.raises(parallel.LaunchError, match=r"rank [01]'s shard is missing"):  # rank 0 may be stopped before it writes its own
        parallel.merge_shards(tmp_path / "job", {"train": len(frame)}, 2)


def reference_gradient(spec: parallel.ModelSpec, probe, loss_fn, pad_id: int) -> dict[str, torch.Tensor]:
    """One process: the same initial model on both ranks' first batches concatenated, the loss
    backpropagated and clipped as Trainer clips (max norm 1)."""
    model = spec.build().train()
    batches = [torch.load(probe / f"batch.rank{r}.pt") for r in (0, 1)]
    assert not torch.equal(batches[0]["targets"], batches[1]["targets"]), "each process draws its own batch"
    width = max(b["input_ids"].shape[1] for b in batches)
    inputs = {k: torch.cat([F.pad(b[k], (0, width - b[k].shape[1]), value=pad_id if k == "input_ids" else 0) for b in batches])
              for k in batches[0] if k not in ("targets", "mask")}
    targets, mask = torch.cat([b["targets"] for b in batches]), torch.cat([b["mask"] for b in batches])
    loss_fn(model(**inputs).logits.squeeze(-1).view(targets.shape), targets, mask).backward()
    trainable = [p for p in model.parameters() if p.requires_grad]
    torch.nn.utils.clip_grad_norm_(trainable, 1.0)
    return {n: p.grad for n, p in model.named_parameters() if p.grad is not None}


def check_launched_training(system, spec, probe, loss_fn, tok, save_to, frame):
    averaged = torch.load(probe / "grads.pt")
    reference = reference_gradient(spec, probe, loss_fn, tok.pad_token_id)
    assert averaged.keys() == reference.keys() and averaged
    for name, grad in reference.items():
        torch.testing.assert_close(averaged[name], grad, atol=1e-5, rtol=0, msg=name)
    model, tok = load_ranker(save_to)  # the checkpoint loads and scores as the launch did
    np.testing.assert_allclose(score_candidates(model, tok, frame, 48, 8, "cpu"), system.scores["test"], atol=1e-5, rtol=0)


@pytest.fixture(scope="module")
def trained(world, tmp_path_factory):
    """One launch on two processes, three systems in turn: a teacher fine-tuning (LoRA, gradient
    checkpointing, a dev learning curve every step), a Point-MSE student and a hybrid CLS student,
    the first two probed (`training.FirstStepProbe`)."""
    folder, decoder, bert, frame = world
    out = tmp_path_factory.mktemp("trained")
    teacher = {"spec": parallel.ModelSpec("scorer", str(decoder), seed=3, llm=LORA.model_dump()), "tokenizer_path": decoder,
               "groups_df": frame, "eval_frames": {"dev": frame, "test": frame}, "seed": 3, "qrels": frame,
               "params": TeacherParams(max_len=48, group_size=4, groups_per_step=2, epochs=1, lr=1e-3, loss="listnet", eval_every=1, batch_size=8),
               "save_to": out / "teacher", "scores_to": out / "scores" / "teacher", "probe": out / "probe-teacher"}
    student = {"spec": parallel.ModelSpec("cross_encoder", str(bert), seed=5), "tokenizer_path": bert, "groups_df": frame,
               "params": DistillParams.model_validate({"teacher": "llm", "max_len": 48, "group_size": 4, "groups_per_step": 2, "epochs": 1,
                                                       "lr": 1e-3, "normalise": "none", "batch_size": 8}),
               "eval_frames": {"test": frame}, "seed": 5, "target": "target", "save_to": out / "student",
               "loss": parallel.LossSpec("point_mse"), "steps": 4, "probe": out / "probe-student"}
    hybrid = {**student, "spec": parallel.ModelSpec("cross_encoder", str(bert), seed=6, pooling="cls"), "seed": 6, "probe": None,
              "save_to": out / "hybrid", "loss": parallel.LossSpec("hybrid", {"margin_weight": 0.5})}
    systems = launched_systems(CPU2, [teacher, student, hybrid], out, "systems")
    return out, dict(zip(("teacher", "student", "hybrid"), systems, strict=True)), {"teacher": teacher, "student": student}


def test_teacher_fine_tuning_on_two_processes_averages_one_process_gradient(world, trained):
    frame = world[3]
    out, systems, requests = trained
    system = systems["teacher"]
    assert [h["step"] for h in system.history] == [1, 2]  # 7 groups, 2 per process per step: the curve by rank 0
    assert json.loads((out / "scores" / "teacher" / "learning_curve.json").read_text())["steps"] == 2
    assert not any("lora_" in n for n, _ in load_ranker(out / "teacher")[0].named_parameters())
    check_launched_training(system, requests["teacher"]["spec"], out / "probe-teacher", losses.make_loss("listnet"), system.tokenizer,
                            out / "teacher", frame)


def test_student_distillation_on_two_processes_averages_one_process_gradient(world, trained):
    frame = world[3]
    out, systems, requests = trained
    system = systems["student"]
    assert system.history == [] and json.loads((out / "launch" / "systems" / "student" / "result.json").read_text())["steps"] == 2
    check_launched_training(system, requests["student"]["spec"], out / "probe-student", losses.make_loss("point_mse"), system.tokenizer,
                            out / "student", frame)
    assert type(load_ranker(out / "hybrid")[0]).__name__ == "BertForSequenceClassification"  # the third system, after the other two
    assert np.isfinite(systems["hybrid"].scores["test"]).all()


class _Interrupting:
    """A cell's output that is interrupted (Ctrl-C in the notebook) at the first line it is shown."""

    def write(self, text):
        raise KeyboardInterrupt

    def flush(self):
        pass


def test_an_interrupted_cell_stops_the_launch(tmp_path, monkeypatch):
    import time

    monkeypatch.setattr(parallel, "launch_command", lambda p, job: ["bash", "-c", "echo started; sleep 60"])
    start = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        parallel.launch(CPU2, {"task": "score"}, tmp_path / "job", out=_Interrupting())
    assert time.monotonic() - start < 10  # the launcher's process group got SIGTERM, not a minute's wait


def test_a_failed_rank_is_named_from_its_traceback_file(tmp_path, monkeypatch, capsys):
    summary = ("Root Cause (first observed failure):\n[0]:\n  time      : x\n  host      : localhost\n  rank      : 1 (local_rank: 1)\n"
               "  exitcode  : 1 (pid: 7)\n  error_file: <N/A>\n  traceback : To enable traceback see: https://pytorch.org/docs\n")
    monkeypatch.setattr(parallel, "launch_command", lambda p, job: ["bash", "-c", f"printf '{summary}'; exit 1"])
    (tmp_path / "job" / "errors").mkdir(parents=True)
    with pytest.raises(parallel.LaunchError, match=r"rank 1 died: exit code 1"):
        parallel.launch(CPU2, {"task": "train"}, tmp_path / "job")
    # a worker that raised left its traceback (launch_jobs.main): its last line is the message
    monkeypatch.setattr(parallel, "launch_command", lambda p, job: [
        "bash", "-c", f"echo 'Traceback\nValueError: no such column' > {tmp_path / 'job' / 'errors' / 'rank1.txt'}; printf '{summary}'; exit 1"])
    with pytest.raises(parallel.LaunchError, match=r"rank 1 failed: ValueError: no such column \(traceback: "):
        parallel.launch(CPU2, {"task": "train"}, tmp_path / "job")
    assert "Root Cause" in capsys.readouterr().out  # the launch's output was streamed to the cell


def test_a_frame_store_writes_each_distinct_frame_once(world, tmp_path):
    frame = world[3]
    store = parallel.FrameStore(tmp_path / "frames")
    assert store(frame) == store(frame.copy()) != store(frame.assign(target=0.0)) != store(frame.rename(columns={"gain": "g"}))
    assert len(list((tmp_path / "frames").glob("*.parquet"))) == 3
    pd.testing.assert_frame_equal(pd.read_parquet(store(frame)), frame)
    store.clear()
    assert not (tmp_path / "frames").exists()
