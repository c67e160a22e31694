"""An optimised student: the BERT cross-encoder exported to ONNX (torch.onnx), run by onnxruntime,
optionally with dynamic int8 weight quantisation (onnxruntime.quantization).

A saved ONNX student is a folder like the eager one: `model.onnx`, `config.json`, the tokenizer,
and `onnx.json` (how it was made). Load it with one line:

    from distilrank.onnx_student import OnnxRanker
    ranker = OnnxRanker("outputs/default/students/bert6-hybrid-onnx-int8")

`OnnxRanker` answers `ranker(**batch).logits` like a transformers model, so `distilrank.rankers`'
`score_candidates` / `score_pairs` score with it unchanged.
"""

from __future__ import annotations

import copy
import json
import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import onnxruntime as ort
import torch
from transformers import AutoConfig, AutoTokenizer

from distilrank import student_head
from distilrank.paths import atomic_dir

student_head.register()  # an exported mean-pooled student's config names its model type

INPUTS = ("input_ids", "attention_mask", "token_type_ids")


@contextmanager
def quiet_tools() -> Iterator[None]:
    """The exporter's and the quantiser's known-harmless chatter off (torchvision ops it skips,
    dynamo deprecations, shared dynamic axes, onnxruntime's pre-processing hint); errors still raise."""
    loggers = [logging.getLogger(name) for name in ("", "torch.onnx", "torch.export", "torch._dynamo", "onnxruntime")]
    levels = [lg.level for lg in loggers]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for lg in loggers:
            lg.setLevel(logging.ERROR)
        try:
            yield
        finally:
            for lg, level in zip(loggers, levels, strict=True):
                lg.setLevel(level)


class _Logits(torch.nn.Module):
    """The classifier's logits from named inputs: the exported graph's signature."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor) -> torch.Tensor:
        return self.model(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).logits


def export_onnx(model: torch.nn.Module, tokenizer, path: str | Path, max_len: int) -> Path:
    """Export a BERT cross-encoder (an fp32 CPU copy of `model`: the caller's model is not
    touched) to `path/model.onnx` with dynamic batch and sequence axes, beside its config and
    tokenizer; atomic. Returns `path`."""
    model = copy.deepcopy(model).float().cpu().eval()
    sample = dict(tokenizer(["a query"] * 2, ["a document text", "another document"], padding=True, return_tensors="pt"))
    sample.setdefault("token_type_ids", torch.zeros_like(sample["input_ids"]))  # a tokenizer that does not make segments
    args = tuple(sample[k] for k in INPUTS)
    batch, seq = torch.export.Dim("batch"), torch.export.Dim("sequence")
    with atomic_dir(path) as tmp:
        with quiet_tools():
            torch.onnx.export(_Logits(model).eval(), args, str(tmp / "model.onnx"), input_names=list(INPUTS), output_names=["logits"],
                              dynamic_shapes={k: {0: batch, 1: seq} for k in INPUTS}, dynamo=True, external_data=False,
                              verbose=False)
        model.config.save_pretrained(str(tmp))
        tokenizer.model_max_length = max_len
        tokenizer.save_pretrained(str(tmp))
        (tmp / "onnx.json").write_text(json.dumps({"source": "torch.onnx.export (dynamo)", "precision": "fp32",
                                                   "max_len": max_len}, indent=1) + "\n")
    return Path(path)


def quantize_int8(src: str | Path, dst: str | Path) -> Path:
    """Dynamic int8 quantisation of an exported student (onnxruntime's `quantize_dynamic`): the
    weights of every MatMul become int8 with one scale per output channel, activations are
    quantised at run time, and the embeddings stay fp32. Per-tensor scales over all ops moved the
    default student's scores up to 0.5 (on a unit scale); per-channel MatMul-only quantisation
    keeps them within ~0.4 and is as fast. Copies config and tokenizer; atomic."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    src, dst = Path(src), Path(dst)
    with atomic_dir(dst) as tmp:
        with quiet_tools():
            quantize_dynamic(str(src / "model.onnx"), str(tmp / "model.onnx"), weight_type=QuantType.QInt8,
                             op_types_to_quantize=["MatMul"], per_channel=True)
        for f in src.iterdir():
            if f.name not in ("model.onnx", "onnx.json") and f.is_file():
                (tmp / f.name).write_bytes(f.read_bytes())
        meta = json.loads((src / "onnx.json").read_text())
        (tmp / "onnx.json").write_text(json.dumps({**meta, "precision": "int8 MatMul weights, per channel (dynamic quantisation)",
                                                   "quantizer": "onnxruntime.quantization.quantize_dynamic"}, indent=1) + "\n")
    return dst


def session(path: str | Path, threads: int | None = None) -> ort.InferenceSession:
    """An onnxruntime CPU session on `path/model.onnx` (optionally limited to `threads`)."""
    opts = ort.SessionOptions()
    if threads:
        opts.intra_op_num_threads = threads
    return ort.InferenceSession(str(Path(path) / "model.onnx"), opts, providers=["CPUExecutionProvider"])


class OnnxRanker:
    """A saved ONNX student that scores like a transformers cross-encoder: `ranker(**batch).logits`."""

    def __init__(self, path: str | Path, threads: int | None = None) -> None:
        path = Path(path)
        if not (path / "model.onnx").is_file():
            raise FileNotFoundError(f"no ONNX student at {path} (expected model.onnx): run notebook 06")
        self.path = path
        self.session = session(path, threads)
        self.config = AutoConfig.from_pretrained(str(path))
        self.tokenizer = AutoTokenizer.from_pretrained(str(path))
        self.input_names = {i.name for i in self.session.get_inputs()}

    def eval(self) -> OnnxRanker:
        return self

    def to(self, device: str) -> OnnxRanker:
        if str(device) != "cpu":
            raise ValueError("OnnxRanker runs on the CPU (onnxruntime's CPUExecutionProvider)")
        return self

    def __call__(self, **batch: torch.Tensor) -> SimpleNamespace:
        feeds = {k: v.cpu().numpy() for k, v in batch.items() if k in self.input_names}
        return SimpleNamespace(logits=torch.from_numpy(self.session.run(None, feeds)[0]))
