"""distilrank: distilling LLM rankers into BERT cross-encoders (DisRanker, arXiv 2411.04539).

Two kinds of module. `distilrank.stages` holds one module per notebook, named after it
(`stages.data_prep` is notebooks/01_data_prep.ipynb, ..., `stages.online_simulation` is 09): that
notebook's loops, tables and figures, imported by that notebook alone. Everything else is a
concept, one module each, which the stages and the notebooks share:

- data and first stages: `data` (collections and their readers), `bm25`, `dense` (the zero-shot
  bi-encoder), `fusion` (scores combined), `artifacts` (notebook 01's tables on disk), `sampling`
  (seeded query subsets);
- models: `backbones` (where models start), `decoders` (the CPT decoder variants on disk and the
  chosen one), `finetune` (how a decoder trains), `rankers` (score functions, cross-encoders, score
  caches), `student_head` (the mean-pooled student), `onnx_student`, `precision`;
- training and distillation: `losses` (every loss; a new one goes there and in
  `config.LOSS_NAMES`), `training` (the group-wise `Trainer` loop, learning curves), `distill`
  (teacher targets, normalisation, transfer frames), `recipes` (a student's recipe), `grid_cells`
  (notebook 07's grid);
- measuring: `metrics` (PNR, NDCG, MRR, intervals, tests), `verdicts` (what a claim may say),
  `clicks` and `interleaving` (simulated users), `timing` (latency of a batch), `estimate` (what a
  profile costs on a GPU), `paper` (the paper's numbers);
- running and reporting: `config` (profiles), `paths` (outputs, atomic writes), `runtime` (seeds,
  device, figures), `notebook` (every notebook's set-up), `progress`, `parallel` and `launch_jobs`
  (training and scoring on N processes through `accelerate launch`), `results` (results.json),
  `formats` (how numbers print), `report` and `pagecheck` (make report).

No concept module imports a stage, and no stage imports another (tests/test_architecture.py).
"""

__version__ = "0.1.0"

import warnings

# Executed notebooks render tqdm as text; its "IProgress not found" hint is noise there.
warnings.filterwarnings("ignore", message="IProgress not found")
