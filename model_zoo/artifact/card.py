"""The words and numbers that go with an export: ``metrics.json``'s data, the model card,
and the "use it" snippet of each format."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from model_zoo.artifact.labels import DEFAULT_THRESHOLD, LABELS_FILE, MODEL_FILE
from model_zoo.finetune.evaluation import TrainResult
from model_zoo.finetune.formats import FormatReport
from model_zoo.finetune.settings import HEADS
from model_zoo.untrusted import md
from model_zoo.wording import head_name, percent, percent_range, run_key, run_label

CARD_FILE = "MODEL_CARD.md"
METRICS_FILE = "metrics.json"


def metrics(result: TrainResult, threshold: float = DEFAULT_THRESHOLD) -> dict[str, Any]:
    """Everything measured, as plain JSON data (accuracy and calibration on the test split)."""
    ev = result.evaluation
    low, high = ev.interval
    coverage, answered_accuracy = ev.abstention().at(threshold)
    n_train, n_val, n_test = ev.split_sizes
    return {
        "test_accuracy": ev.accuracy,
        "test_interval": [low, high],
        "test_loss": ev.loss,
        "test_images": len(ev.labels),
        "val_loss": ev.val_loss,
        "split": {"train": n_train, "validation": n_val, "test": n_test},
        "temperature": ev.temperature,
        "ece": ev.reliability(calibrated=False).ece,
        "ece_calibrated": ev.reliability().ece,
        "threshold": threshold,
        "coverage_at_threshold": coverage,
        "accuracy_at_threshold": None if np.isnan(answered_accuracy) else answered_accuracy,
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


def _about(result: TrainResult) -> str:
    cfg, spec = result.config, result.config.spec
    weights = (
        "random weights — for tests only, predictions are meaningless"
        if result.weights.is_random
        else f"ImageNet weights ({result.weights})"
    )
    how = (
        "stopped by the user or the time limit"
        if result.stopped
        else "ran to the end or to early stopping"
    )
    return f"""# {run_label(run_key(cfg.backbone, cfg.head))} — fine-tuned with Model Zoo

Created {result.created}.

- **Backbone:** {spec.display_name}, {weights}.
- **Head:** {head_name(cfg.head)}: {HEADS[cfg.head]} (`{cfg.head}`).
- **Classes ({len(result.classes)}):** {", ".join(md(c) for c in result.classes)}.
- **Input:** RGB pixels 0–255, shape `(N, {cfg.size}, {cfg.size}, 3)`, float32. The
  {spec.preprocess_mode}-mode preprocessing of {spec.display_name} is inside the model.
- **Training:** {len(result.history)} epochs, {how}; the weights kept are those of epoch
  {result.best_epoch} (lowest validation loss).
"""


def _test(result: TrainResult) -> str:
    ev = result.evaluation
    low, high = ev.interval
    n_train, n_val, n_test = ev.split_sizes
    rows = "\n".join(
        f"| {md(c.name)} | {c.precision:.2f} | {c.recall:.2f} | {c.f1:.2f} | {c.support} |"
        for c in ev.per_class
    )
    return f"""## Test

Split stratified per class, seed {result.config.seed}: {n_train} images trained, {n_val}
validated (they picked the best epoch and the temperature), {n_test} tested once after
training. Test accuracy **{percent(ev.accuracy)}** (95% Wilson interval
{percent_range(low, high)}), loss {ev.loss:.3f}.

| class | precision | recall | F1 | images |
| --- | --- | --- | --- | --- |
{rows}

With {n_test} test images the interval is {100 * (high - low):.0f} points wide: a rough
estimate. Try the model on photos it has never seen.
"""


def _confidence(result: TrainResult, threshold: float) -> str:
    ev = result.evaluation
    coverage, answered = ev.abstention().at(threshold)
    answered_text = "no test image" if np.isnan(answered) else f"{percent(answered)} of them right"
    settings = "\n".join(f"| {k} | {v} |" for k, v in result.config.to_dict().items())
    return f"""## Confidence

- **Temperature** {ev.temperature:.3g}, fitted on the validation split: divide the log of
  the model's probabilities by it and take the softmax again (below). Expected calibration
  error on the test split: {ev.reliability(calibrated=False).ece:.3f} before,
  {ev.reliability().ece:.3f} after.
- **"Not sure" below {percent(threshold)}** (calibrated top-1 confidence): on the test split
  this answers {percent(coverage)} of the images, {answered_text}.

