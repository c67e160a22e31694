"""What DisRanker (arXiv 2411.04539) reports, in one place: the figures the notebooks and the
front page set this run's measurements against. Its numbers come from another collection, other
models and other hardware: only directions and ratios compare."""

from __future__ import annotations

# Sec. 4.4: median latency per batch of 48 pairs on an A10, LLM : BERT-12 : BERT-6 = 10 : 2 : 1.
# Its LLM is its 7B teacher (notebook 06 times a random-weight model of that class as `llm`).
LATENCY_BATCH = 48
LATENCY_A10_MS = {"llm": 100.0, "bert-12": 20.0, "bert-6": 10.0}
SHAPE_MODELS = tuple(LATENCY_A10_MS)  # notebook 06 builds these from configs with random weights: shape only

# Sec. 4.5: the online A/B test against production, real users (relative changes).
ONLINE_CHANGE = {"page_ctr": 0.0047, "user_ctr": 0.0058, "dwell_s": 0.012}


def latency_ratio(system: str) -> float:
    """The paper's latency of `system` (a `SHAPE_MODELS` name) over BERT-6's: 10, 2 or 1."""
    return LATENCY_A10_MS[system] / LATENCY_A10_MS["bert-6"]

# Sec. 4.5: the side-by-side human judgment of 200 queries, new ranker against production.
SIDE_BY_SIDE = {"good": 54, "same": 116, "bad": 30}
