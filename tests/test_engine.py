"""The OpenVINO engine against Keras (parity), its settings, cache, fallback and loader."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from model_zoo import engine, engine_choice, runtime
from model_zoo.engine import EngineSettings, engine_settings
from model_zoo.images import load_image, resize
from model_zoo.registry import MODELS
from model_zoo.weights import WeightsSource

# Parity thresholds, stated. f32 is the same arithmetic in another order (measured: within
# 4e-6). bf16 keeps 8 bits of mantissa in the matrix products; on these random models with a
# sharpened head, whose top classes are often near-ties, probabilities moved by up to 5.4e-2
# over three seeds and the top-1 changed on at most 1 of the 5 inputs.
F32_MAX_DIFF = 1e-4
BF16_MAX_DIFF = 6e-2
BF16_MIN_TOP1_SAME = 4  # of 5 inputs
BF16_MIN_TOP5_OVERLAP = 4


def _varied_inputs(size: int, cat_bytes: bytes) -> np.ndarray:
    """A real photo, it mirrored, noise, flat grey, a gradient: (5, size, size, 3)."""
    photo = resize(load_image(cat_bytes), size)
    noise = np.random.default_rng(1).uniform(0, 255, (size, size, 3))
    ramp = np.linspace(0, 255, size)
    gradient = np.stack(
        [
            np.tile(ramp, (size, 1)),
            np.tile(ramp[:, None], (1, size)),
            128 + 0 * np.tile(ramp, (size, 1)),
        ],
        -1,
    )
    grey = np.full((size, size, 3), 128.0)
    return np.stack([photo, photo[:, ::-1], noise, grey, gradient]).astype(np.float32)


def _sharpen_head(model, pixels: np.ndarray, spec) -> None:
    """Scales the random final layer so its logits spread with std 4: a peaked softmax like
    a trained model's, where a difference between engines would show."""
    probs = np.asarray(model(spec.preprocess_input(pixels.copy()), training=False))
    spread = float(np.log(probs + 1e-30).std(axis=1).mean())
    dense = model.get_layer("predictions")
    kernel, bias = dense.get_weights()
    scale = 4.0 / max(spread, 1e-6)
    dense.set_weights([kernel * scale, bias * scale])


@pytest.mark.parametrize("name", list(MODELS))
def test_openvino_matches_keras(name, tmp_path, cat_bytes):
    spec = MODELS[name]
    runtime.keras().utils.set_random_seed(0)  # the same model on every run
    model = spec.constructor(weights=None)
    pixels = _varied_inputs(spec.input_size, cat_bytes)
    _sharpen_head(model, pixels, spec)
    expected = np.asarray(engine.tensorflow_function(spec, model)(pixels))
    assert np.median(expected.max(axis=1)) > 0.1  # peaked, not random weights' flat softmax

    for precision, limit in (("f32", F32_MAX_DIFF), ("bf16", BF16_MAX_DIFF)):
        xml = engine.convert_to_openvino(spec, model, tmp_path / precision, precision)
        got = engine.OpenVINOEngine(xml, precision)(pixels)
        assert got.shape == (5, 1000)
        worst = float(np.abs(got - expected).max())
        assert worst <= limit, f"{precision}: max |Δp| {worst:.2e} > {limit:.0e}"
        top_ours, top_theirs = np.argsort(-got)[:, :5], np.argsort(-expected)[:, :5]
        if precision == "f32":
            assert np.array_equal(top_ours, top_theirs)
        else:
            assert np.sum(top_ours[:, 0] == top_theirs[:, 0]) >= BF16_MIN_TOP1_SAME
            for a, b in zip(top_ours, top_theirs, strict=True):
                assert len(set(a) & set(b)) >= BF16_MIN_TOP5_OVERLAP


def test_bf16_is_stored_as_fp16_weights_and_f32_as_f32(tmp_path):
    spec = MODELS["resnet50"]
    source = WeightsSource("random")
    assert engine.ir_folder(spec, source, "bf16").name.endswith("-fp16")
    assert engine.ir_folder(spec, source, "f32").name.endswith("-f32")


def test_settings_from_the_environment(monkeypatch):
    monkeypatch.setenv("MODEL_ZOO_ENGINE", "TensorFlow")
    monkeypatch.setenv("MODEL_ZOO_PRECISION", "bf16")
    settings = engine_settings()
    assert settings == EngineSettings("tensorflow", "bf16") and not settings.wants_openvino
    assert engine_settings("openvino", "f32").resolved_precision() == "f32"
    monkeypatch.setenv("MODEL_ZOO_ENGINE", "onnx")
    with pytest.raises(ValueError, match=r"Unknown engine 'onnx'\. Expected one of"):
        engine_settings()
    with pytest.raises(ValueError, match=r"Unknown precision 'int4'"):
        engine_settings("auto", "int4")


