"""Ranking and distillation losses over one (queries x documents) score matrix.

Every loss takes `scores` of shape (Q, K) (the model's scores for K candidates of each of Q
queries), a same-shaped `targets` matrix (gains, or teacher scores) and an optional boolean `mask`
(False = padding), and returns a scalar. The training loop calls `loss(scores, targets, mask)`
and never changes when a loss is added (the pattern of lightning-ir's `loss/` package and
sentence-transformers' cross-encoder losses).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def _mask(scores: Tensor, mask: Tensor | None) -> Tensor:
    return torch.ones_like(scores, dtype=torch.bool) if mask is None else mask.bool()


def ordered_pairs(targets: Tensor, mask: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
    """All (query, better doc, worse doc) index triples with targets[q, i] > targets[q, j]."""
    valid = _mask(targets, mask)
    better = (targets.unsqueeze(2) > targets.unsqueeze(1)) & valid.unsqueeze(2) & valid.unsqueeze(1)
    return better.nonzero(as_tuple=True)


class PairwiseLoss(torch.nn.Module):
    """Base for losses over ordered pairs of one query's documents; pairs come from `targets`."""

    def pair_loss(self, margin: Tensor, pair_targets: tuple[Tensor, Tensor]) -> Tensor:
        raise NotImplementedError

    def forward(self, scores: Tensor, targets: Tensor, mask: Tensor | None = None) -> Tensor:
        q, i, j = ordered_pairs(targets, mask)
        if q.numel() == 0:  # no ordered pair: nothing to learn, but keep the graph
            return scores.sum() * 0.0
        return self.pair_loss(scores[q, i] - scores[q, j], (targets[q, i], targets[q, j]))


class RankNet(PairwiseLoss):
    """RankNet (Burges et al., ICML 2005): logistic loss on the score margin of each ordered pair.

    The pairwise ranking loss DisRanker uses to fine-tune the LLM teacher (Sec. 3.2):
    `mean(log(1 + exp(-(s_i - s_j))))` over pairs with target_i > target_j.
    """

    def pair_loss(self, margin: Tensor, pair_targets: tuple[Tensor, Tensor]) -> Tensor:
        return F.softplus(-margin).mean()


class ListNet(torch.nn.Module):
    """ListNet (Cao et al., ICML 2007): cross-entropy between softmax(targets / t) and softmax(scores).

    A listwise alternative for the teacher (and, with teacher scores as targets, the listwise
    distillation Rank-DistiLLM recommends). Padding gets -inf on both sides.
    """

    def __init__(self, temperature: float = 1.0) -> None:
        super().__init__()
        self.temperature = temperature

    def forward(self, scores: Tensor, targets: Tensor, mask: Tensor | None = None) -> Tensor:
        valid = _mask(scores, mask)
        neg = torch.finfo(scores.dtype).min
        target_dist = torch.softmax(targets.masked_fill(~valid, neg) / self.temperature, dim=1)
        log_probs = torch.log_softmax(scores.masked_fill(~valid, neg), dim=1)
        return -(target_dist * log_probs).masked_fill(~valid, 0.0).sum(dim=1).mean()


class PointMSE(torch.nn.Module):
    """Point-MSE (DisRanker Sec. 3.3): mean squared error between the student's and the teacher's
    score of each (query, document); padding is left out.

    sentence-transformers' `CrossEncoder` `MSELoss` computes the same quantity but takes the model and
    texts, not a score matrix; here the value is one line of torch, so the loop stays loss-agnostic.
    """

    def forward(self, scores: Tensor, targets: Tensor, mask: Tensor | None = None) -> Tensor:
        valid = _mask(scores, mask)
        return F.mse_loss(scores[valid], targets[valid])


