"""Training with random weights at small image sizes: both paths, Stop, cache, export."""

import threading

import numpy as np
import pytest

from model_zoo.artifact.export import export_zip, write_export
from model_zoo.finetune.features import FEATURES
from model_zoo.finetune.model import preprocessing_layer
from model_zoo.finetune.settings import TrainConfig, TrainingStopped
from model_zoo.finetune.split import stratified_split
from model_zoo.finetune.training import train
from model_zoo.registry import MODELS
from model_zoo.weights import WeightsSource
from tests.conftest import load_exported

RANDOM = WeightsSource("random")


@pytest.mark.parametrize("name", list(MODELS))
def test_preprocessing_layer_equals_the_familys_function(name, rng):
    spec = MODELS[name]
    pixels = rng.uniform(0, 255, (2, 8, 8, 3)).astype(np.float32)
    ours = np.asarray(preprocessing_layer(spec)(pixels))
    np.testing.assert_allclose(
        ours, np.asarray(spec.preprocess_input(pixels.copy())), rtol=1e-5, atol=1e-4
    )


def test_stratified_split_keeps_class_proportions_and_is_seeded():
    labels = np.repeat([0, 1, 2], [10, 20, 5])
    train_idx, val_idx = stratified_split(labels, 0.2, seed=3)
    assert sorted(np.concatenate([train_idx, val_idx]).tolist()) == list(range(35))
    assert np.bincount(labels[val_idx]).tolist() == [2, 4, 1]
    again = stratified_split(labels, 0.2, seed=3)
    assert np.array_equal(again[1], val_idx)
    assert not np.array_equal(stratified_split(labels, 0.2, seed=4)[1], val_idx)


def test_three_way_split_is_disjoint_stratified_and_seeded():
    from model_zoo.finetune.split import train_val_test_split

    labels = np.repeat([0, 1, 2], [40, 20, 3])
    split = train_val_test_split(labels, 0.15, 0.15, seed=7)
    everything = np.concatenate([split.train, split.val, split.test])
    assert sorted(everything.tolist()) == list(range(63))  # disjoint and complete
    assert np.bincount(labels[split.test], minlength=3).tolist() == [6, 3, 1]
    assert np.bincount(labels[split.val], minlength=3).tolist() == [6, 3, 1]
    assert sum(split.sizes()) == 63 and split.sizes()[0] == 63 - 10 - 10
    again = train_val_test_split(labels, 0.15, 0.15, seed=7)
    assert np.array_equal(again.test, split.test) and np.array_equal(again.val, split.val)
    assert not np.array_equal(train_val_test_split(labels, 0.15, 0.15, seed=8).test, split.test)
    with pytest.raises(ValueError, match="at least 3 images"):
        train_val_test_split(np.repeat([0, 1], [5, 2]), 0.2, 0.2, seed=0)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"epochs": 0}, "Epochs must be 1..100; got 0"),
        ({"batch_size": 1000}, "Batch size must be 1..256"),
        ({"learning_rate": 0}, "Learning rate must be in"),
        ({"val_split": 0.9}, "Validation split must be between 0.05 and 0.5"),
        ({"image_size": 40, "backbone": "xception"}, "Image size for Xception must be 71..299"),
        ({"head": "mlp"}, "Unknown head 'mlp'"),
        ({"backbone": "alexnet"}, "Unknown model 'alexnet'"),
    ],
)
def test_bad_settings_are_refused(change, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**change).validated()