Both are in `{LABELS_FILE}` (`temperature`, `threshold`).

## Settings

| setting | value |
| --- | --- |
{settings}
"""


def _load_it(size: int) -> str:
    return f"""## Load it

```python
import json
import keras
import numpy as np
from PIL import Image

model = keras.saving.load_model("{MODEL_FILE}")
labels = json.load(open("{LABELS_FILE}"))
image = Image.open("photo.jpg").convert("RGB").resize(({size}, {size}))
probs = model.predict(np.asarray(image, dtype="float32")[None])[0]
logits = np.log(np.clip(probs, 1e-12, 1)) / labels["temperature"]
probs = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
best = int(probs.argmax())
print(labels["classes"][best] if probs[best] >= labels["threshold"] else "not sure", probs[best])
```
"""


def model_card(
    result: TrainResult,
    threshold: float = DEFAULT_THRESHOLD,
    reports: Sequence[FormatReport] = (),
) -> str:
    """A short Markdown card: what was trained, on what, how well, and how to load it."""
    size, n = result.config.size, len(result.classes)
    return "\n".join(
        [
            _about(result),
            _test(result),
            _confidence(result, threshold),
            formats_section(reports, size, n) + _load_it(size),
        ]
    )


def formats_section(reports: Sequence[FormatReport], size: int, n_classes: int) -> str:
    """The card's table of exported formats, each checked against the Keras model, and
    how to use each (empty when only ``model.keras`` was exported)."""
    if not reports:
        return ""
    rows = []
    for r in reports:
        if r.ok:
            rows.append(
                f"| {r.format} | `{r.file}` | {r.size_mb:.1f} | {r.agreement:.1%} | "
                f"{r.max_difference:.1e} | {r.ms_per_image:.1f} |"
            )
        else:
            rows.append(f"| {r.format} | not exported: {r.error} | | | | |")
    table = "\n".join(rows)
    images = max((r.images for r in reports), default=0)
    snippets = "\n".join(USE_IT[r.format].format(size=size, n=n_classes) for r in reports if r.ok)
    return f"""## Other formats

Each file was loaded in its own runtime and run on {images} validation images, one at a time,
and compared with `{MODEL_FILE}`: top-1 agreement, the largest probability difference,
and the time per image on the machine that exported it. All take RGB pixels 0–255,
float32, shape `(N, {size}, {size}, 3)`, and give {n_classes} probabilities.

| format | file | MB | top-1 agreement | max difference | ms / image |
| --- | --- | --- | --- | --- | --- |
{table}

{snippets}
"""


_READ = """from PIL import Image
image = Image.open("photo.jpg").convert("RGB").resize(({size}, {size}))
pixels = np.asarray(image, dtype="float32")[None]  # (1, {size}, {size}, 3), 0-255
classes = json.load(open("labels.json"))["classes"]"""
USE_IT = {
    "savedmodel": """### Use it: SavedModel (TensorFlow, TF Serving)

```python
import json
import numpy as np
import tensorflow as tf
"""
    + _READ
    + """
model = tf.saved_model.load("saved_model")
probs = model.serve(pixels).numpy()[0]
print(classes[int(probs.argmax())], float(probs.max()))
```
""",
    "litert": """### Use it: LiteRT (`pip install ai-edge-litert`)

Input: `float32 [1, {size}, {size}, 3]`, RGB 0–255. Output: `float32 [1, {n}]`, probabilities.

```python
import json
import numpy as np
from ai_edge_litert.interpreter import Interpreter
"""
    + _READ
    + """
interpreter = Interpreter(model_path="model.tflite")
interpreter.allocate_tensors()
given, wanted = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
interpreter.set_tensor(given["index"], pixels)
interpreter.invoke()
probs = interpreter.get_tensor(wanted["index"])[0]
print(classes[int(probs.argmax())], float(probs.max()))
```
""",
    "litert_int8": """### Use it: LiteRT int8 (dynamic range)

The same as LiteRT with `model_path="model_int8.tflite"`: int8 weights, float32 input and
output, about a quarter of the size.
""",
    "onnx": """### Use it: ONNX (`pip install onnxruntime`)

```python
import json
import numpy as np
import onnxruntime
"""
    + _READ
    + """
session = onnxruntime.InferenceSession("model.onnx", providers=["CPUExecutionProvider"])
probs = session.run(None, {{"pixels": pixels}})[0][0]
print(classes[int(probs.argmax())], float(probs.max()))
```
""",
}
