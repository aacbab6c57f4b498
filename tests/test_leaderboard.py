"""The leaderboard: its rows and choices (fast), the grid with random weights (slow), the
honest split, the ImageNet pre-check and the leaderboard job."""

import csv
import dataclasses
import io
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from model_zoo.compare.inference import Prediction
from model_zoo.compare.precheck import imagenet_precheck
from model_zoo.datasets import Dataset
from model_zoo.finetune.leaderboard import ROW_KEYS, Row, parse_choice, parse_grid, ranked, to_csv
from model_zoo.finetune.settings import HEADS, TrainConfig, TrainingStopped
from model_zoo.finetune.split import train_val_test_split
from model_zoo.registry import MODELS
from model_zoo.weights import WeightsSource

RANDOM = WeightsSource("random")


def row(backbone="vgg16", head="gap", acc=0.5, val_loss=1.0, ms=10.0) -> Row:
    return Row(backbone, head, acc, (acc - 0.1, acc + 0.1), val_loss, 1.0, 2.0, 60.0, ms, 10)


def test_rows_rank_by_test_accuracy_then_validation_loss_then_speed():
    rows = [
        row("vgg16", acc=0.7, val_loss=0.5),
        row("resnet50", acc=0.9, val_loss=0.9),
        row("xception", acc=0.7, val_loss=0.3, ms=50),
        row("vgg19", acc=0.7, val_loss=0.3, ms=20),
    ]
    assert [r.backbone for r in ranked(rows)] == ["resnet50", "vgg19", "xception", "vgg16"]


def test_a_row_is_plain_data_with_every_key_and_round_trips():
    r = row()
    data = r.to_dict()
    assert list(data)[: len(ROW_KEYS)] == list(ROW_KEYS)
    assert data["test_interval"] == [0.4, 0.6]
    assert Row.from_dict(data) == r


def test_csv_has_one_line_per_row_in_rank_order():
    rows = ranked([row("vgg16", acc=0.4), row("resnet50", acc=0.8)])
    table = list(csv.DictReader(io.StringIO(to_csv(rows))))
    assert [(t["rank"], t["backbone"]) for t in table] == [("1", "resnet50"), ("2", "vgg16")]
    assert float(table[0]["test_low"]) == pytest.approx(0.7)
    assert float(table[0]["test_high"]) == pytest.approx(0.9)
    assert {"val_loss", "train_seconds", "feature_seconds", "size_mb", "ms_per_image"} <= set(
        table[0]
    )


def test_choices_take_all_or_a_list_and_name_the_unknown():
    assert parse_choice("all", list(MODELS), "backbone") == list(MODELS)
    assert parse_choice("VGG16, resnet50,vgg16", list(MODELS), "backbone") == ["vgg16", "resnet50"]
    assert len(parse_grid("all", "all")) == len(MODELS) * len(HEADS) == 15
    with pytest.raises(ValueError, match="Unknown head 'mlp'"):
        parse_choice("gap,mlp", list(HEADS), "head")
    with pytest.raises(ValueError, match="at least one backbone"):
        parse_choice(" , ", list(MODELS), "backbone")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"test_split": 0.01}, "Test split must be between 0.05 and 0.4"),
        ({"val_split": 0.4, "test_split": 0.3}, "must leave at least 40% for training"),
    ],
)
def test_bad_test_splits_are_refused(change, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**change).validated()


class _Stub:
    """A classifier that answers one fixed ImageNet class per call, in turn."""

    def __init__(self, name: str, answers: list[int]) -> None:
        self.name, self.answers = name, list(answers)

    def classify(self, images, top=5):
        out = []
        for _ in images:
            probs = np.zeros(1000, np.float32)
            probs[self.answers.pop(0)] = 1.0
            out.append(Prediction(self.name, (), probs, 1.0))
        return out


