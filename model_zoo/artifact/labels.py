"""A fine-tuned model on disk: its ``labels.json`` (written and checked here) and the checked
reading of an export folder or zip.

Everything in an export may have been altered, so ``labels.json`` is read under a size cap,
parsed only then, and every field is checked (type, range, length) before it is used; the
model file must be a regular file of at most ``MAX_MODEL_BYTES`` whose SHA-256 the labels
carry. A refusal is an ``ExportError``: one line that names the field.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from model_zoo.children import error_line
from model_zoo.finetune.settings import HEADS
from model_zoo.limits import MB, size_text
from model_zoo.registry import MODELS
from model_zoo.untrusted import UntrustedFileError, read_regular, regular_file

EXPORTED_BY = "model-zoo"
MODEL_FILE, LABELS_FILE = "model.keras", "labels.json"
MAX_MODEL_BYTES = 2 * 1024**3
MAX_LABELS_BYTES = 1 * MB
MAX_CLASSES = 1000
MAX_NAME_CHARS = 200
DEFAULT_THRESHOLD = 0.5  # below this calibrated confidence the model answers "not sure"
INPUT_TEXT = "RGB pixels 0-255, float32, preprocessing inside the model"
_SHA256 = re.compile(r"[0-9a-f]{64}")


class ExportError(ValueError):
    """Not a model this app exported, or a damaged or altered one (one line)."""


def model_digest(path: Path) -> str:
    """SHA-256 of a model file, as ``labels.json`` records it."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class Labels:
    """``labels.json``: what a model's outputs mean and how to read them.

    Attributes:
        classes: One name per output, in order.
        input_size: Side of the square RGB input, within the backbone's range.
        backbone: Registry name of the backbone.
        head: ``HEADS`` name.
        temperature: Divides the log-probabilities (fitted on validation); > 0.
        threshold: Below this calibrated confidence the answer is "not sure"; in [0, 1].
        model_sha256: The model file's SHA-256.
        files: The export's model files.
    """

    classes: tuple[str, ...]
    input_size: int
    backbone: str
    head: str
    temperature: float
    threshold: float
    model_sha256: str
    files: tuple[str, ...] = (MODEL_FILE,)

    def to_json(self) -> str:
        data = {
            "classes": list(self.classes),
            "input_size": self.input_size,
            "input": INPUT_TEXT,
            "backbone": self.backbone,
            "head": self.head,
            "temperature": self.temperature,
            "threshold": self.threshold,
            "files": list(self.files),
            # What `model-zoo predict` checks before it loads the model.
            "exported_by": EXPORTED_BY,
            "model_sha256": self.model_sha256,
        }
        return json.dumps(data, ensure_ascii=False, indent=2)

    @classmethod
    def parse(cls, data: bytes, source: str = LABELS_FILE) -> Labels:
        """Checks ``labels.json``'s bytes field by field.

        Raises:
            ExportError: one line naming the first field that is wrong.
        """
        if len(data) > MAX_LABELS_BYTES:
            raise ExportError(f"{source}: larger than {size_text(MAX_LABELS_BYTES)}: refused")
        try:
            raw = json.loads(data.decode("utf-8"))
        except RecursionError:
            raise ExportError(f"{source}: nested too deeply: refused") from None
        except ValueError:  # UnicodeDecodeError too
            raise ExportError(f"{source}: not readable JSON: not a Model Zoo export") from None
        if not isinstance(raw, dict) or raw.get("exported_by") != EXPORTED_BY:
            raise ExportError(f"{source}: does not name Model Zoo: refused")
        field = _Fields(raw, source)
        backbone = field.choice("backbone", MODELS)
        spec = MODELS[backbone]
        return cls(
            classes=field.names("classes"),
            input_size=field.integer("input_size", spec.min_input_size, spec.input_size),
            backbone=backbone,
            head=field.choice("head", HEADS),
            temperature=field.number("temperature", 1.0, low=0.0, low_open=True, high=1e6),
            threshold=field.number("threshold", 0.0, low=0.0, high=1.0),
            model_sha256=field.digest("model_sha256"),
            files=field.files("files"),
        )

    def check_shapes(self, given: tuple[Any, ...], outputs: Any, source: str = LABELS_FILE) -> None:
        """The model must take ``input_size`` pixels and give one output per class.

        Args:
            given: The model's input shape without the batch.
            outputs: Its number of outputs.

        Raises:
            ExportError: it does not.
        """
        if outputs != len(self.classes):
            raise ExportError(
                f"{source}: classes names {len(self.classes)} classes but the model has "
                f"{outputs} outputs: refused"
            )
        if tuple(given) != (self.input_size, self.input_size, 3):
            raise ExportError(
                f"{source}: input_size is {self.input_size} but the model takes "
                f"{tuple(given)}: refused"
            )


