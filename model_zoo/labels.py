"""ImageNet class names, shipped with the package so decoding never needs the network."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np

NUM_CLASSES = 1000


@dataclass(frozen=True)
class ClassScore:
    """One class of a top-k list.

    Attributes:
        label: Human-readable name, e.g. ``"tabby"``.
        class_id: WordNet id, e.g. ``"n02123045"``.
        index: Position in the 1000-way output.
        score: Probability in [0, 1].
    """

    label: str
    class_id: str
    index: int
    score: float

    @property
    def pretty(self) -> str:
        """Label with underscores as spaces, as people read it."""
        return self.label.replace("_", " ")

    def to_dict(self) -> dict[str, object]:
        return {
            "label": self.label,
            "class_id": self.class_id,
            "index": self.index,
            "score": self.score,
        }


@cache
def imagenet_classes() -> tuple[tuple[str, str], ...]:
    """The 1000 ``(class_id, label)`` pairs of Keras' ``imagenet_class_index.json``."""
    text = resources.files("model_zoo").joinpath("data/imagenet_class_index.json").read_text()
    index = json.loads(text)
    return tuple((index[str(i)][0], index[str(i)][1]) for i in range(NUM_CLASSES))


def class_index(query: str | int) -> int:
    """Finds a class by index, label (``"tabby"``, ``"tabby cat"``) or WordNet id.

    Raises:
        ValueError: nothing matches.
    """
    classes = imagenet_classes()
    text = str(query).strip()
    if text.isdigit():
        i = int(text)
        if 0 <= i < NUM_CLASSES:
            return i
        raise ValueError(f"Class index {i} is out of range 0..{NUM_CLASSES - 1}.")
    wanted = text.lower().replace(" ", "_")
    for i, (class_id, label) in enumerate(classes):
        if wanted in (class_id.lower(), label.lower()):
            return i
    raise ValueError(
        f"Unknown ImageNet class {query!r}. Give a label such as 'tabby' or an index 0..999."
    )


def top_k(probabilities: np.ndarray, k: int = 5) -> list[ClassScore]:
    """Decodes one probability vector into its ``k`` best classes, best first.

    Raises:
        ValueError: ``probabilities`` is not a vector of 1000 or ``k`` is out of range.
    """
    probs = np.asarray(probabilities, dtype=np.float64).reshape(-1)
    if probs.shape[0] != NUM_CLASSES:
        raise ValueError(f"Expected {NUM_CLASSES} probabilities, got {probs.shape[0]}.")
    if not 1 <= k <= NUM_CLASSES:
        raise ValueError(f"top must be between 1 and {NUM_CLASSES}, got {k}.")
    # Stable sort on the negated scores keeps ties in index order, so results are reproducible.
    return [class_score(probs, int(i)) for i in np.argsort(-probs, kind="stable")[:k]]


def class_score(probabilities: np.ndarray, index: int) -> ClassScore:
    """The ImageNet class ``index`` with its score in ``probabilities``."""
    class_id, label = imagenet_classes()[index]
    return ClassScore(
        label=label,
        class_id=class_id,
        index=index,
        score=float(np.asarray(probabilities).reshape(-1)[index]),
    )


def pretty_label(index: int) -> str:
    """An ImageNet label as people read it ("golden retriever")."""
    return imagenet_classes()[index][1].replace("_", " ")