def test_precheck_counts_votes_and_names_classes_that_collapse(colour_dataset):
    # Two images per class: class_a and class_b both look like a tabby (281), class_c a
    # mosque (668); one model says "egyptian cat" (285) once.
    stub = _Stub("m", [281, 281, 281, 285, 668, 668])
    check = imagenet_precheck(colour_dataset, [stub], per_class=2)
    views = {v.name: v for v in check.classes}
    assert views["class_a"].top == (("tabby", 1.0),)
    assert views["class_b"].top == (("tabby", 0.5), ("Egyptian cat", 0.5))
    assert views["class_c"].label == "mosque"
    assert check.collisions == (("class_a", "class_b", "tabby"),)
    assert check.images_per_class == 2


def test_precheck_needs_a_model(colour_dataset):
    with pytest.raises(ValueError, match="at least one loaded model"):
        imagenet_precheck(colour_dataset, [])


# --- the grid, with random weights ----------------------------------------------------------


@pytest.mark.slow
def test_the_grid_makes_one_feature_pass_per_backbone_and_ranks_complete_rows(colour_dataset):
    from model_zoo.finetune.features import FEATURES
    from model_zoo.finetune.grid import train_grid

    FEATURES.clear()
    progress, epochs, finished = [], [], []
    base = TrainConfig(epochs=2, batch_size=8, image_size=48, early_stopping=False)
    rows = train_grid(
        colour_dataset,
        ["vgg16", "resnet50"],
        list(HEADS),
        base,
        RANDOM,
        on_progress=progress.append,
        on_epoch=epochs.append,
        on_row=lambda r, result: finished.append((r, result)),
    )
    assert len(rows) == 6 and rows == ranked(rows)
    assert {(r.backbone, r.head) for r in rows} == {
        (b, h) for b in ("vgg16", "resnet50") for h in HEADS
    }
    for r in rows:
        assert r.test_images == 3  # one of 8 per class
        assert r.test_interval[0] <= r.test_accuracy <= r.test_interval[1]
        assert np.isfinite(r.val_loss) and r.size_mb > 10 and r.ms_per_image > 0
        assert r.feature_seconds > 0 and r.train_seconds > 0
    # One feature pass per backbone, shared by its three heads.
    passes = {p.run for p in progress if p.phase == "extracting features"}
    assert passes == {"vgg16", "resnet50"}
    assert [p.run_index for p in progress if p.phase == "training head"][-1] == 6
    assert {p.runs for p in progress} == {6}
    assert len(epochs) == 12 and {e.run for e in epochs} == {r.key for r in rows}
    # Every combination was judged on the same split, and a row says what its result says.
    for r, result in finished:
        assert result.evaluation.split_sizes == (15, 6, 3)
        assert result.evaluation.accuracy == r.test_accuracy
        assert result.model.input_shape == (None, 48, 48, 3)
    # A combination trains exactly as its single run does (same features, seed and split).
    from model_zoo.finetune.training import train

    single = train(
        colour_dataset, dataclasses.replace(base, backbone="resnet50", head="gap"), RANDOM
    )
    grid_result = next(res for r, res in finished if r.key == "resnet50 + gap")
    assert [h.val_loss for h in single.history] == pytest.approx(
        [h.val_loss for h in grid_result.history], abs=1e-5
    )
    assert single.evaluation.accuracy == grid_result.evaluation.accuracy
    # Feature pass seconds are the backbone's: the same for its heads.
    by_backbone = {r.backbone: r.feature_seconds for r in rows}
    assert all(r.feature_seconds == by_backbone[r.backbone] for r in rows)


@pytest.mark.slow
def test_stop_ends_the_grid_and_keeps_what_finished(colour_dataset):
    from model_zoo.finetune.grid import train_grid

    stop = threading.Event()
    base = TrainConfig(epochs=2, batch_size=8, image_size=48)
    rows = train_grid(
        colour_dataset,
        ["resnet50", "vgg16"],
        ["gap", "gap_dropout"],
        base,
        RANDOM,
        stop=stop,
        on_row=lambda r, result: stop.set(),
    )
    assert [(r.backbone, r.head) for r in rows] == [("resnet50", "gap")]
    stop.set()
    with pytest.raises(TrainingStopped):
        train_grid(colour_dataset, ["resnet50"], ["gap"], base, RANDOM, stop=stop)


