from distilrank.sampling import pick_queries


def test_pick_queries_is_seeded_and_keeps_order():
    ids = ["q5", "q5", "q1", "q9", "q2"]
    picked = pick_queries(ids, 2, seed=1)
    assert picked == pick_queries(ids, 2, seed=1) and len(picked) == 2
    order = ["q5", "q1", "q9", "q2"]
    assert [order.index(q) for q in picked] == sorted(order.index(q) for q in picked)