@pytest.mark.slow
def test_cached_feature_path_trains_evaluates_and_caches(colour_dataset):
    FEATURES.clear()
    phases, epochs, reports = [], [], []

    def on_progress(progress):
        phases.append(progress.phase)
        reports.append(progress)

    config = TrainConfig(
        backbone="resnet50", head="gap", epochs=3, batch_size=8, image_size=48, early_stopping=False
    )
    result = train(colour_dataset, config, RANDOM, on_progress=on_progress, on_epoch=epochs.append)
    assert [e.epoch for e in epochs] == [1, 2, 3]
    assert all(e.phase == "training head" and np.isfinite(e.val_loss) for e in epochs)
    assert "extracting features" in phases and "loading images" in phases
    assert result.model.input_shape == (None, 48, 48, 3)
    ev = result.evaluation
    assert ev.confusion.sum() == len(ev.labels) == 3  # 1 of 8 per class tested
    assert ev.split_sizes == (15, 6, 3)
    assert ev.accuracy == pytest.approx(np.trace(ev.confusion) / 3)
    assert ev.interval[0] <= ev.accuracy <= ev.interval[1]
    assert 0.05 <= ev.temperature <= 20 and np.isfinite(ev.val_loss)
    assert [c.name for c in ev.per_class] == list(colour_dataset.classes)
    assert result.best_epoch == 1 + int(np.argmin([e.val_loss for e in epochs]))
    assert result.feature_images_per_second > 0
    assert result.feature_engine == "TensorFlow"  # 24 images: converting would cost more
    # The test outputs came from the cached features (an f32 pass): they are the model's own,
    # as it will be downloaded, on the test images.
    from model_zoo.finetune.split import train_val_test_split
    from model_zoo.images import load_image, resize

    paths, labels = colour_dataset.samples()
    split = train_val_test_split(labels, config.val_split, config.test_split, config.seed)
    test_pixels = np.stack(
        [resize(load_image(paths[i].read_bytes()), 48).round().astype(np.uint8) for i in split.test]
    )
    np.testing.assert_allclose(
        np.asarray(result.model.predict_on_batch(test_pixels.astype(np.float32))),
        ev.probabilities,
        rtol=1e-4,
        atol=1e-5,
    )
    # Every phase is named as it comes, each with a time left for the whole run, ending at 0.
    seen = list(dict.fromkeys(phases))
    assert seen == [
        "loading images",
        "building the backbone",
        "extracting features",
        "training head",
        "evaluating",
    ]
    # A range until the first epoch is measured, then one figure, 0 only at the very end.
    assert reports[0].eta_low is None or reports[0].eta_low < reports[0].eta_high
    assert all(r.eta_seconds is not None and r.eta_seconds >= 1 for r in reports[-5:-1])
    assert reports[-1].eta_seconds == 0
    assert all(r.at >= 0 for r in reports) and reports[-1].at == max(r.at for r in reports)

    phases.clear()
    again = train(colour_dataset, config, RANDOM, on_progress=lambda p: phases.append(p.phase))
    assert "extracting features" not in phases  # one backbone pass per dataset and backbone
    assert again.feature_seconds == 0.0


