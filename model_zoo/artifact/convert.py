"""A fine-tuned ``model.keras`` to an OpenVINO IR with Grad-CAM's outputs (``cam_graph``),
so that the server runs try-it, Grad-CAM and batch predictions without TensorFlow. The
conversion loads the model (in Keras' safe mode), so it runs in a child process,
``python -m model_zoo.artifact.convert MODEL FOLDER PRECISION``, unless TensorFlow is loaded
here already (the CLI's fallback, a test).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from model_zoo.children import Child, error_line, exit_text, start_child
from model_zoo.engine_choice import Precision

CONVERT_SECONDS = 600


def convert_here(model_file: Path, folder: Path, precision: Precision) -> Path:
    """Converts in this process (imports TensorFlow). Returns the IR's ``.xml``."""
    from model_zoo import runtime
    from model_zoo.cam_graph import finetuned_forward, traced
    from model_zoo.engine import save_ir

    model = runtime.keras().saving.load_model(model_file, safe_mode=True)
    forward, head = finetuned_forward(model)
    return save_ir(traced(forward, int(model.input_shape[1])), folder, precision, head)


def convert_export(model_file: Path, folder: Path, precision: Precision) -> tuple[Path | None, str]:
    """The IR of ``model_file`` in ``folder``, converted in a child process (or here, where
    TensorFlow is loaded already).

    Returns:
        (the IR's ``.xml``, "") or (None, why in one line).
    """
    if "tensorflow" in sys.modules:
        try:
            return convert_here(model_file, folder, precision), ""
        except Exception as err:  # a model that does not convert runs on Keras instead
            return None, error_line(err)
    args = [str(model_file), str(folder), precision]
    said: dict[str, str] = {}
    with Child("model_zoo.artifact.convert", args) as child:
        for message in child.messages(deadline=time.monotonic() + CONVERT_SECONDS):
            if isinstance(message.get("xml"), str) or isinstance(message.get("error"), str):
                said = {k: str(v) for k, v in message.items()}
    code = child.wait()
    if said.get("xml"):
        return Path(said["xml"]), ""
    if said.get("error"):
        return None, said["error"]
    if child.timed_out:
        return None, f"the conversion took over {CONVERT_SECONDS} s and was ended"
    return None, f"the conversion process {exit_text(code)}"


def _main(argv: list[str]) -> int:
    start_child()  # it ends when the process that asked for it does
    model_file, folder, precision = argv
    try:
        xml = convert_here(Path(model_file), Path(folder), "bf16" if precision == "bf16" else "f32")
        print(json.dumps({"xml": str(xml)}), flush=True)
    except Exception as err:  # reported in one line; the parent falls back to Keras
        print(json.dumps({"error": error_line(err)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
