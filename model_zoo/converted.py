"""One model's conversion outcome (``engine.convert``), as plain data that crosses from
the converting child process to the server, and the one-line reason for a failure."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from model_zoo.registry import get_spec
from model_zoo.weights import MissingWeightsError


@dataclass(frozen=True)
class Converted:
    """One model's conversion outcome: the IR, or why there is none.

    Attributes:
        name: Registry name.
        xml: The IR's ``.xml`` file, None on failure.
        missing: The weights are missing (``MissingWeightsError.problem``), when that was why.
        error: A one-line reason for any failure.
        message: The whole missing-weights message (for the CLI).
        seconds: Time spent building and converting.
    """

    name: str
    xml: Path | None
    missing: str | None = None
    error: str | None = None
    message: str | None = None
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "xml": str(self.xml) if self.xml else None,
            "missing": self.missing,
            "error": self.error,
            "message": self.message,
            "seconds": round(self.seconds, 3),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Converted:
        xml = data.get("xml")
        return cls(
            name=str(data["name"]),
            xml=Path(xml) if xml else None,
            missing=data.get("missing"),
            error=data.get("error"),
            message=data.get("message"),
            seconds=float(data.get("seconds", 0.0)),
        )

    def raise_for_missing(self) -> None:
        if self.missing is not None:
            raise MissingWeightsError(
                get_spec(self.name), self.message or self.missing, self.missing
            )


def one_line(err: BaseException) -> str:
    """An exception in one line. OpenVINO's messages open with source locations ("Exception
    from src/inference/…") and end with what went wrong: that last line is kept."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    if not lines:
        return type(err).__name__
    text = lines[-1] if lines[0].startswith("Exception from") else lines[0]
    return f"{type(err).__name__}: {text[:200]}"


__all__ = ["Converted", "one_line"]