@pytest.mark.slow
def test_a_large_feature_pass_runs_on_openvino_and_matches_tensorflow(
    colour_dataset, monkeypatch, tmp_path
):
    import model_zoo.finetune.features as features

    config = TrainConfig(backbone="xception", head="gap", epochs=1, image_size=75)
    cache = features.CachedFeatures(colour_dataset, config, RANDOM, None)
    assert cache.engine_folder is not None and "xception-notop-random-seed" in str(
        cache.engine_folder
    )
    from model_zoo.finetune.model import build_backbone

    backbone = build_backbone(config.spec, RANDOM, 75)
    pixels = np.random.default_rng(0).integers(0, 255, (40, 75, 75, 3)).astype(np.uint8)
    reference, _, engine = features.extract_features(backbone, config.spec, pixels, 16, True)
    assert engine == "TensorFlow"
    folder = tmp_path / "ir"
    monkeypatch.setattr(features, "OPENVINO_MIN_IMAGES", 0)
    cache.engine_folder = folder
    ours = cache.extract(backbone, pixels)
    assert cache.engine == "OpenVINO f32" and (folder / "model.xml").is_file()
    np.testing.assert_allclose(ours, reference, rtol=1e-4, atol=1e-4 * np.abs(reference).max())
    converted_at = (folder / "model.xml").stat().st_mtime_ns
    again, _, engine = features.extract_features(
        backbone, config.spec, pixels[:5], 16, True, engine_folder=folder
    )  # the converted backbone is reused
    assert engine == "OpenVINO f32"
    assert (folder / "model.xml").stat().st_mtime_ns == converted_at
    np.testing.assert_allclose(again, ours[:5], rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_full_path_with_augmentation_and_unfreezing(colour_dataset):
    config = TrainConfig(
        backbone="resnet50",
        head="gap_dropout",
        epochs=1,
        batch_size=8,
        image_size=48,
        augment=True,
        unfreeze=5,
        fine_tune_epochs=1,
        early_stopping=False,
    )
    phases = []
    result = train(colour_dataset, config, RANDOM, on_progress=lambda p: phases.append(p.phase))
    assert [h.phase for h in result.history] == ["training head", "fine-tuning"]
    assert "extracting features" not in phases  # augmentation: images every epoch
    # the exported model has no augmentation layers: they only act while training
    assert not [layer for layer in result.model.layers if "augment" in layer.name]
    assert result.model.input_shape == (None, 48, 48, 3)


@pytest.mark.slow
def test_unfreezing_trains_top_layers_only_and_keeps_batchnorm(colour_dataset, monkeypatch):
    import model_zoo.finetune.model as assembly

    built = {}
    real = assembly.build_backbone

    def spy(spec, weights, size):
        built["backbone"] = real(spec, weights, size)
        built["before"] = {
            layer.name: [w.copy() for w in layer.get_weights()]
            for layer in built["backbone"].layers
        }
        return built["backbone"]

    monkeypatch.setattr(assembly, "build_backbone", spy)
    config = TrainConfig(
        backbone="resnet50",
        head="gap",
        epochs=1,
        batch_size=8,
        image_size=48,
        unfreeze=5,
        fine_tune_epochs=2,
        early_stopping=False,
        learning_rate=0.05,
    )
    result = train(colour_dataset, config, RANDOM)
    assert [h.phase for h in result.history] == ["training head", "fine-tuning", "fine-tuning"]
    backbone, before = built["backbone"], built["before"]

    def changed(name):
        return any(
            not np.array_equal(a, b)
            for a, b in zip(before[name], backbone.get_layer(name).get_weights(), strict=True)
        )

    # the kept weights are the best epoch's: fine-tuned top layers only if that epoch was one
    # of the fine-tuning stage, else the frozen stage's weights restored exactly
    assert changed("conv5_block3_3_conv") == (result.best_epoch > 1)
    assert not changed("conv5_block3_3_bn")  # BatchNorm: frozen, statistics untouched
    assert not changed("conv1_conv")  # below the top 5 layers
    assert not backbone.trainable  # left frozen after the run


@pytest.mark.slow
def test_unfreeze_top_layers_leaves_batchnorm_and_lower_layers_frozen():
    from model_zoo.finetune.model import FineTuned, build_backbone

    backbone = build_backbone(MODELS["resnet50"], RANDOM, 48)
    FineTuned(None, backbone, []).unfreeze_top(5)
    trainable = [layer.name for layer in backbone.layers if layer.trainable]
    top5 = [layer.name for layer in backbone.layers[-5:]]
    assert trainable == [n for n in top5 if not n.endswith("_bn")]
    assert "conv5_block3_3_conv" in trainable and "conv5_block3_3_bn" in top5


@pytest.mark.slow
def test_stop_ends_within_one_batch_and_keeps_the_best_weights(colour_dataset):
    stop = threading.Event()
    batches_after_stop = []

    def on_epoch(log):
        if log.epoch == 2:
            stop.set()

    def on_progress(progress):
        if stop.is_set() and progress.phase == "training head":
            batches_after_stop.append(progress)

    config = TrainConfig(
        backbone="resnet50",
        head="gap",
        epochs=50,
        batch_size=4,
        image_size=48,
        augment=True,
        early_stopping=False,
    )
    result = train(
        colour_dataset, config, RANDOM, stop=stop, on_epoch=on_epoch, on_progress=on_progress
    )
    assert result.stopped
    assert len(result.history) == 2  # epoch 3 never finished
    assert len(batches_after_stop) <= 1  # at most the batch already under way
    assert result.best_epoch in (1, 2)
    assert result.evaluation.val_loss == pytest.approx(
        min(h.val_loss for h in result.history), rel=0.05
    )


@pytest.mark.slow
def test_stop_before_the_first_epoch_keeps_nothing(colour_dataset):
    stop = threading.Event()
    stop.set()
    with pytest.raises(TrainingStopped):
        train(
            colour_dataset,
            TrainConfig(backbone="resnet50", image_size=48, epochs=2),
            RANDOM,
            stop=stop,
        )


@pytest.mark.slow
def test_export_reloads_in_safe_mode_with_the_same_predictions(colour_dataset, tmp_path, rng):
    import zipfile

    config = TrainConfig(
        backbone="vgg16", head="dense_dropout", epochs=1, batch_size=8, image_size=40
    )
    result = train(colour_dataset, config, RANDOM)
    paths = write_export(result, tmp_path / "out", threshold=0.7).paths
    assert [p.name for p in paths] == [
        "model.keras",
        "labels.json",
        "MODEL_CARD.md",
        "metrics.json",
    ]
    reloaded = load_exported(tmp_path / "out" / "model.keras")
    assert not [layer for layer in reloaded.layers if type(layer).__name__ == "Lambda"]
    pixels = rng.uniform(0, 255, (4, 40, 40, 3)).astype(np.float32)
    np.testing.assert_allclose(
        np.asarray(reloaded(pixels)), np.asarray(result.model(pixels)), rtol=1e-5, atol=1e-6
    )
    card = (tmp_path / "out" / "MODEL_CARD.md").read_text()
    assert "VGG16 · dense 256 + dropout" in card and "random weights" in card
    assert "(`dense_dropout`)" in card  # the id too, for the settings it was trained with
    assert "class_a, class_b, class_c" in card
    # Temperature and threshold travel with the model, and the card says how to use them.
    labels = __import__("json").loads((tmp_path / "out" / "labels.json").read_text())
    assert labels["temperature"] == result.evaluation.temperature and labels["threshold"] == 0.7
    assert 'Not sure" below 70.0%' in card and f"{result.evaluation.temperature:.3g}" in card
    assert "3 tested once" in card
    with zipfile.ZipFile(__import__("io").BytesIO(export_zip(result).data)) as zf:
        assert sorted(zf.namelist()) == [
            "MODEL_CARD.md",
            "labels.json",
            "metrics.json",
            "model.keras",
        ]
