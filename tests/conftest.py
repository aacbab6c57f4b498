"""Shared fixtures. Every test runs with random weights: no download, no network."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

os.environ["MODEL_ZOO_WEIGHTS"] = "random"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# f32 everywhere, so that no test depends on whether this CPU has native bf16 (the parity
# tests ask for bf16 themselves); and a converted-model cache of this run's own, which every
# child process (CLI, server, workers) inherits and which is removed at the end.
os.environ["MODEL_ZOO_PRECISION"] = "f32"
os.environ.pop("MODEL_ZOO_ENGINE", None)
os.environ["MODEL_ZOO_CACHE"] = tempfile.mkdtemp(prefix="model-zoo-test-cache-")

import numpy as np
import pytest
from PIL import Image

from model_zoo.examples import get_example
from model_zoo.registry import MODELS

_CACHE = os.environ["MODEL_ZOO_CACHE"]


def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(_CACHE, ignore_errors=True)


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
    from model_zoo.compare.inference import load_classifier

    return {name: load_classifier(name, "random") for name in MODELS}


@pytest.fixture(scope="session")
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


def colour_class_zip(
    per_class: int = 8, side: int = 40, classes: int = 3, names: Sequence[str] = ()
) -> bytes:
    """A learnable zip: each class a different colour with noise, as JPEG files, in folders
    ``class_a``, ``class_b``… (or ``names``)."""
    import zipfile

    rng = np.random.default_rng(0)
    names = list(names) or [f"class_{'abcd'[c]}" for c in range(classes)]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for c, name in enumerate(names):
            colour = rng.integers(30, 225, 3) if c >= 4 else _COLOURS[c]
            for i in range(per_class):
                pixels = np.clip(rng.normal(colour, 40, (side, side, 3)), 0, 255)
                zf.writestr(
                    f"{name}/{i}.jpg", encode(Image.fromarray(pixels.astype(np.uint8)), "JPEG")
                )
    return buf.getvalue()


_COLOURS = [(200, 40, 40), (40, 200, 40), (40, 40, 200), (200, 200, 40)]


@pytest.fixture(scope="session")
def colour_dataset(tmp_path_factory):
    from model_zoo.datasets import extract_dataset

    return extract_dataset(colour_class_zip(), tmp_path_factory.mktemp("colour_job"))


ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def export_dir(colour_dataset, tmp_path_factory):
    """A fine-tuned export (ResNet50 + gap at 48 px, three classes, threshold 0.4)."""
    from model_zoo.artifact.export import write_export
    from model_zoo.finetune.settings import TrainConfig
    from model_zoo.finetune.training import train
    from model_zoo.weights import WeightsSource

    config = TrainConfig(backbone="resnet50", head="gap", epochs=2, batch_size=8, image_size=48)
    result = train(colour_dataset, config, WeightsSource("random"))
    folder = tmp_path_factory.mktemp("export")
    write_export(result, folder, threshold=0.4)
    return folder


def load_exported(path: Path):
    """An exported ``model.keras`` reloaded as any user would: Keras' safe mode on."""
    from model_zoo import runtime

    return runtime.keras().saving.load_model(path, safe_mode=True)


def run_model_zoo(*args: str, cwd: Path = ROOT, **env: str) -> subprocess.CompletedProcess:
    """``python -m model_zoo ARGS`` as a user runs it (in ``cwd``), random weights unless
    ``env`` says."""
    environment = {**os.environ, "MODEL_ZOO_WEIGHTS": "random", "PYTHONPATH": str(ROOT), **env}
    return subprocess.run(
        [sys.executable, "-m", "model_zoo", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=environment,
        timeout=600,
    )


def assert_parallel_matches_serial(classifier, rng) -> None:
    """Eight threads predicting on one shared model give the serial results."""
    from concurrent.futures import ThreadPoolExecutor

    size = classifier.spec.input_size
    batches = [rng.uniform(0, 255, (1, size, size, 3)).astype(np.float32) for _ in range(8)]
    serial = [classifier.probabilities(b) for b in batches]
    with ThreadPoolExecutor(8) as pool:
        parallel = list(pool.map(classifier.probabilities, batches))
    for a, b in zip(serial, parallel, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def libtiff_complaining_tiff(strips: int = 32) -> bytes:
    """A deflate TIFF whose strips are damaged: libtiff prints a C warning per strip straight
    to file descriptor 2 ("ZIPDecode: Decoding error at scanline …") before Pillow fails."""
    noise = np.random.default_rng(3).integers(0, 255, (strips, 64, 3), dtype=np.uint8)
    data = bytearray(
        encode(Image.fromarray(noise), "TIFF", compression="tiff_adobe_deflate", strip_size=192)
    )
    for i in range(16, len(data) // 2):  # the strips come before the directory
        data[i] ^= 0x5A
    return bytes(data)


def too_many_samples_tiff() -> bytes:
    """A TIFF claiming 65535 samples per pixel (as Pillow's own ``libtiff_segfault.tif``):
    Pillow logs "More samples per pixel than can be decoded" before it refuses the file."""
    import struct

    data = bytearray(encode(Image.fromarray(np.zeros((4, 4, 3), np.uint8)), "TIFF"))
    ifd = struct.unpack("<I", data[4:8])[0]
    for i in range(struct.unpack("<H", data[ifd : ifd + 2])[0]):
        entry = ifd + 2 + 12 * i
        if struct.unpack("<H", data[entry : entry + 2])[0] == 277:  # SamplesPerPixel
            data[entry + 8 : entry + 10] = struct.pack("<H", 65535)
    return bytes(data)


def large_photo_zip(per_class: int = 15) -> bytes:
    """A zip of two classes of 1200×900 noise photos (JPEG, stored): about 29 MB, over the
    25 MB upload limit the app once had, like a real folder of a few dozen phone photos."""
    import zipfile

    rng = np.random.default_rng(0)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        for name in ("sunny", "cloudy"):
            for i in range(per_class):
                pixels = rng.integers(0, 255, (900, 1200, 3), dtype=np.uint8)
                zf.writestr(
                    f"weather/{name}/{i:02d}.jpg",
                    encode(Image.fromarray(pixels), "JPEG", quality=90),
                )
    return buf.getvalue()


def processes_naming(path: Path | str) -> list[str]:
    """Live processes whose command line names ``path`` (a child, or a copy it forked)."""
    import psutil

    found = []
    for process in psutil.process_iter(["cmdline", "status"]):
        try:
            args = process.info["cmdline"] or ()
            if process.info["status"] != psutil.STATUS_ZOMBIE and any(str(path) in a for a in args):
                found.append(f"{process.pid} {' '.join(args)}")
        except psutil.Error:
            continue
    return found
