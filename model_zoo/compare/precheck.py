"""Before training: what the ImageNet models already see in each of your classes, and which
classes collapse onto the same ImageNet label (likely confusions). No Keras: it runs on the
Compare classifiers."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np

from model_zoo.compare.inference import Classifier
from model_zoo.datasets import Dataset
from model_zoo.images import load_image
from model_zoo.labels import pretty_label

DEFAULT_PER_CLASS = 4


@dataclass(frozen=True)
class ClassView:
    """One class through the ImageNet models.

    Attributes:
        name: The class (its folder).
        top: ImageNet labels with their share of the top-1 votes (images × models), best first.
    """

    name: str
    top: tuple[tuple[str, float], ...]

    @property
    def label(self) -> str:
        """The ImageNet label most votes went to."""
        return self.top[0][0] if self.top else ""


@dataclass(frozen=True)
class Precheck:
    """What the ImageNet models see in a dataset.

    Attributes:
        classes: One view per class, in the dataset's order.
        collisions: Pairs of classes whose most-voted ImageNet label is the same, with it.
        images_per_class: Images looked at per class (the first ones of each folder).
        models: The registry names that voted.
    """

    classes: tuple[ClassView, ...]
    collisions: tuple[tuple[str, str, str], ...]
    images_per_class: int
    models: tuple[str, ...]


def imagenet_precheck(
    dataset: Dataset,
    classifiers: Sequence[Classifier],
    per_class: int = DEFAULT_PER_CLASS,
    top: int = 3,
) -> Precheck:
    """Each classifier's top-1 ImageNet label on the first ``per_class`` images of each class.

    Raises:
        ValueError: no classifiers, or ``per_class`` < 1.
    """
    if not classifiers:
        raise ValueError("The ImageNet check needs at least one loaded model.")
    if per_class < 1:
        raise ValueError(f"Images per class must be at least 1, got {per_class}.")
    images = [[load_image(p.read_bytes()) for p in files[:per_class]] for files in dataset.files]
    views = []
    for name, photos in zip(dataset.classes, images, strict=True):
        votes: Counter[str] = Counter()
        for classifier in classifiers:
            for prediction in classifier.classify(photos, top=1):
                votes[pretty_label(int(np.argmax(prediction.probabilities)))] += 1
        total = max(1, sum(votes.values()))
        views.append(ClassView(name, tuple((k, v / total) for k, v in votes.most_common(top))))
    collisions = tuple(
        (a.name, b.name, a.label)
        for a, b in combinations(views, 2)
        if a.label and a.label == b.label
    )
    return Precheck(
        tuple(views),
        collisions,
        min(per_class, max((len(f) for f in dataset.files), default=0)),
        tuple(c.name for c in classifiers),
    )
