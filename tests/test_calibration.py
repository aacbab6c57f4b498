"""Intervals, calibration and abstention against known values (pure NumPy, fast tier)."""

import numpy as np
import pytest

from model_zoo.finetune.calibration import (
    abstention_curve,
    fit_temperature,
    nll,
    reliability,
    softmax,
    wilson_interval,
)


@pytest.mark.parametrize(
    ("correct", "total", "low", "high"),
    [
        # Published values (Newcombe 1998, table I; Brown, Cai & DasGupta 2001).
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0, 0.1611),
        (1, 29, 0.0061, 0.1718),
        (10, 10, 0.7225, 1.0),
    ],
)
def test_wilson_interval_matches_published_values(correct, total, low, high):
    got = wilson_interval(correct, total)
    assert got == pytest.approx((low, high), abs=1e-4)


def test_wilson_interval_refuses_nonsense():
    with pytest.raises(ValueError, match="at least one trial"):
        wilson_interval(0, 0)
    with pytest.raises(ValueError, match=r"within 0\.\.5"):
        wilson_interval(6, 5)


def test_temperature_scaling_lowers_nll_of_an_overconfident_model():
    rng = np.random.default_rng(0)
    true_logits = rng.normal(0, 1.5, (4000, 4))
    # labels drawn from softmax(true_logits): those logits are calibrated at temperature 1
    cumulative = softmax(true_logits).cumsum(axis=1)
    labels = (rng.uniform(size=(4000, 1)) > cumulative).sum(axis=1)
    overconfident = true_logits * 4.0  # the same ranking, far too sure
    temperature = fit_temperature(overconfident, labels)
    assert temperature == pytest.approx(4.0, rel=0.15)
    assert nll(overconfident, labels, temperature) < nll(overconfident, labels) - 0.5
    # ranking (and so accuracy) is untouched
    assert np.array_equal(
        softmax(overconfident, temperature).argmax(1), softmax(overconfident).argmax(1)
    )


def test_reliability_and_ece_on_a_hand_made_case():
    # two samples at 0.9 confidence (one right), two at 0.6 (both right)
    probabilities = np.array([[0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.4, 0.6]])
    labels = np.array([0, 1, 0, 1])
    diagram = reliability(probabilities, labels, bins=10)
    assert diagram.counts.sum() == 4 and diagram.counts[8] == 2 and diagram.counts[5] == 2
    assert diagram.accuracy[8] == pytest.approx(0.5) and diagram.accuracy[5] == pytest.approx(1.0)
    assert diagram.ece == pytest.approx((2 * 0.4 + 2 * 0.4) / 4)


def test_abstention_trades_coverage_for_accuracy():
    probabilities = np.array([[0.95, 0.05], [0.55, 0.45], [0.7, 0.3], [0.52, 0.48]])
    labels = np.array([0, 1, 0, 1])  # the two unsure ones are wrong
    curve = abstention_curve(probabilities, labels)
    assert curve.at(0.0) == pytest.approx((1.0, 0.5))
    assert curve.at(0.6) == pytest.approx((0.5, 1.0))
    coverage, accuracy = curve.at(0.99)
    assert coverage == 0.0 and np.isnan(accuracy)


def test_calibrating_a_single_vector_keeps_its_shape_and_top_class():
    from model_zoo.finetune.evaluation import calibrate

    probs = np.array([0.7, 0.2, 0.1])
    hotter = calibrate(probs, 2.0)
    assert hotter.shape == (3,) and hotter.sum() == pytest.approx(1.0)
    assert hotter.argmax() == 0 and hotter[0] < 0.7  # T > 1 softens
    np.testing.assert_allclose(calibrate(probs[None], 2.0)[0], hotter)
    np.testing.assert_allclose(calibrate(probs, 1.0), probs)