@pytest.mark.slow
def test_the_grid_refuses_augmentation_and_bad_settings(colour_dataset):
    from model_zoo.finetune.grid import train_grid

    with pytest.raises(ValueError, match="leave out augmentation"):
        train_grid(colour_dataset, ["vgg16"], ["gap"], TrainConfig(augment=True), RANDOM)
    with pytest.raises(ValueError, match="Unknown head"):
        train_grid(colour_dataset, ["vgg16"], ["mlp"], TrainConfig(), RANDOM)


def _with_other_test_images(dataset: Dataset, folder: Path, seed: int) -> Dataset:
    """A copy of ``dataset`` whose test-split images are replaced by noise."""
    shutil.copytree(dataset.root, folder)
    moved = tuple(tuple(folder / p.relative_to(dataset.root) for p in f) for f in dataset.files)
    copy = dataclasses.replace(dataset, root=folder, files=moved, digest=f"{dataset.digest}-x")
    paths, labels = copy.samples()
    split = train_val_test_split(labels, 0.2, 0.15, 0)
    noise = np.random.default_rng(seed)
    for i in split.test:
        Image.fromarray(noise.integers(0, 256, (40, 40, 3), dtype=np.uint8)).save(paths[i], "PNG")
    return copy


@pytest.mark.slow
def test_the_test_split_never_influences_training(colour_dataset, tmp_path):
    """Two datasets that differ only in their test images train to the same weights, the same
    history and the same temperature; only the test verdict differs."""
    from model_zoo.finetune.training import train

    other = _with_other_test_images(colour_dataset, tmp_path / "other", seed=1)
    config = TrainConfig(
        backbone="resnet50", head="gap", epochs=3, batch_size=8, image_size=48, early_stopping=False
    )
    a = train(colour_dataset, config, RANDOM)
    b = train(other, config, RANDOM)
    assert [(h.loss, h.val_loss) for h in a.history] == [(h.loss, h.val_loss) for h in b.history]
    for wa, wb in zip(a.model.get_weights(), b.model.get_weights(), strict=True):
        np.testing.assert_array_equal(wa, wb)
    assert a.evaluation.temperature == b.evaluation.temperature
    assert not np.allclose(a.evaluation.probabilities, b.evaluation.probabilities)


@pytest.mark.slow
def test_a_leaderboard_job_reports_rows_resources_and_opens_a_row(colour_dataset):
    from model_zoo.finetune.jobs import TrainingJob

    job = TrainingJob.start(
        colour_dataset,
        TrainConfig(epochs=2, batch_size=8, image_size=48),
        RANDOM,
        grid=(["resnet50"], ["gap", "dense_dropout"]),
    )
    assert job.join(timeout=300)
    snap = job.snapshot()
    assert snap.state == "done" and snap.is_grid and snap.result is None, snap.error
    assert {r.key for r in snap.rows} == {"resnet50 + gap", "resnet50 + dense_dropout"}
    assert snap.rows == tuple(ranked(snap.rows))
    assert {h.run for h in snap.history} == {r.key for r in snap.rows}
    assert snap.resources and max(s.rss_gb for s in snap.resources) > 0.2
    assert all(0 <= s.cpu_percent <= 100.5 for s in snap.resources)
    opened = job.row_result("resnet50 + dense_dropout")
    assert opened.config.head == "dense_dropout"
    best = next(r for r in snap.rows if r.key == "resnet50 + dense_dropout")
    assert opened.evaluation.accuracy == pytest.approx(best.test_accuracy, abs=1e-4)
    with pytest.raises(KeyError):
        job.row_result("vgg16 + gap")
