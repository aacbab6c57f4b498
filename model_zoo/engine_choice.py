"""Which inference engine and precision: the settings (arguments, else the environment),
whether OpenVINO is installed and computes bf16 natively on this CPU, and the cache folder.

- ``MODEL_ZOO_ENGINE``: ``auto`` (OpenVINO, TensorFlow where it is missing or fails),
  ``openvino`` or ``tensorflow``.
- ``MODEL_ZOO_PRECISION``: ``auto`` (bf16 where the CPU computes it natively, else f32),
  ``bf16`` or ``f32``.
- ``MODEL_ZOO_CACHE``: the cache folder (default ``$KERAS_HOME/model_zoo``).
- ``MODEL_ZOO_BAKED``: a read-only cache made when the image was built (the Dockerfile's
  ``BAKE_MODELS``), used where the cache has no model.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal, cast

from model_zoo import runtime

ENGINE_VAR = "MODEL_ZOO_ENGINE"
PRECISION_VAR = "MODEL_ZOO_PRECISION"
CACHE_VAR = "MODEL_ZOO_CACHE"
BAKED_VAR = "MODEL_ZOO_BAKED"
EngineChoice = Literal["auto", "openvino", "tensorflow"]
PrecisionChoice = Literal["auto", "bf16", "f32"]
Precision = Literal["bf16", "f32"]
ENGINES: tuple[EngineChoice, ...] = ("auto", "openvino", "tensorflow")
PRECISIONS: tuple[PrecisionChoice, ...] = ("auto", "bf16", "f32")


@dataclass(frozen=True)
class EngineSettings:
    """Which engine and precision to use (``auto`` resolves by what is installed and the CPU)."""

    engine: EngineChoice = "auto"
    precision: PrecisionChoice = "auto"

    @property
    def wants_openvino(self) -> bool:
        return self.engine != "tensorflow"

    def resolved_precision(self) -> Precision:
        """bf16 where the CPU has native bf16 (AVX512_BF16, AMX), else f32, unless set."""
        if self.precision != "auto":
            return self.precision
        return "bf16" if native_bf16() else "f32"


def engine_settings(engine: str | None = None, precision: str | None = None) -> EngineSettings:
    """Reads the settings from the arguments, else ``$MODEL_ZOO_ENGINE``/``$MODEL_ZOO_PRECISION``.

    Raises:
        ValueError: a value that is not one of the choices.
    """
    chosen_engine = (engine or os.environ.get(ENGINE_VAR) or "auto").strip().lower()
    chosen_precision = (precision or os.environ.get(PRECISION_VAR) or "auto").strip().lower()
    if chosen_engine not in ENGINES:
        raise ValueError(f"Unknown engine {chosen_engine!r}. Expected one of {list(ENGINES)}.")
    if chosen_precision not in PRECISIONS:
        raise ValueError(
            f"Unknown precision {chosen_precision!r}. Expected one of {list(PRECISIONS)}."
        )
    return EngineSettings(
        cast(EngineChoice, chosen_engine), cast(PrecisionChoice, chosen_precision)
    )


def without_telemetry() -> None:
    """Keeps OpenVINO's converter from writing its telemetry files (``~/intel``: a shared or
    read-only home on a Space, outside this app's folders) and from sending anything. Its
    converter falls back to a stub when ``openvino_telemetry`` cannot be imported."""
    sys.modules.setdefault("openvino_telemetry", None)  # type: ignore[arg-type]
    sys.modules.setdefault("openvino_telemetry.backend", None)  # type: ignore[arg-type]


@cache
def openvino_core() -> Any | None:
    """The process's one OpenVINO ``Core``, or None where OpenVINO is not installed."""
    without_telemetry()
    try:
        import openvino as ov
    except ImportError:
        return None
    return ov.Core()


def native_bf16() -> bool:
    """Whether OpenVINO's CPU plugin computes bf16 natively on this CPU."""
    core = openvino_core()
    if core is None:
        return False
    try:
        return "BF16" in core.get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    except RuntimeError:
        return False


def cache_root() -> Path:
    """``$MODEL_ZOO_CACHE``, else ``model_zoo`` in Keras' home (next to its weights cache)."""
    configured = os.environ.get(CACHE_VAR)
    return Path(configured).expanduser() if configured else runtime.keras_home() / "model_zoo"


def baked_cache() -> Path | None:
    """``$MODEL_ZOO_BAKED`` when set: converted models baked into the image at build time."""
    configured = os.environ.get(BAKED_VAR)
    return Path(configured).expanduser() if configured else None
