"""distilrank: distilling LLM rankers into BERT cross-encoders (DisRanker, arXiv 2411.04539).

One module per concept: `config` (profiles), `data` (collections), `bm25` (first stage),
`artifacts` (notebook 01's tables on disk), `metrics` (PNR, NDCG, MRR), `results` (results.json),
`paths` (outputs, atomic writes), `runtime` (seeds, device, figures); one module per notebook
under `stages`.
"""

__version__ = "0.1.0"

import warnings

# Executed notebooks render tqdm as text; its "IProgress not found" hint is noise there.
warnings.filterwarnings("ignore", message="IProgress not found")