def test_auto_precision_follows_the_cpu(monkeypatch):
    monkeypatch.setattr(engine_choice, "native_bf16", lambda: True)
    assert EngineSettings().resolved_precision() == "bf16"
    monkeypatch.setattr(engine_choice, "native_bf16", lambda: False)
    assert EngineSettings().resolved_precision() == "f32"


def test_keras_home_uses_the_persistent_volume(monkeypatch, tmp_path):
    monkeypatch.delenv("KERAS_HOME", raising=False)
    monkeypatch.setenv("MODEL_ZOO_DATA", str(tmp_path))
    assert runtime.keras_home() == tmp_path / ".keras"
    monkeypatch.setenv("MODEL_ZOO_DATA", str(tmp_path / "absent"))  # no volume: the default
    assert runtime.keras_home() == Path.home() / ".keras"
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "mine"))  # an explicit choice wins
    assert runtime.keras_home() == tmp_path / "mine"


def test_cache_key_changes_when_a_folder_file_changes(tmp_path):
    spec = MODELS["xception"]
    source = WeightsSource("folder", tmp_path)
    file = tmp_path / spec.weights_file
    file.write_bytes(b"one")
    first = engine.ir_folder(spec, source, "f32")
    file.write_bytes(b"other file")
    assert engine.ir_folder(spec, source, "f32") != first
    assert engine.ir_folder(spec, WeightsSource("imagenet"), "f32").name.startswith(
        f"xception-imagenet-{spec.weights_md5[:8]}"
    )


@pytest.mark.slow
def test_a_failed_conversion_falls_back_to_tensorflow(monkeypatch, classifiers, rng):
    from model_zoo.compare import inference

    def broken(names, source, precision, on_done=None):
        return {n: engine.Converted(n, None, error="RuntimeError: no") for n in names}

    monkeypatch.setattr(engine, "convert", broken)  # what load_engine calls
    fallback = inference.load_classifier("resnet50", "random", EngineSettings())
    assert fallback.engine_label == "TensorFlow"
    pixels = rng.uniform(0, 255, (1, 224, 224, 3)).astype(np.float32)
    np.testing.assert_allclose(
        fallback.probabilities(pixels),
        classifiers["resnet50"].probabilities(pixels),
        atol=F32_MAX_DIFF,
    )  # the same shared random weights on both engines
    with pytest.raises(RuntimeError, match="OpenVINO could not convert ResNet50: RuntimeError"):
        inference.load_classifier("resnet50", "random", EngineSettings("openvino"))


@pytest.mark.slow
def test_converted_models_are_reused_from_the_cache(classifiers):
    source = WeightsSource("random")
    converted = engine.convert(list(MODELS), source, "f32")
    assert all(c.xml is not None and c.xml.is_file() for c in converted.values())
    assert all(c.seconds == 0 for c in converted.values())  # nothing converted again
    assert os.environ["MODEL_ZOO_CACHE"] in str(converted["vgg16"].xml)


@pytest.mark.slow
def test_loader_reports_missing_weights_per_model(tmp_path):
    from model_zoo.compare.loading import ModelLoader

    loader = ModelLoader(WeightsSource("folder", tmp_path), EngineSettings())
    loader.start(["resnet50", "xception"])
    state = loader.wait("xception", timeout=120)
    assert state.state == "failed" and state.missing
    assert "xception_weights_tf_dim_ordering_tf_kernels.h5 is not in the weights folder" in (
        state.detail
    )
    assert loader.classifier("xception") is None
    assert [s.name for s in loader.states()] == ["resnet50", "xception"]


@pytest.mark.slow
def test_a_damaged_cached_model_is_converted_again(classifiers, rng):
    from model_zoo.compare.inference import load_classifier

    xml = engine.ir_folder(MODELS["resnet50"], WeightsSource("random"), "f32") / engine.IR_FILE
    assert xml.is_file()  # the session's classifier put it there
    bin_file = xml.with_suffix(".bin")
    # Truncated on disk, as a new file: the session's engine keeps the old one mapped (its
    # pages are dropped once repacked, and truncating a mapped file in place makes its next
    # read of it a SIGBUS; this app only ever replaces cache files by rename or unlink).
    damaged = bin_file.read_bytes()[:1000]
    bin_file.unlink()
    bin_file.write_bytes(damaged)
    healed = load_classifier("resnet50", "random", EngineSettings("openvino", "f32"))
    assert healed.engine_label == "OpenVINO f32"
    assert bin_file.stat().st_size > 1000
    pixels = rng.uniform(0, 255, (1, 224, 224, 3)).astype(np.float32)
    np.testing.assert_allclose(
        healed.probabilities(pixels), classifiers["resnet50"].probabilities(pixels), atol=1e-6
    )


