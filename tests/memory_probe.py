"""Run as a script (a fresh process): RSS of the app with the five models loaded (Compare
only, then with Explain used once), then with twelve worst-case photos (40-megapixel PNGs,
the most the decoder takes) compared and explained, then after a fine-tuning run's results
page and its try-it (Grad-CAM of the tuned model). Prints one JSON line: {"compare_only",
"models", "photos", "explain", "after", "finetuned": bytes; "tensorflow_loaded": bool (after
Compare + Explain), "tensorflow_at_end": bool (after the results page and try-it)}.
``tests/test_memory.py`` holds the budget; run it by hand to see the figures.
"""

from __future__ import annotations

import gc
import io
import json
import os
import sys
from pathlib import Path

import numpy as np
import psutil
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("MODEL_ZOO_WEIGHTS", "random")


def worst_case_png(seed: int) -> bytes:
    """8000×5000 pixels (40 MP), small on disk: stripes of colour compress well."""
    rng = np.random.default_rng(seed)
    rows = rng.integers(0, 255, (5000, 1, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(np.broadcast_to(rows, (5000, 8000, 3)).copy()).save(buf, "PNG")
    return buf.getvalue()


def main() -> None:
    from streamlit.testing.v1 import AppTest

    process = psutil.Process()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=600).run()
    at = at.switch_page("pages/compare.py").run()
    at.button(key="example-cat").click().run()  # the five models load and run once
    assert not at.exception, [e.value for e in at.exception]
    gc.collect()
    figures: dict[str, int | bool] = {"compare_only": process.memory_info().rss}
    at.toggle(key="explain").set_value(True).run()  # Grad-CAM on the engine
    assert not at.exception, [e.value for e in at.exception]
    at.toggle(key="explain").set_value(False).run()
    gc.collect()
    figures["models"] = process.memory_info().rss
    photos = [(f"huge-{i}.png", worst_case_png(i), "image/png") for i in range(12)]
    at.radio(key="photo_source").set_value("Upload").run()
    at.file_uploader[0].set_value(photos).run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("12 photos" in s.value for s in at.subheader)
    figures["photos"] = process.memory_info().rss
    at.toggle(key="explain").set_value(True).run()
    for pick in range(12):  # explain every photo, as a visitor clicking through them would
        at.selectbox[0].select_index(pick).run()
    assert not at.exception, [e.value for e in at.exception]
    figures["explain"] = process.memory_info().rss
    figures["tensorflow_loaded"] = "tensorflow" in sys.modules
    del at, photos
    gc.collect()
    figures["after"] = process.memory_info().rss
    figures["finetuned"] = finetuned_try_it()
    figures["tensorflow_at_end"] = "tensorflow" in sys.modules
    print(json.dumps(figures))


def finetuned_try_it() -> int:
    """Trains a small run (in its child process), opens its results and tries a photo:
    the process's RSS after."""
    from streamlit.testing.v1 import AppTest

    from model_zoo.examples import get_example
    from tests.conftest import colour_class_zip

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=600).run()
    at = at.switch_page("pages/finetune.py").run()
    at.file_uploader(key="dataset_zip").set_value(
        ("colours.zip", colour_class_zip(), "application/zip")
    ).run()
    next(s for s in at.select_slider if s.label == "Image size").set_value(96)
    next(s for s in at.slider if s.label == "Epochs").set_value(1)
    next(b for b in at.button if b.label == "Train").click().run()
    assert at.session_state["run"].job.join(timeout=600)
    at.run()
    cat = get_example("cat").read_bytes()
    at.file_uploader(key="try_photo").set_value(("cat.jpg", cat, "image/jpeg")).run()
    assert not at.exception, [e.value for e in at.exception]
    captions = [img.caption for el in at.get("image") for img in el.proto.imgs]
    assert any("Grad-CAM on OpenVINO" in c for c in captions), captions
    gc.collect()
    return process_rss()


def process_rss() -> int:
    return psutil.Process().memory_info().rss


if __name__ == "__main__":
    main()
