import math

import pytest
import torch

from distilrank.losses import ListNet, RankNet, make_loss, ordered_pairs


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
