"""Records a real training run's progress events for the time-left replay test.

    PYTHONPATH=. python tests/record_eta_run.py tests/data/eta_run.json

A ResNet50 at 128 px with augmentation (every epoch goes through the backbone, the case
where the time left matters), random weights, 3 classes of 40 photos, early stopping off
(the estimate assumes every epoch runs). Re-record when the run's steps change.
"""

from __future__ import annotations

import dataclasses
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

from model_zoo.datasets import extract_dataset
from model_zoo.finetune.eta import run_plan
from model_zoo.finetune.settings import TrainConfig
from model_zoo.finetune.split import train_val_test_split
from model_zoo.finetune.training import train
from model_zoo.weights import WeightsSource
from tests.conftest import colour_class_zip

CONFIG = TrainConfig(
    backbone="resnet50",
    head="gap",
    epochs=6,
    batch_size=16,
    image_size=128,
    augment=True,
    early_stopping=False,
)


def _cpu() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def main(out: str) -> None:
    events: list[list] = []
    marks: list[float] = []
    with tempfile.TemporaryDirectory() as folder:
        dataset = extract_dataset(colour_class_zip(per_class=40, side=128), Path(folder))
        _, labels = dataset.samples()
        _, n_val, n_test = train_val_test_split(
            labels, CONFIG.val_split, CONFIG.test_split, CONFIG.seed
        ).sizes()

        def on_progress(progress) -> None:
            marks.append(time.perf_counter())
            raw = dataclasses.replace(progress, eta_low=None, eta_high=None)
            events.append([progress.at, dataclasses.asdict(raw)])

        train(dataset, CONFIG, WeightsSource("random"), on_progress=on_progress)
        ended = time.perf_counter()
        plan = run_plan(CONFIG, len(labels), n_val, n_test, cached=False)
    record = {
        "cpu": _cpu(),
        "config": dataclasses.asdict(CONFIG),
        "plan": [dataclasses.asdict(step) for step in plan],
        "events": events,
        "end": events[-1][0] + (ended - marks[-1]),  # seconds into the run when train returned
    }
    Path(out).write_text(json.dumps(record, indent=0))
    print(f"{len(events)} events, {record['end']:.1f} s, {record['cpu']}")


if __name__ == "__main__":
    main(sys.argv[1])