def test_an_engine_that_never_compiles_is_reported_in_one_line(monkeypatch, tmp_path):
    xml = tmp_path / "ir" / engine.IR_FILE
    xml.parent.mkdir()
    xml.write_text("<garbage")
    converted = engine.Converted("resnet50", xml)
    calls = []

    def convert_again(names, source, precision, on_done=None):
        calls.append(names)
        xml.parent.mkdir(exist_ok=True)
        xml.write_text("<still garbage")
        return {"resnet50": engine.Converted("resnet50", xml)}

    monkeypatch.setattr(engine, "convert", convert_again)
    compiled, outcome = engine.load_engine("resnet50", WeightsSource("random"), "f32", converted)
    assert compiled is None and calls == [["resnet50"]]  # converted again once, no more
    assert outcome.error is not None and "\n" not in outcome.error
    assert outcome.error.startswith("RuntimeError: Unable to read the model")
    assert not xml.parent.exists()  # the damaged folder does not stay in the cache


@pytest.mark.slow
def test_a_conversion_process_past_its_time_limit_is_ended(monkeypatch, tmp_path):
    import time

    monkeypatch.setenv("MODEL_ZOO_CACHE", str(tmp_path))  # nothing converted yet
    monkeypatch.setattr(engine, "CONVERT_SECONDS", 0.5)
    start = time.monotonic()
    results = list(engine._convert_in_child(["vgg16", "resnet50"], WeightsSource("random"), "f32"))
    assert time.monotonic() - start < 15  # not the minutes a conversion of two models takes
    assert [(r.name, r.xml, r.error) for r in results] == [
        (name, None, "the conversion took over 1 s and was ended") for name in ("vgg16", "resnet50")
    ]


@pytest.mark.slow
def test_models_baked_at_build_time_load_without_converting(tmp_path):
    """The Dockerfile's bake step (``python -m model_zoo.engine … --precision P`` into
    ``$MODEL_ZOO_BAKED``), then a fresh process with an empty cache: the model loads from
    the baked folder, with no conversion and no TensorFlow."""
    import json
    import os
    import subprocess
    import sys

    baked, empty = tmp_path / "baked", tmp_path / "empty"
    env = {**os.environ, "MODEL_ZOO_CACHE": str(baked)}
    command = [sys.executable, "-m", "model_zoo.engine", "resnet50", "--weights", "random"]
    made = subprocess.run([*command, "--precision", "f32"], env=env, capture_output=True, text=True)
    assert made.returncode == 0, made.stderr[-2000:]
    code = (
        "import json, sys\n"
        "from model_zoo.compare.inference import load_classifier\n"
        "c = load_classifier('resnet50', 'random')\n"
        "print(json.dumps([str(c.engine.xml), c.engine_label, 'tensorflow' in sys.modules]))\n"
    )
    env = {**os.environ, "MODEL_ZOO_CACHE": str(empty), "MODEL_ZOO_BAKED": str(baked)}
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    xml, label, tensorflow = json.loads(run.stdout.strip().splitlines()[-1])
    assert xml.startswith(str(baked)) and label == "OpenVINO f32" and tensorflow is False
    assert not (empty / "openvino").exists()  # nothing converted
    failed = subprocess.run(
        [*command[:4], "--weights", str(tmp_path / "no-weights"), "--precision", "f32"],
        env={**os.environ, "MODEL_ZOO_CACHE": str(baked)},
        capture_output=True,
        text=True,
    )
    assert failed.returncode == 1  # a bake that cannot convert fails the image's build


@pytest.mark.parametrize(
    ("names", "workers", "groups"),
    [
        (["resnet50"], 2, [["resnet50"]]),
        (["resnet50", "vgg16"], 1, [["vgg16", "resnet50"]]),
        (["resnet50", "vgg16"], 2, [["vgg16"], ["resnet50"]]),
        (
            list(MODELS)[:5],
            2,
            [["vgg19", "inception_v3"], ["vgg16", "resnet50", "xception"]],
        ),
    ],
)
def test_conversions_are_dealt_to_children_heaviest_first(names, workers, groups):
    assert engine.conversion_groups(names, workers) == groups


def test_children_converting_at_once_each_report_every_model(monkeypatch):
    """Two children: every model's outcome comes back once, whichever child finishes first,
    and one child's failure leaves the other's models converted."""
    import threading

    started = []
    both = threading.Barrier(2, timeout=10)  # proves the two run at the same time

    def fake_child(group, source, precision):
        started.append(group)
        both.wait()
        for name in group:
            failed = name == "vgg16"
            yield engine.Converted(name, None if failed else Path(f"/ir/{name}.xml"))

    monkeypatch.setattr(engine, "_convert_in_child", fake_child)
    monkeypatch.setattr(engine, "CONVERT_WORKERS", 2)
    names = ["vgg16", "vgg19", "resnet50", "inception_v3", "xception"]
    results = list(engine._convert_in_children(names, WeightsSource("random"), "f32"))
    assert sorted(r.name for r in results) == sorted(names)
    assert len(started) == 2
    assert {r.name for r in results if r.xml is None} == {"vgg16"}
