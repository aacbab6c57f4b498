"""Shared fixtures. Every test runs with random weights: no download, no network."""

from __future__ import annotations

import io
import os

os.environ["MODEL_ZOO_WEIGHTS"] = "random"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest
from PIL import Image

from model_zoo.examples import get_example
from model_zoo.registry import MODELS


def encode(image: Image.Image, fmt: str = "PNG", **params: object) -> bytes:
    """The bytes of ``image`` saved in ``fmt``."""
    buf = io.BytesIO()
    image.save(buf, format=fmt, **params)
    return buf.getvalue()


@pytest.fixture(scope="session")
def cat_bytes() -> bytes:
    return get_example("cat").read_bytes()


@pytest.fixture(scope="session")
def classifiers():
    """The five registry models with random weights, loaded once for the whole run."""
    from model_zoo.inference import load_classifier

    return {name: load_classifier(name, "random") for name in MODELS}


@pytest.fixture(scope="session")
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


def colour_class_zip(per_class: int = 8, side: int = 40, classes: int = 3) -> bytes:
    """A learnable zip: each class a different colour with noise, as JPEG files."""
    import zipfile

    rng = np.random.default_rng(0)
    colours = [(200, 40, 40), (40, 200, 40), (40, 40, 200), (200, 200, 40)][:classes]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for c, colour in enumerate(colours):
            for i in range(per_class):
                pixels = np.clip(rng.normal(colour, 40, (side, side, 3)), 0, 255)
                zf.writestr(
                    f"class_{'abc'[c]}/{i}.jpg",
                    encode(Image.fromarray(pixels.astype(np.uint8)), "JPEG"),
                )
    return buf.getvalue()


@pytest.fixture(scope="session")
def colour_dataset(tmp_path_factory):
    from model_zoo.datasets import extract_dataset

    return extract_dataset(colour_class_zip(), tmp_path_factory.mktemp("colour_job"))
