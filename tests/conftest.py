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
