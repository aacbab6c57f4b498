"""Run as a script (a fresh process): RSS of the Compare page with the five models loaded
(Compare only, then with Explain used once, which builds the Keras models Grad-CAM needs),
then with twelve worst-case photos (40-megapixel PNGs, the most the decoder takes) compared
and explained. Prints one JSON line: {"compare_only": bytes, "tensorflow_loaded": bool (by
Compare alone), "models": bytes, "photos": bytes, "explain": bytes, "after": bytes}.
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
    figures["tensorflow_loaded"] = "tensorflow" in sys.modules
    at.toggle(key="explain").set_value(True).run()  # Grad-CAM's Keras models are built
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
    del at, photos
    gc.collect()
    figures["after"] = process.memory_info().rss
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