class _Fields:
    """Reads one field at a time from a parsed ``labels.json``, refusing in one line."""

    def __init__(self, raw: dict[str, Any], source: str) -> None:
        self.raw, self.source = raw, source

    def _refuse(self, name: str, why: str) -> ExportError:
        return ExportError(f"{self.source}: {name} {why}: refused")

    def _get(self, name: str) -> Any:
        if name not in self.raw:
            raise self._refuse(name, "is missing")
        return self.raw[name]

    def choice(self, name: str, allowed: Any) -> str:
        value = self._get(name)
        if not isinstance(value, str) or value not in allowed:
            raise self._refuse(name, f"must be one of {sorted(allowed)}")
        return value

    def integer(self, name: str, low: int, high: int) -> int:
        value = self._get(name)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise self._refuse(name, f"must be a whole number from {low} to {high}")
        return value

    def number(
        self, name: str, default: float, *, low: float, high: float, low_open: bool = False
    ) -> float:
        value = self.raw.get(name, default)
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        ok = ok and math.isfinite(value) and (value > low if low_open else value >= low)
        if not ok or value > high:
            bound = f"over {low:g}" if low_open else f"from {low:g}"
            raise self._refuse(name, f"must be a number {bound} to {high:g}")
        return float(value)

    def names(self, name: str) -> tuple[str, ...]:
        value = self._get(name)
        if not isinstance(value, list) or not 2 <= len(value) <= MAX_CLASSES:
            raise self._refuse(name, f"must be a list of 2 to {MAX_CLASSES} names")
        if not all(isinstance(v, str) and 0 < len(v) <= MAX_NAME_CHARS for v in value):
            raise self._refuse(name, f"must hold only names of 1 to {MAX_NAME_CHARS} characters")
        if len(set(value)) != len(value):
            raise self._refuse(name, "has a name twice")
        return tuple(value)

    def digest(self, name: str) -> str:
        value = self._get(name)
        if not isinstance(value, str) or not _SHA256.fullmatch(value):
            raise self._refuse(name, "must be a SHA-256 in hex")
        return value

    def files(self, name: str) -> tuple[str, ...]:
        value = self.raw.get(name, [MODEL_FILE])
        if not isinstance(value, list) or len(value) > 16:
            raise self._refuse(name, "must be a list of at most 16 file names")
        if not all(isinstance(v, str) and 0 < len(v) <= MAX_NAME_CHARS for v in value):
            raise self._refuse(name, "must hold only file names")
        return tuple(value)


