"""Bundled example photos (credits in ``data/examples/CREDITS.md``)."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources


@dataclass(frozen=True)
class Example:
    """One bundled photo.

    Attributes:
        key: Short id, used in widget keys.
        file: File name under ``model_zoo/data/examples``.
        title: What the photo shows.
        credit: Photographer / source and licence.
    """

    key: str
    file: str
    title: str
    credit: str

    def read_bytes(self) -> bytes:
        return resources.files("model_zoo").joinpath(f"data/examples/{self.file}").read_bytes()


EXAMPLES: tuple[Example, ...] = (
    Example("cat", "cat.jpg", "Tabby cat", "Stefan van der Walt, CC0 (scikit-image)"),
    Example("espresso", "espresso.jpg", "Espresso", "Rachel Michetti, CC0 (scikit-image)"),
    Example("astronaut", "astronaut.jpg", "Astronaut", "NASA, public domain (scikit-image)"),
    Example("rocket", "rocket.jpg", "Rocket launch", "SpaceX, public domain (scikit-image)"),
)


def get_example(key: str) -> Example:
    """Returns a bundled example by key.

    Raises:
        ValueError: unknown key.
    """
    for example in EXAMPLES:
        if example.key == key:
            return example
    raise ValueError(f"Unknown example {key!r}. Expected one of {[e.key for e in EXAMPLES]}.")