def group_pairs(mask: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """All (query, i, j) index triples with i < j, both real documents of the same query."""
    valid = mask.bool()
    upper = torch.ones(valid.shape[1], valid.shape[1], dtype=torch.bool, device=valid.device).triu(1)
    return (upper.unsqueeze(0) & valid.unsqueeze(2) & valid.unsqueeze(1)).nonzero(as_tuple=True)


class MarginMSE(torch.nn.Module):
    """Margin-MSE (Hofstaetter et al., 2020): mean squared error between the student's margin
    `s_i - s_j` and the teacher's `t_i - t_j`, over **every pair** of documents of a query's group.

    sentence-transformers' `MarginMSELoss` takes only (positive, negative_k) margins of a text
    tuple; a group's score matrix gives all K(K-1)/2 pairs from the same K forward passes. Only the
    differences are matched, so the student may sit at any offset from the teacher.
    """

    def forward(self, scores: Tensor, targets: Tensor, mask: Tensor | None = None) -> Tensor:
        q, i, j = group_pairs(_mask(scores, mask))
        if q.numel() == 0:  # groups of one document: no margin to match
            return scores.sum() * 0.0
        return F.mse_loss(scores[q, i] - scores[q, j], targets[q, i] - targets[q, j])


class HybridMSE(torch.nn.Module):
    """DisRanker's hybrid distillation loss: `PointMSE + margin_weight * MarginMSE`.

    The point term ties the student to the teacher's absolute scores; the margin term to the
    teacher's order and spacing within a query. The paper sums the two terms and gives no weight
    that we could find, so the default is 1:1.
    """

    def __init__(self, margin_weight: float = 1.0) -> None:
        super().__init__()
        self.margin_weight = margin_weight
        self.point, self.margin = PointMSE(), MarginMSE()

    def forward(self, scores: Tensor, targets: Tensor, mask: Tensor | None = None) -> Tensor:
        return self.point(scores, targets, mask) + self.margin_weight * self.margin(scores, targets, mask)


class KLDivergence(ListNet):
    """KL(softmax(targets / t) || softmax(scores)): ListNet minus the targets' entropy, so a student
    that matches the teacher's distribution exactly has loss 0 (the listwise distillation loss of
    Rank-DistiLLM and lightning-ir's `KLDivergence`; the same gradients as ListNet)."""

    def forward(self, scores: Tensor, targets: Tensor, mask: Tensor | None = None) -> Tensor:
        valid = _mask(scores, mask)
        log_p = torch.log_softmax(targets.masked_fill(~valid, torch.finfo(targets.dtype).min) / self.temperature, dim=1)
        entropy = -(log_p.exp() * log_p).masked_fill(~valid, 0.0).sum(dim=1).mean()
        return super().forward(scores, targets, mask) - entropy


def target_ranks(targets: Tensor, mask: Tensor | None = None) -> Tensor:
    """1-based rank of each document by `targets` (highest first) among the real documents of its
    query; ties keep column order; padding ranks after every real document."""
    valid = _mask(targets, mask)
    keyed = targets.masked_fill(~valid, float("-inf"))
    order = torch.sort(keyed, dim=1, descending=True, stable=True).indices
    return torch.argsort(order, dim=1).to(targets.dtype) + 1


def approx_ranks(scores: Tensor, mask: Tensor | None = None, temperature: float = 1.0) -> Tensor:
    """A differentiable rank (Qin et al., 2010): `1 + sum_{j != i} sigmoid((s_j - s_i) / t)` over the
    real documents j of the query; exact as t -> 0 (without ties)."""
    valid = _mask(scores, mask)
    beats = torch.sigmoid((scores.unsqueeze(1) - scores.unsqueeze(2)) / temperature)  # [q, i, j] = sigma((s_j - s_i) / t)
    others = valid.unsqueeze(1) & ~torch.eye(scores.shape[1], dtype=torch.bool, device=scores.device)
    return 1 + (beats * others).sum(dim=2)


class ADRMSE(torch.nn.Module):
    """Approximate discounted rank MSE (Rank-DistiLLM, Schlatt et al., 2025; lightning-ir's
    `ApproxRankMSE(discount="log2")`): the squared error between the student's approximate rank
    (`approx_ranks`) and the teacher's rank (`target_ranks`), weighted by `1 / log2(rank + 1)` of the
    teacher's rank, averaged over real documents. It reads only the order of `targets`, so score
    and rank targets give the same loss."""

    def __init__(self, temperature: float = 1.0) -> None:
        super().__init__()
        self.temperature = temperature

    def forward(self, scores: Tensor, targets: Tensor, mask: Tensor | None = None) -> Tensor:
        valid = _mask(scores, mask)
        if not valid.any():  # nothing but padding: nothing to learn, but keep the graph
            return scores.sum() * 0.0
        ranks = target_ranks(targets, valid)
        err = (approx_ranks(scores, valid, self.temperature) - ranks) ** 2 / torch.log2(ranks + 1)
        return err[valid].mean()


class ApproxNDCG(torch.nn.Module):
    """ApproxNDCG (Qin et al., 2010; lightning-ir's `ApproxNDCG`): `1 - DCG / IDCG` with the student's
    approximate ranks in DCG's discount `1 / log2(1 + rank)` and gains `2^max(t, 0) - 1` from the
    targets; IDCG orders the same gains ideally. A query whose gains are all 0 is left out of the mean."""

    def __init__(self, temperature: float = 1.0) -> None:
        super().__init__()
        self.temperature = temperature

    def forward(self, scores: Tensor, targets: Tensor, mask: Tensor | None = None) -> Tensor:
        valid = _mask(scores, mask)
        gains = (2 ** targets.clamp(min=0) - 1).masked_fill(~valid, 0.0)
        dcg = (gains / torch.log2(1 + approx_ranks(scores, valid, self.temperature))).sum(dim=1)
        idcg = (gains / torch.log2(1 + target_ranks(gains, valid))).sum(dim=1)
        has_gain = idcg > 0
        if not has_gain.any():
            return scores.sum() * 0.0
        return (1 - dcg[has_gain] / idcg[has_gain]).mean()


class InfoNCE(torch.nn.Module):
    """InfoNCE / localized contrastive estimation (Gao et al., 2021): cross-entropy of
    softmax(scores / t) with the teacher's top document (highest target; the first on ties) as the
    one positive and the query's other candidates as its negatives. A row of padding only is left
    out."""

    def __init__(self, temperature: float = 1.0) -> None:
        super().__init__()
        self.temperature = temperature

    def forward(self, scores: Tensor, targets: Tensor, mask: Tensor | None = None) -> Tensor:
        valid = _mask(scores, mask)
        rows = valid.any(dim=1)
        if not rows.any():
            return scores.sum() * 0.0
        scores, targets, valid = scores[rows], targets[rows], valid[rows]
        positive = targets.masked_fill(~valid, float("-inf")).argmax(dim=1)
        logits = (scores / self.temperature).masked_fill(~valid, torch.finfo(scores.dtype).min)
        return F.cross_entropy(logits, positive)


LOSSES = {"ranknet": RankNet, "listnet": ListNet, "kl": KLDivergence, "adrmse": ADRMSE, "approxndcg": ApproxNDCG,
          "infonce": InfoNCE, "point_mse": PointMSE, "margin_mse": MarginMSE, "hybrid": HybridMSE}

# losses that read only the order of their targets: score and rank targets train them alike
ORDER_ONLY = frozenset({"ranknet", "adrmse", "infonce"})


def make_loss(name: str, **kwargs: float) -> torch.nn.Module:
    """A loss by name (a key of `LOSSES`), with its arguments."""
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}; choose from {sorted(LOSSES)}")
    return LOSSES[name](**kwargs)
