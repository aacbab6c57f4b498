"""Where model weights come from: chosen once, by ``MODEL_ZOO_WEIGHTS`` or ``--weights``.

- ``imagenet`` (default): Keras downloads the official file on first use and caches it.
- a folder: the official Keras ``.h5`` file names inside it, for air-gapped machines.
- ``random``: untrained weights, for tests, CI and UI checks; predictions are meaningless.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from model_zoo import runtime
from model_zoo.registry import ModelSpec

ENV_VAR = "MODEL_ZOO_WEIGHTS"
WeightsKind = Literal["imagenet", "random", "folder"]


class MissingWeightsError(RuntimeError):
    """A model's weights file is neither available locally nor downloadable.

    ``str()`` is the whole story (for the CLI); ``problem`` is just what is missing, so a page
    can list several models and say once how to provide the files (``how_to_provide``).
    """

    def __init__(self, spec: ModelSpec, message: str, problem: str | None = None) -> None:
        super().__init__(message)
        self.spec = spec
        self.problem = problem or message


@dataclass(frozen=True)
class WeightsSource:
    """The weights every model of this process loads.

    Attributes:
        kind: ``"imagenet"``, ``"random"`` or ``"folder"``.
        folder: The folder for ``kind == "folder"``, else None.
    """

    kind: WeightsKind
    folder: Path | None = None

    @property
    def is_random(self) -> bool:
        return self.kind == "random"

    def __str__(self) -> str:
        return str(self.folder) if self.kind == "folder" else self.kind

    def describe(self) -> str:
        """One line for people."""
        if self.kind == "imagenet":
            return f"ImageNet weights (downloaded once by Keras into {keras_cache_dir()})"
        if self.kind == "folder":
            return f"ImageNet weights from the folder {self.folder}"
        return "random weights — predictions are meaningless"

    def local_file(self, spec: ModelSpec, *, notop: bool = False) -> Path | None:
        """Where this source expects ``spec``'s file on disk (None for random weights)."""
        name = spec.weights(notop).file
        if self.kind == "folder":
            assert self.folder is not None
            return self.folder / name
        if self.kind == "imagenet":
            return keras_cache_dir() / name
        return None

    def keras_argument(self, spec: ModelSpec, *, notop: bool = False) -> str | None:
        """The ``weights=`` argument for the Keras constructor: a local file, or None.

        ``notop`` asks for the headless file (``include_top=False``, fine-tuning).

        For ``imagenet`` this is Keras' own download-and-cache step (``keras.utils.get_file``
        with the URL and MD5 the constructor would use), done before the model is built so
        that an offline machine learns at once which file is missing.

        Raises:
            MissingWeightsError: the file is not in the folder, or cannot be downloaded.
        """
        if self.kind == "random":
            return None
        if self.kind == "imagenet":
            return _download(spec, self, notop)
        path = self.local_file(spec, notop=notop)
        assert path is not None
        if not path.is_file():
            raise missing_error(spec, self, notop=notop)
        return str(path)


def _download(spec: ModelSpec, source: WeightsSource, notop: bool) -> str:
    keras = runtime.keras()

    weights = spec.weights(notop)
    try:
        return keras.utils.get_file(
            weights.file, weights.url, cache_subdir="models", file_hash=weights.md5
        )
    except Exception as err:  # Keras raises a bare Exception when the fetch fails
        raise missing_error(spec, source, download_failure_reason(err), notop=notop) from None


# What socket and urllib say when there is no route to the internet (DNS first).
_OFFLINE_SIGNS = (
    "name or service not known",
    "temporary failure in name resolution",
    "nodename nor servname",
    "no address associated",
    "network is unreachable",
    "no route to host",
    "getaddrinfo failed",
)


def download_failure_reason(err: BaseException) -> str:
    """A short reason for people: "no internet connection", or the first line of the error.

    Keras wraps the cause: "URL fetch failure on URL: None -- [Errno -2] Name or service not
    known".
    """
    text = str(err).splitlines()[0] if str(err) else ""
    if any(sign in text.lower() for sign in _OFFLINE_SIGNS):
        return "no internet connection"
    return text.split(" -- ")[-1][:160] or type(err).__name__


def keras_cache_dir() -> Path:
    """Keras' download cache for application weights (``$KERAS_HOME/models``)."""
    return runtime.keras_home() / "models"


def missing_problem(
    spec: ModelSpec, source: WeightsSource, reason: str = "", *, notop: bool = False
) -> str:
    """What is missing, e.g. "vgg16_….h5 could not be downloaded (no network)"."""
    file = spec.weights(notop).file
    why = f" ({reason})" if reason else ""
    if source.kind == "folder":
        return f"{file} is not in the weights folder {source.folder}{why}"
    return f"{file} could not be downloaded{why}"


def where_to_put(count: int = 1) -> str:
    """Where downloaded files go, and the random-weights way out (one sentence)."""
    it = "it" if count == 1 else "them"
    return (
        f"Put {it} in {keras_cache_dir()} (Keras' cache) or in a folder named by "
        f"{ENV_VAR}=/path/to/folder; or set {ENV_VAR}=random to try the app with meaningless "
        "random weights."
    )


def how_to_provide(specs: list[ModelSpec], *, notop: bool = False) -> str:
    """Where to get the files and where to put them, in one line (the CLI's error)."""
    urls = ", ".join(spec.weights_url(notop) for spec in specs)
    return f"Download {'it' if len(specs) == 1 else 'them'} from {urls}. {where_to_put(len(specs))}"


def missing_error(
    spec: ModelSpec, source: WeightsSource, reason: str = "", *, notop: bool = False
) -> MissingWeightsError:
    """The error for one missing file: which file, why, and how to provide it."""
    problem = missing_problem(spec, source, reason, notop=notop)
    message = (
        f"{spec.display_name} weights are missing: {problem}. {how_to_provide([spec], notop=notop)}"
    )
    return MissingWeightsError(spec, message, problem)


def weights_source(value: str | None = None) -> WeightsSource:
    """Resolves the weights source from ``value``, else ``$MODEL_ZOO_WEIGHTS``, else imagenet.

    Raises:
        ValueError: the value is neither ``imagenet``, ``random`` nor an existing folder.
    """
    raw = value if value is not None else os.environ.get(ENV_VAR, "")
    text = raw.strip()
    if text == "" or text.lower() == "imagenet":
        return WeightsSource("imagenet")
    if text.lower() == "random":
        return WeightsSource("random")
    folder = Path(text).expanduser()
    if not folder.is_dir():
        raise ValueError(
            f"Weights {text!r} is neither 'imagenet', 'random' nor an existing "
            "folder of Keras .h5 files."
        )
    return WeightsSource("folder", folder.resolve())