def read_export(source: Path, workdir: Path) -> tuple[Labels, Path]:
    """Reads and checks an export folder or zip written by this app: its labels, and its
    model file (in the folder, or copied from the zip into ``workdir``) matching their
    checksum. Nothing is loaded.

    Raises:
        ExportError: not an export of this app, altered, damaged, or not regular files.
    """
    try:
        if source.is_dir():
            if not (source / LABELS_FILE).is_symlink() and not (source / LABELS_FILE).exists():
                raise ExportError(f"{source}: no {LABELS_FILE}: not a Model Zoo export")
            data = read_regular(source / LABELS_FILE, MAX_LABELS_BYTES, within=source)
            model_file = regular_file(source / MODEL_FILE, within=source, max_bytes=MAX_MODEL_BYTES)
        else:
            data, model_file = _read_zip(regular_file(source), source.name, workdir)
    except UntrustedFileError as err:
        raise ExportError(str(err)) from None
    labels = Labels.parse(data, f"{source.name}: {LABELS_FILE}")
    if model_digest(model_file) != labels.model_sha256:
        raise ExportError(
            f"{source}: {MODEL_FILE} does not match the checksum in {LABELS_FILE} "
            "(altered or damaged): refused"
        )
    return labels, model_file


def _read_zip(path: Path, name: str, workdir: Path) -> tuple[bytes, Path]:
    if not zipfile.is_zipfile(path):
        raise ExportError(f"{name}: not an export folder or zip")
    try:
        with zipfile.ZipFile(path) as zf:
            labels = _member(zf, LABELS_FILE, name, MAX_LABELS_BYTES)
            with _member_stream(zf, MODEL_FILE, name, MAX_MODEL_BYTES) as member:
                target = workdir / MODEL_FILE
                with open(target, "wb") as out:
                    _copy_capped(member, out, MAX_MODEL_BYTES, f"{name}: {MODEL_FILE}")
            return labels, target
    except ExportError:
        raise
    except Exception as err:  # zlib.error, lzma.LZMAError, EOFError, BadZipFile, OSError …
        raise ExportError(f"{name}: the zip is damaged ({error_line(err, limit=200)})") from None


def _member_stream(zf: zipfile.ZipFile, member: str, name: str, cap: int) -> Any:
    try:
        info = zf.getinfo(member)
    except KeyError:
        raise ExportError(f"{name}: no {member} in the zip") from None
    if stat.S_ISLNK(info.external_attr >> 16):
        raise ExportError(f"{name}: {member} is a link: refused")
    if info.file_size > cap:
        raise ExportError(f"{name}: {member} is larger than {size_text(cap)}: refused")
    return zf.open(info)


def _member(zf: zipfile.ZipFile, member: str, name: str, cap: int) -> bytes:
    with _member_stream(zf, member, name, cap) as stream:
        data = stream.read(cap + 1)  # headers can lie about sizes: count what comes
    if len(data) > cap:
        raise ExportError(f"{name}: {member} is larger than {size_text(cap)}: refused")
    return bytes(data)


def _copy_capped(source: Any, target: Any, cap: int, what: str) -> None:
    copied = 0
    for block in iter(lambda: source.read(1 << 20), b""):
        copied += len(block)
        if copied > cap:
            raise ExportError(f"{what} is larger than {size_text(cap)}: refused")
        target.write(block)


MAX_CONFIG_BYTES = 10 * MB


def declared_shapes(model_file: Path) -> tuple[tuple[Any, ...], Any] | None:
    """(input shape without the batch, outputs) as a ``.keras`` file's ``config.json``
    declares them, read without TensorFlow; None when it does not say plainly.

    A file can lie here: the loaded model is checked again. This only spares loading
    TensorFlow (0.7 GB) for an export whose labels cannot fit its model.
    """
    try:
        with zipfile.ZipFile(model_file) as zf, zf.open("config.json") as f:
            data = f.read(MAX_CONFIG_BYTES + 1)
        if len(data) > MAX_CONFIG_BYTES:
            return None
        config = json.loads(data)["config"]
        layers = {layer["config"]["name"]: layer for layer in config["layers"]}
        given = layers[config["input_layers"][0]]["config"]["batch_shape"][1:]
        last = layers[config["output_layers"][0]]
        if last["class_name"] != "Dense":
            return None
        return tuple(given), last["config"]["units"]
    except Exception:  # not a plain functional model: the loaded model is checked instead
        return None
