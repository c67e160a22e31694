"""How numbers print: the notebooks' table cells and the front page's."""

import numpy as np

from distilrank import formats


def test_is_p_column_reads_the_word_p():
    for label in ("p", "p (BH)", "p (BH-adjusted)", "p vs bm25 (ndcg@5)", "sign test p", "p-value", ("ndcg@5", "p")):
        assert formats.is_p_column(label), label
    for label in ("pnr", "p90 ms", "pairs/s", "Δ pnr", "speed-up", "queries preferring b", 3, ("p", "ndcg@5")):
        assert not formats.is_p_column(label), label


def test_format_p_never_prints_zero():
    assert [formats.format_p(x) for x in (0.0382, 0.001, 9.4e-14, 1.8e-13, 1.0, 0.0, None, float("nan"))] == \
        ["0.038", "0.001", "9.4e-14", "1.8e-13", "1.000", "<1e-300", "", ""]


def test_format_number_cells():
    cases = [(75, "75"), (np.int64(22713601), "22713601"), (0.95211, "0.952"), (570.23071, "570.231"), (11373.57, "11374"),
             (0.000412, "4.12e-04"), (-0.1058, "-0.106"), (0.0, "0.000"), (float("inf"), "inf"), (None, ""), (float("nan"), ""),
             (True, "yes"), (np.bool_(False), "no"), ("0.513 [0.455, 0.568]", "0.513 [0.455, 0.568]"), (np.float32(0.5), "0.500")]
    assert [formats.format_number(x) for x, _ in cases] == [want for _, want in cases]
    assert formats.format_number(75.0, integral=True) == "75"


def test_the_front_pages_rule_for_every_number():
    assert [formats.fmt_metric(x) for x in (0.51349, 3.3461, None, float("inf"))] == ["0.513", "3.346", "", "inf"]
    assert formats.fmt_delta(0.0686) == "+0.069" and formats.fmt_delta(-0.0004) == "-0.000"
    assert formats.fmt_interval(0.5, 0.45, 0.55) == "0.500 [0.450, 0.550]" and formats.fmt_interval(0.4, None, None) == "0.400"
    assert [formats.format_p(p) for p in (0.0381, 0.001, 9.427e-14, 1.8e-13, 0.0, None)] == ["0.038", "0.001", "9.4e-14", "1.8e-13", "<1e-300", ""]
    # integers as integers, 100 and more without decimals, smaller numbers three significant digits, never an exponent for these
    assert [formats.fmt_number(x) for x in (75.0, 75, 22713601.0, 570.23071, 11373.6, 6.5849, 0.22449, 0.0754, 2.0625)] == [
        "75", "75", "22,713,601", "570", "11,374", "6.58", "0.224", "0.0754", "2.06"]
    # below 0.01, three significant digits would print five decimals or more (check-report's limit is four)
    assert [formats.fmt_number(x) for x in (0.00346, -0.0012, 0.01)] == ["3.46e-03", "-1.20e-03", "0.01"]
    assert formats.fmt_pct(0.1042) == "+10.4%" and formats.fmt_pct(-0.0004) == "0.0%"


def test_a_number_above_one_in_a_p_column_prints_as_the_number_it_is():
    assert [formats.format_p(x) for x in (1369, 0.5, 1.0)] == ["1369", "0.500", "1.000"]

