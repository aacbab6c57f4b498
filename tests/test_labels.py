import hashlib
from importlib import resources

import numpy as np
import pytest

from model_zoo.labels import (
    NUM_CLASSES,
    class_index,
    class_score,
    imagenet_classes,
    pretty_label,
    top_k,
)


def test_shipped_index_is_the_standard_file():
    data = resources.files("model_zoo").joinpath("data/imagenet_class_index.json").read_bytes()
    assert hashlib.md5(data).hexdigest() == "c2c37ea517e94d9795004a39431a14cb"
    assert len(imagenet_classes()) == NUM_CLASSES


@pytest.mark.parametrize(
    ("index", "class_id", "label"),
    [(281, "n02123045", "tabby"), (162, "n02088364", "beagle"), (0, "n01440764", "tench")],
)
def test_decoding(index, class_id, label):
    probs = np.full(NUM_CLASSES, 1e-4)
    probs[index] = 0.9
    best = top_k(probs, 1)[0]
    assert (best.index, best.class_id, best.label) == (index, class_id, label)
    assert best.score == pytest.approx(0.9)


def test_top_k_is_sorted_and_complete(rng):
    probs = rng.dirichlet(np.ones(NUM_CLASSES))
    top = top_k(probs, 5)
    scores = [c.score for c in top]
    assert scores == sorted(scores, reverse=True)
    assert [c.index for c in top] == list(np.argsort(-probs)[:5])
    assert sum(c.score for c in top_k(probs, NUM_CLASSES)) == pytest.approx(1.0)


def test_top_k_ties_keep_index_order():
    assert [c.index for c in top_k(np.full(NUM_CLASSES, 0.001), 3)] == [0, 1, 2]


@pytest.mark.parametrize("bad", [np.zeros(10), np.zeros((2, 1000))])
def test_top_k_refuses_wrong_length(bad):
    with pytest.raises(ValueError, match="Expected 1000 probabilities"):
        top_k(bad)


@pytest.mark.parametrize(
    ("query", "index"),
    [
        ("tabby", 281),
        ("Tabby", 281),
        ("n02123045", 281),
        ("281", 281),
        (162, 162),
        ("golden retriever", 207),
    ],
)
def test_class_index(query, index):
    assert class_index(query) == index


@pytest.mark.parametrize("query", ["unicorn", "1000", "-1"])
def test_class_index_refuses(query):
    with pytest.raises(ValueError):
        class_index(query)


def test_class_score_and_pretty_label():
    probs = np.full(NUM_CLASSES, 0.5 / 999)
    probs[207] = 0.5
    score = class_score(probs, 207)
    assert (score.label, score.class_id, score.index) == ("golden_retriever", "n02099601", 207)
    assert score.score == pytest.approx(0.5)
    assert pretty_label(207) == "golden retriever"
