import math

import pytest
import torch

from distilrank.losses import (
    HybridMSE,
    ListNet,
    MarginMSE,
    PointMSE,
    RankNet,
    group_pairs,
    make_loss,
    ordered_pairs,
)


def test_ordered_pairs_come_from_targets_and_respect_the_mask():
    targets = torch.tensor([[2.0, 0.0, 1.0, 5.0]])
    mask = torch.tensor([[True, True, True, False]])
    q, i, j = ordered_pairs(targets, mask)
    assert sorted(zip(i.tolist(), j.tolist(), strict=True)) == [(0, 1), (0, 2), (2, 1)]
    assert q.tolist() == [0, 0, 0]


def test_ranknet_by_hand():
    scores = torch.tensor([[1.0, 0.0, 2.0]])
    gains = torch.tensor([[2.0, 0.0, 0.0]])
    # pairs (0,1): margin 1, (0,2): margin -1 -> mean(log(1+e^-1), log(1+e^1))
    expected = (math.log1p(math.exp(-1)) + math.log1p(math.exp(1))) / 2
    assert RankNet()(scores, gains).item() == pytest.approx(expected)


def test_ranknet_ignores_padding_and_handles_no_pairs():
    scores = torch.tensor([[1.0, 0.0, 100.0]], requires_grad=True)
    gains = torch.tensor([[1.0, 0.0, 9.0]])
    mask = torch.tensor([[True, True, False]])
    assert RankNet()(scores, gains, mask).item() == pytest.approx(math.log1p(math.exp(-1)))
    flat = RankNet()(scores, torch.ones(1, 3))
    assert flat.item() == 0.0
    flat.backward()  # still differentiable


def test_listnet_by_hand_and_with_padding():
    scores = torch.tensor([[0.0, 0.0]])
    targets = torch.tensor([[1.0, 0.0]])
    p = torch.softmax(targets, 1)
    assert ListNet()(scores, targets).item() == pytest.approx(-(p * math.log(0.5)).sum().item())
    padded = ListNet()(torch.tensor([[0.0, 0.0, 7.0]]), torch.tensor([[1.0, 0.0, 3.0]]), torch.tensor([[True, True, False]]))
    assert padded.item() == pytest.approx(ListNet()(scores, targets).item())


def test_make_loss():
    assert isinstance(make_loss("ranknet"), RankNet)
    with pytest.raises(ValueError, match="unknown loss"):
        make_loss("hinge")


def test_point_mse_by_hand_and_ignores_padding():
    scores = torch.tensor([[1.0, 2.0, 50.0]])
    teacher = torch.tensor([[0.0, 4.0, -9.0]])
    mask = torch.tensor([[True, True, False]])
    assert PointMSE()(scores, teacher, mask).item() == pytest.approx((1 + 4) / 2)
    assert PointMSE()(scores[:, :2], teacher[:, :2]).item() == pytest.approx(2.5)


def test_group_pairs_are_each_unordered_pair_once():
    q, i, j = group_pairs(torch.tensor([[True, True, True], [True, True, False]]))
    assert list(zip(q.tolist(), i.tolist(), j.tolist(), strict=True)) == [(0, 0, 1), (0, 0, 2), (0, 1, 2), (1, 0, 1)]


def test_margin_mse_by_hand():
    scores = torch.tensor([[3.0, 1.0, 0.0]])
    teacher = torch.tensor([[1.0, 0.0, 0.0]])
    # margins (0,1): 2 vs 1, (0,2): 3 vs 1, (1,2): 1 vs 0 -> squared errors 1, 4, 1
    assert MarginMSE()(scores, teacher).item() == pytest.approx(2.0)
    # a constant offset changes no margin: zero loss; Point-MSE sees the offset
    assert MarginMSE()(teacher + 7.0, teacher).item() == 0.0
    assert PointMSE()(teacher + 7.0, teacher).item() == pytest.approx(49.0)


def test_margin_mse_padding_and_single_document_groups():
    scores = torch.tensor([[3.0, 1.0, 99.0], [5.0, 0.0, 0.0]], requires_grad=True)
    teacher = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    mask = torch.tensor([[True, True, False], [True, False, False]])
    assert MarginMSE()(scores, teacher, mask).item() == pytest.approx(1.0)  # only (0,1) of query 0
    lonely = MarginMSE()(scores, teacher, torch.tensor([[True, False, False], [True, False, False]]))
    assert lonely.item() == 0.0
    lonely.backward()


def test_hybrid_is_the_weighted_sum():
    scores = torch.tensor([[3.0, 1.0, 0.0], [0.5, -1.0, 2.0]])
    teacher = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    point, margin = PointMSE()(scores, teacher).item(), MarginMSE()(scores, teacher).item()
    assert HybridMSE()(scores, teacher).item() == pytest.approx(point + margin)
    assert make_loss("hybrid", margin_weight=0.25)(scores, teacher).item() == pytest.approx(point + 0.25 * margin)
