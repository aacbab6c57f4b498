"""Table-driven checks over the registry with random weights: shapes, preprocessing inside
the compiled call, facts against the built models, thread safety and agreement."""

import numpy as np
import pytest

from model_zoo.compare.inference import Prediction, agreement, compare
from model_zoo.images import load_image
from model_zoo.labels import top_k
from model_zoo.registry import MODELS
from tests.conftest import assert_parallel_matches_serial

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("name", list(MODELS))
def test_output_is_a_probability_vector_per_image(classifiers, name, rng):
    spec = MODELS[name]
    pixels = rng.uniform(0, 255, (2, *spec.input_shape)).astype(np.float32)
    probs = classifiers[name].probabilities(pixels)
    assert probs.shape == (2, 1000)
    assert np.all(probs >= 0)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-4)


@pytest.mark.parametrize("name", list(MODELS))
def test_compiled_call_preprocesses_like_keras(classifiers, name, rng):
    classifier = classifiers[name]
    spec = classifier.spec
    pixels = rng.uniform(0, 255, (1, *spec.input_shape)).astype(np.float32)
    ours = classifier.probabilities(pixels)
    keras_way = classifier.keras_model().predict(spec.preprocess_input(pixels.copy()), verbose=0)
    np.testing.assert_allclose(ours, keras_way, rtol=1e-3, atol=1e-6)
    raw = classifier.keras_model().predict(pixels, verbose=0)  # without preprocessing: different
    assert not np.allclose(ours, raw, rtol=1e-3, atol=1e-6)


@pytest.mark.parametrize("name", list(MODELS))
def test_registry_facts_match_the_built_model(classifiers, name):
    spec = MODELS[name]
    model = classifiers[name].keras_model()
    assert model.count_params() / 1e6 == pytest.approx(spec.params_m, abs=0.06)
    assert tuple(model.input_shape[1:]) == spec.input_shape
    assert model.get_layer(spec.gradcam_layer) is not None  # the Grad-CAM layer exists


@pytest.mark.parametrize("name", list(MODELS))
def test_classify_returns_sorted_top_k_of_a_real_photo(classifiers, name, cat_bytes):
    photo = load_image(cat_bytes)
    [pred] = classifiers[name].classify([photo], top=5)
    assert pred.model == name and len(pred.top) == 5
    scores = [c.score for c in pred.top]
    assert scores == sorted(scores, reverse=True)
    assert pred.top[0].index == int(np.argmax(pred.probabilities))
    assert pred.ms > 0
    [cropped] = classifiers[name].classify([photo], top=5, resize_mode="crop")
    assert not np.array_equal(cropped.probabilities, pred.probabilities)  # another input


def test_batch_of_images_gives_one_prediction_each(classifiers, cat_bytes):
    photo = load_image(cat_bytes)
    results = compare(
        [classifiers["resnet50"], classifiers["xception"]], [photo, photo[:, ::-1].copy()], top=3
    )
    assert len(results) == 2
    assert [p.model for p in results[0].predictions] == ["resnet50", "xception"]
    assert all(len(p.top) == 3 for r in results for p in r.predictions)


def test_shared_model_is_thread_safe(classifiers, rng):
    assert_parallel_matches_serial(classifiers["resnet50"], rng)


def _prediction(model: str, probs: np.ndarray) -> Prediction:
    return Prediction(model, tuple(top_k(probs, 5)), probs, 1.0)


def _peaked(index: int, height: float = 0.5) -> np.ndarray:
    probs = np.full(1000, (1 - height) / 999)
    probs[index] = height
    return probs


def test_agreement_unanimous_and_ensemble():
    preds = [_prediction(m, _peaked(281, h)) for m, h in (("a", 0.9), ("b", 0.5), ("c", 0.3))]
    result = agreement(preds)
    assert result.unanimous
    assert result.consensus[0].label == "tabby" and result.consensus[1] == 3
    assert result.ensemble[0].index == 281
    assert result.ensemble[0].score == pytest.approx((0.9 + 0.5 + 0.3) / 3)
    assert [c.index for c in result.first_choices.values()] == [281, 281, 281]


def test_agreement_split_vote_takes_the_majority():
    preds = [
        _prediction("a", _peaked(281)),
        _prediction("b", _peaked(162)),
        _prediction("c", _peaked(162, 0.4)),
    ]
    result = agreement(preds)
    assert not result.unanimous
    assert result.consensus[0].label == "beagle" and result.consensus[1] == 2
    assert [c.index for c in result.ensemble[:2]] == [162, 281]
