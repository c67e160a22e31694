import math

import pytest
import torch

from distilrank.losses import (
    ADRMSE,
    LOSSES,
    ORDER_ONLY,
    ApproxNDCG,
    HybridMSE,
    InfoNCE,
    KLDivergence,
    ListNet,
    MarginMSE,
    PointMSE,
    RankNet,
    approx_ranks,
    group_pairs,
    make_loss,
    ordered_pairs,
    target_ranks,
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


def sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def test_target_ranks_by_hand_with_ties_and_padding():
    targets = torch.tensor([[0.5, 2.0, 0.5, 9.0]])
    mask = torch.tensor([[True, True, True, False]])
    # 2.0 first; the tie 0.5 / 0.5 in column order; padding after every real document
    assert target_ranks(targets, mask).tolist() == [[2.0, 1.0, 3.0, 4.0]]


def test_approx_ranks_by_hand_and_exact_at_low_temperature():
    scores = torch.tensor([[1.0, 0.0, 5.0]])
    mask = torch.tensor([[True, True, False]])
    # doc 0: 1 + sigma(0 - 1); doc 1: 1 + sigma(1 - 0); the padded doc 2 counts for neither
    got = approx_ranks(scores, mask)[0, :2].tolist()
    assert got == pytest.approx([1 + sigmoid(-1), 1 + sigmoid(1)])
    sharp = approx_ranks(torch.tensor([[3.0, 1.0, 2.0]]), temperature=1e-3)
    assert sharp[0].tolist() == pytest.approx([1.0, 3.0, 2.0])


def test_adrmse_by_hand():
    scores = torch.tensor([[0.0, 1.0]])
    targets = torch.tensor([[5.0, 1.0]])  # teacher: doc 0 first
    r0, r1 = 1 + sigmoid(1), 1 + sigmoid(-1)  # the student's approximate ranks
    expected = ((r0 - 1) ** 2 / math.log2(2) + (r1 - 2) ** 2 / math.log2(3)) / 2
    assert ADRMSE()(scores, targets).item() == pytest.approx(expected)
    # only the teacher's order counts: inverted ranks as targets give the same loss
    assert ADRMSE()(scores, torch.tensor([[2.0, 1.0]])).item() == pytest.approx(expected)


def test_adrmse_ignores_padding_and_falls_with_agreement():
    targets = torch.tensor([[3.0, 2.0, 1.0, 0.0]])
    mask = torch.tensor([[True, True, True, False]])
    agree, disagree = torch.tensor([[9.0, 5.0, 1.0, 100.0]]), torch.tensor([[1.0, 5.0, 9.0, 100.0]])
    assert ADRMSE()(agree, targets, mask).item() < ADRMSE()(disagree, targets, mask).item()
    assert ADRMSE()(agree, targets, mask).item() == pytest.approx(ADRMSE()(agree[:, :3], targets[:, :3]).item())


def test_approx_ndcg_by_hand():
    scores = torch.tensor([[0.0, 1.0]])
    targets = torch.tensor([[1.0, 0.0]])  # gains 2^1 - 1 = 1 and 0
    r0 = 1 + sigmoid(1)  # the relevant document's approximate rank
    assert ApproxNDCG()(scores, targets).item() == pytest.approx(1 - (1 / math.log2(1 + r0)) / 1.0)
    # negative targets count as gain 0; a query without any gain is left out
    both = ApproxNDCG()(torch.tensor([[0.0, 1.0], [3.0, 2.0]]), torch.tensor([[1.0, -2.0], [-1.0, -1.0]]))
    assert both.item() == pytest.approx(1 - 1 / math.log2(1 + r0))


def test_infonce_by_hand_and_with_padding():
    scores = torch.tensor([[2.0, 0.0, 1.0, 50.0]])
    targets = torch.tensor([[0.1, 0.3, 0.2, 9.0]])  # the teacher's top real document is doc 1
    mask = torch.tensor([[True, True, True, False]])
    expected = -math.log(math.exp(0.0) / (math.exp(2.0) + math.exp(0.0) + math.exp(1.0)))
    assert InfoNCE()(scores, targets, mask).item() == pytest.approx(expected)


def test_kl_is_listnet_minus_target_entropy_and_zero_at_the_teacher():
    scores = torch.tensor([[0.0, 0.0]])
    targets = torch.tensor([[1.0, 0.0]])
    p = torch.softmax(targets, 1)
    entropy = -(p * p.log()).sum().item()
    assert KLDivergence()(scores, targets).item() == pytest.approx(ListNet()(scores, targets).item() - entropy)
    assert KLDivergence()(targets.clone(), targets).item() == pytest.approx(0.0, abs=1e-6)
    padded = KLDivergence()(torch.tensor([[0.0, 0.0, 7.0]]), torch.tensor([[1.0, 0.0, 3.0]]), torch.tensor([[True, True, False]]))
    assert padded.item() == pytest.approx(KLDivergence()(scores, targets).item())


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_every_loss_is_differentiable_and_order_only_losses_ignore_the_target_scale(name):
    scores = torch.tensor([[0.3, -0.2, 1.1, 0.0], [0.5, 0.1, -0.4, 2.0]], requires_grad=True)
    targets = torch.tensor([[1.5, -0.5, 0.7, 0.2], [0.9, 2.1, -1.0, 0.0]])
    mask = torch.tensor([[True, True, True, True], [True, True, True, False]])
    loss = make_loss(name)(scores, targets, mask)
    loss.backward()
    assert torch.isfinite(loss) and scores.grad is not None and torch.isfinite(scores.grad).all()
    assert scores.grad[1, 3] == 0  # padding gets no gradient
    ranks = (5 - target_ranks(targets, mask)).masked_fill(~mask, 0.0)  # inverted ranks: the same order
    if name in ORDER_ONLY:
        assert make_loss(name)(scores, ranks, mask).item() == pytest.approx(loss.item())


def test_temperatures_by_hand():
    scores, targets = torch.tensor([[0.0, 1.0]]), torch.tensor([[5.0, 1.0]])
    t = 0.5
    r0, r1 = 1 + sigmoid(1 / t), 1 + sigmoid(-1 / t)
    assert ADRMSE(t)(scores, targets).item() == pytest.approx(((r0 - 1) ** 2 + (r1 - 2) ** 2 / math.log2(3)) / 2)
    # InfoNCE: softmax(scores / t) at the teacher's top document (doc 0)
    assert InfoNCE(t)(scores, targets).item() == pytest.approx(-math.log(1 / (1 + math.exp(1 / t))))
    # KL: softmax(targets / t) against softmax(scores)
    p = torch.softmax(targets / t, 1)
    q = torch.log_softmax(scores, 1)
    assert KLDivergence(t)(scores, targets).item() == pytest.approx((p * (p.log() - q)).sum().item(), rel=1e-5)
    assert ApproxNDCG(t)(scores, torch.tensor([[1.0, 0.0]])).item() == pytest.approx(1 - 1 / math.log2(1 + r0))


@pytest.mark.parametrize("name", ["adrmse", "infonce", "approxndcg", "ranknet", "margin_mse"])
def test_rows_of_padding_only_are_left_out_and_all_padding_is_zero(name):
    scores = torch.tensor([[0.3, -0.2, 1.1], [9.0, 9.0, 9.0]], requires_grad=True)
    targets = torch.tensor([[1.5, -0.5, 0.7], [0.0, 0.0, 0.0]])
    mask = torch.tensor([[True, True, True], [False, False, False]])
    loss = make_loss(name, **({"temperature": 0.3} if name in ("adrmse", "infonce", "approxndcg") else {}))
    assert loss(scores, targets, mask).item() == pytest.approx(loss(scores[:1], targets[:1]).item())
    nothing = loss(scores, targets, torch.zeros_like(mask))
    assert nothing.item() == 0.0
    nothing.backward()
