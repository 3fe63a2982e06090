"""The figures a model is judged by (core/ml/metrics.py), on cases small enough to compute by hand."""
import math

import pytest

from core.ml.metrics import binary_report, expected_calibration_error, reliability_table, roc_auc


def test_ece_of_one_prediction_per_bin_is_the_mean_gap():
    # 0.1 -> bin 1 (gap 0.1), 0.9 -> bin 9 (0.1), 0.8 -> bin 8 (0.2), 0.3 -> bin 3 (0.3): (0.1+0.1+0.2+0.3) / 4
    assert expected_calibration_error([0, 1, 1, 0], [0.1, 0.9, 0.8, 0.3]) == pytest.approx(0.175)


def test_ece_weighs_bins_by_their_size_and_is_zero_when_rates_match():
    assert expected_calibration_error([1, 0, 0, 0], [0.25, 0.25, 0.25, 0.25]) == pytest.approx(0.0)
    # bin 2: three at 0.2, one positive (gap |1/3 - 0.2|); bin 7: one at 0.7, positive (gap 0.3)
    expected = (3 * abs(1 / 3 - 0.2) + 1 * 0.3) / 4
    assert expected_calibration_error([1, 0, 0, 1], [0.2, 0.2, 0.2, 0.7]) == pytest.approx(expected)


def test_a_certain_prediction_falls_in_the_last_bin_and_the_table_shows_each_non_empty_bin():
    table = reliability_table([1, 1, 0], [1.0, 0.95, 0.05])
    assert [(row["lower"], row["upper"], row["count"]) for row in table] == [(0.0, 0.1, 1), (0.9, 1.0, 2)]
    assert table[1]["mean_predicted"] == pytest.approx(0.975) and table[1]["observed"] == 1.0
    assert expected_calibration_error([1, 1, 0], [1.0, 0.95, 0.05]) == pytest.approx((2 * 0.025 + 0.05) / 3)


def test_auc_counts_the_pairs_ranked_right():
    # positives 0.35 and 0.8 against negatives 0.1 and 0.4: 0.35 > 0.1, 0.35 < 0.4, 0.8 > both: 3 of 4 pairs
    assert roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == pytest.approx(0.75)
    assert roc_auc([0, 1], [0.5, 0.5]) == pytest.approx(0.5)  # a tie counts half
    assert roc_auc([1, 1, 1], [0.2, 0.3, 0.4]) is None  # one class: not defined


def test_the_report_holds_every_figure():
    report = binary_report([1, 0], [0.8, 0.4])
    assert report["brier"] == pytest.approx((0.2**2 + 0.4**2) / 2)
    assert report["log_loss"] == pytest.approx(-(math.log(0.8) + math.log(0.6)) / 2)
    assert (report["n"], report["positives"], report["base_rate"], report["auc"]) == (2, 1, 0.5, 1.0)
    assert report["mean_predicted"] == pytest.approx(0.6)


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="labels but"):
        expected_calibration_error([0, 1], [0.5])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        expected_calibration_error([0, 1], [0.5, 1.2])
