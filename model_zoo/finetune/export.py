"""Writing a fine-tuned model as a download: model, labels, model card and metrics."""

from __future__ import annotations

import io
import json
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from model_zoo import runtime
from model_zoo.finetune.evaluation import TrainResult
from model_zoo.finetune.settings import HEADS

MODEL_FILE = "model.keras"
LABELS_FILE = "labels.json"
CARD_FILE = "MODEL_CARD.md"
METRICS_FILE = "metrics.json"


def metrics(result: TrainResult) -> dict[str, Any]:
    """Everything measured, as plain JSON data."""
    ev = result.evaluation
    return {
        "val_accuracy": ev.accuracy,
        "val_loss": ev.loss,
        "val_images": len(ev.labels),
        "best_epoch": result.best_epoch,
        "epochs_run": len(result.history),
        "stopped": result.stopped,
        "seconds": round(result.seconds, 2),
        "feature_images_per_second": round(result.feature_images_per_second, 2),
        "feature_engine": result.feature_engine,
        "per_class": [vars(c) for c in ev.per_class],
        "confusion": ev.confusion.tolist(),
        "history": [h.to_dict() for h in result.history],
    }


def model_card(result: TrainResult) -> str:
    """A short Markdown card: what was trained, on what, how well, and how to load it."""
    cfg, ev = result.config, result.evaluation
    spec = cfg.spec
    weights = (
        "random weights — for tests only, predictions are meaningless"
        if result.weights.is_random
        else f"ImageNet weights ({result.weights})"
    )
    rows = "\n".join(
        f"| {c.name} | {c.precision:.2f} | {c.recall:.2f} | {c.f1:.2f} | {c.support} |"
        for c in ev.per_class
    )
    how = (
        "stopped by the user or the time limit"
        if result.stopped
        else "ran to the end or to early stopping"
    )
    settings = "\n".join(f"| {k} | {v} |" for k, v in cfg.to_dict().items())
    return f"""# {spec.display_name} + {cfg.head} — fine-tuned with Model Zoo

Created {result.created}.

- **Backbone:** {spec.display_name}, {weights}.
- **Head:** {HEADS[cfg.head]}.
- **Classes ({len(result.classes)}):** {", ".join(result.classes)}.
- **Input:** RGB pixels 0–255, shape `(N, {cfg.size}, {cfg.size}, 3)`, float32. The
  {spec.preprocess_mode}-mode preprocessing of {spec.display_name} is inside the model.
- **Training:** {len(result.history)} epochs, {how}; the weights kept are those of epoch
  {result.best_epoch} (lowest validation loss).

## Validation

{len(ev.labels)} images held out (stratified {cfg.val_split:.0%} split, seed {cfg.seed}):
accuracy **{ev.accuracy:.1%}**, loss {ev.loss:.3f}.

| class | precision | recall | F1 | images |
| --- | --- | --- | --- | --- |
{rows}

A small validation set gives a rough estimate; test on photos the model has never seen.

## Settings

| setting | value |
| --- | --- |
{settings}

## Load it

```python
import json
import keras
import numpy as np
from PIL import Image

model = keras.saving.load_model("{MODEL_FILE}")
classes = json.load(open("{LABELS_FILE}"))["classes"]
image = Image.open("photo.jpg").convert("RGB").resize(({cfg.size}, {cfg.size}))
probs = model.predict(np.asarray(image, dtype="float32")[None])[0]
print(classes[int(probs.argmax())], float(probs.max()))
```
"""


def write_export(result: TrainResult, folder: Path) -> list[Path]:
    """Writes the model, labels, card and metrics into ``folder``; returns the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / MODEL_FILE, folder / LABELS_FILE, folder / CARD_FILE, folder / METRICS_FILE]
    result.model.save(paths[0])
    labels = {
        "classes": list(result.classes),
        "input_size": result.config.size,
        "input": "RGB pixels 0-255, float32, preprocessing inside the model",
        "backbone": result.config.backbone,
        "head": result.config.head,
    }
    paths[1].write_text(json.dumps(labels, ensure_ascii=False, indent=2), encoding="utf-8")
    paths[2].write_text(model_card(result), encoding="utf-8")
    paths[3].write_text(json.dumps(metrics(result), indent=2), encoding="utf-8")
    return paths


def export_zip(result: TrainResult) -> bytes:
    """The download: a zip of ``write_export``'s files (built in a temporary folder)."""
    buf = io.BytesIO()
    with tempfile.TemporaryDirectory(prefix="model_zoo_export_") as tmp:
        paths = write_export(result, Path(tmp))
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for path in paths:
                zf.write(path, path.name)
    return buf.getvalue()


def load_exported(path: Path) -> Any:
    """Reloads an exported model with Keras' safe mode on (no custom objects needed)."""
    keras = runtime.keras()

    return keras.saving.load_model(path, safe_mode=True)
