"""The data doctor: copies and leaks, doubted labels, quality lint, the fixes, the CLI."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest
from PIL import Image, ImageFilter

from model_zoo.archive import write_zip
from model_zoo.datasets import extract_dataset
from model_zoo.doctor.clean import dataset_zip
from model_zoo.doctor.duplicates import duplicate_groups, keep_together, leaks
from model_zoo.doctor.lint import image_issue
from model_zoo.doctor.report import Findings, LabelIssue, diagnose, split_parts
from model_zoo.finetune.split import dataset_split
from model_zoo.sample import SAMPLE_CLASSES, sample_photo
from tests.conftest import encode, run_model_zoo

PER_CLASS = 40  # 120 images: 6 flipped labels and 6 planted copies are 5% each
PLANTED = 6


def _copy(image: Image.Image, kind: int) -> Image.Image:
    """A near copy: re-encoded at another quality, resized, or shifted by one pixel."""
    if kind == 0:
        return Image.open(io.BytesIO(encode(image, "JPEG", quality=60)))
    if kind == 1:
        return image.resize((image.width * 3 // 4, image.height * 3 // 4))
    pixels = np.asarray(image)
    return Image.fromarray(np.pad(pixels[1:, 1:], ((0, 1), (0, 1), (0, 0)), mode="edge"))


def planted_zip(seed: int = 3) -> tuple[bytes, set[str], list[tuple[str, str]]]:
    """The seeded synthetic set: 5% of labels flipped, 5% near copies of other photos (in
    the same class, under other names). Returns (zip, flipped names, (original, copy))."""
    rng = np.random.default_rng(seed)
    photos = [
        (shape, sample_photo(shape, rng)) for shape in SAMPLE_CLASSES for _ in range(PER_CLASS)
    ]
    flip = set(rng.choice(len(photos), PLANTED, replace=False).tolist())
    entries, flipped, pairs = [], set(), []
    for i, (shape, image) in enumerate(photos):
        label = SAMPLE_CLASSES[(SAMPLE_CLASSES.index(shape) + 1) % 3] if i in flip else shape
        name = f"{label}/{i:03d}.jpg"
        entries.append((name, encode(image, "JPEG", quality=92)))
        if i in flip:
            flipped.add(name)
    originals = [i for i in rng.permutation(len(photos)) if i not in flip][:PLANTED]
    for k, i in enumerate(originals):
        shape, image = photos[i]
        copy = f"{shape}/copy-{k}.jpg"
        entries.append((copy, encode(_copy(image, k % 3), "JPEG", quality=88)))
        pairs.append((f"{shape}/{i:03d}.jpg", copy))
    return write_zip(entries), flipped, pairs


def test_near_copies_are_grouped_and_distinct_photos_are_not(tmp_path):
    data, _, pairs = planted_zip()
    dataset = extract_dataset(data, tmp_path)
    names = dataset.entry_names()
    groups = [{names[i] for i in g} for g in duplicate_groups(dataset.samples()[0])]
    assert sorted(map(sorted, groups)) == sorted(sorted(p) for p in pairs)


def test_an_exact_copy_is_a_copy(tmp_path):
    photo = encode(sample_photo("circle", np.random.default_rng(0)), "JPEG")
    other = [encode(sample_photo("square", np.random.default_rng(s)), "JPEG") for s in range(8)]
    entries = [("a/x.jpg", photo), ("b/y.jpg", photo)]
    entries += [(f"{'ab'[i % 2]}/{i}.jpg", o) for i, o in enumerate(other)]
    dataset = extract_dataset(write_zip(entries), tmp_path)
    names = dataset.entry_names()
    assert [[names[i] for i in g] for g in duplicate_groups(dataset.samples()[0])] == [
        ["a/x.jpg", "b/y.jpg"]
    ]


def test_copies_are_kept_in_one_part_of_the_split(tmp_path):
    data, _, _ = planted_zip()
    dataset = extract_dataset(data, tmp_path)
    plain = split_parts(dataset, 0.2, 0.15, 0)
    groups = duplicate_groups(dataset.samples()[0])
    assert leaks(plain, groups), "the seed should put some copies across the split"
    split = dataset_split(dataset, 0.2, 0.15, 0)
    kept = {"train": split.train, "validation": split.val, "test": split.test}
    assert leaks(kept, groups) == []
    assert sorted(np.concatenate(list(kept.values()))) == list(range(dataset.size))
    off = dataset_split(dataset, 0.2, 0.15, 0, keep_copies=False)
    assert [list(x) for x in (off.train, off.val, off.test)] == [list(x) for x in plain.values()]


def test_a_move_that_would_empty_a_class_part_is_not_made():
    labels = np.array([0, 0, 0, 1, 1, 1])
    parts = {"train": np.array([0, 3]), "validation": np.array([1, 4]), "test": np.array([2, 5])}
    moved = keep_together(parts, [[0, 2]], labels)  # class 0's only test image
    assert [list(moved[p]) for p in parts] == [[0, 3], [1, 4], [2, 5]]
    moved = keep_together(parts, [[0, 1, 5]], labels)
    assert [list(moved[p]) for p in parts] == [[0, 3], [1, 4], [2, 5]]  # class 1 keeps test


def _image(kind: str) -> Image.Image:
    rng = np.random.default_rng(0)
    photo = sample_photo("square", rng, side=200)
    return {
        "sharp": photo,
        "tiny": photo.resize((40, 40)),
        "dark": Image.fromarray((np.asarray(photo) * 0.08).astype(np.uint8)),
        "bright": Image.fromarray(255 - (255 - np.asarray(photo)) // 14),
        "flat": Image.new("RGB", (200, 200), (120, 130, 140)),
        "blurred": photo.filter(ImageFilter.GaussianBlur(4)),
    }[kind]


@pytest.mark.parametrize(
    ("kind", "issue"),
    [
        ("sharp", None),
        ("tiny", "tiny (40×40 pixels)"),
        ("dark", "very dark"),
        ("bright", "very bright"),
        ("flat", "near-constant (almost one flat colour)"),
        ("blurred", "blurred"),
    ],
)
def test_quality_lint_names_each_problem(tmp_path, kind, issue):
    path = tmp_path / f"{kind}.png"
    _image(kind).save(path)
    assert image_issue(path) == issue


def test_the_bundled_photos_pass_the_lint(tmp_path):
    from model_zoo.examples import EXAMPLES

    for example in EXAMPLES:
        (tmp_path / example.file).write_bytes(example.read_bytes())
    assert [image_issue(tmp_path / e.file) for e in EXAMPLES] == [None] * len(EXAMPLES)


def test_fixes_write_a_zip_that_reads_back_with_them(tmp_path):
    data, _, _ = planted_zip()
    dataset = extract_dataset(data, tmp_path / "a")
    names = dataset.entry_names()
    cleaned = dataset_zip(dataset, drop={0, 1}, relabel={2: 2})
    again = extract_dataset(cleaned, tmp_path / "b")
    assert again.size == dataset.size - 2
    assert f"{dataset.classes[2]}/{names[2].split('/')[1]}" in again.entry_names()
    assert dataset_zip(dataset) == dataset_zip(dataset)  # the same fixes, the same bytes


def test_findings_travel_as_plain_data_and_report_entry_names(tmp_path):
    data, _, _ = planted_zip()
    dataset = extract_dataset(data, tmp_path)
    findings = Findings(
        [[0, 5]], [([0, 5], ["train", "test"])], [LabelIssue(3, 0, 1, 0.01)], [(7, "blurred")]
    )
    assert Findings.from_dict(json.loads(json.dumps(findings.to_dict()))) == findings
    names = dataset.entry_names()
    assert findings.report(dataset) == {
        "duplicates": [[names[0], names[5]]],
        "leaks": [{"files": [names[0], names[5]], "splits": ["train", "test"]}],
        "label_issues": [
            {
                "file": names[3],
                "given": dataset.classes[0],
                "suggested": dataset.classes[1],
                "score": 0.01,
            }
        ],
        "lint": [{"file": names[7], "issue": "blurred"}],
    }


def test_label_checks_rank_flipped_labels_first_on_separable_features(tmp_path):
    """Features that carry the true class (one-hot plus noise) and 5% flipped labels: the
    out-of-fold ranking puts the flipped ones first. (The backbone's own features are
    checked end to end by the CLI test.)"""
    data, flipped, _ = planted_zip()
    dataset = extract_dataset(data, tmp_path)
    names, labels = dataset.entry_names(), dataset.samples()[1]
    truth = np.array(
        [int(n.split("/")[1].split(".")[0]) // PER_CLASS if "copy" not in n else -1 for n in names]
    )
    truth = np.where(truth < 0, labels, truth)
    rng = np.random.default_rng(0)
    features = np.eye(3)[truth] * 3 + rng.normal(0, 1, (len(names), 16))[:, :3].repeat(1, 1)
    findings = diagnose(dataset, features)
    top = {names[i.index] for i in findings.label_issues[: len(names) // 10]}
    assert len(top & flipped) >= 0.8 * len(flipped)


@pytest.mark.slow
def test_the_doctor_cli_finds_planted_flips_and_every_cross_split_copy(tmp_path):
    """Random weights, ResNet50's pooled features: colour-and-shape classes are separable
    by random features too (out-of-fold accuracy is printed by the short report)."""
    data, flipped, pairs = planted_zip()
    path = tmp_path / "planted.zip"
    path.write_bytes(data)
    out = tmp_path / "clean.zip"
    done = run_model_zoo("doctor", str(path), "--json", "--clean", str(out))
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert set(found) == {"duplicates", "leaks", "label_issues", "lint"}
    ranked = [x["file"] for x in found["label_issues"]]
    top = set(ranked[: (3 * PER_CLASS + PLANTED) // 10])
    share = len(top & flipped) / len(flipped)
    assert share >= 0.8, (share, ranked[:15], sorted(flipped))
    groups = {frozenset(g) for g in found["duplicates"]}
    assert {frozenset(p) for p in pairs} <= groups
    dataset = extract_dataset(data, tmp_path / "d")
    names = dataset.entry_names()
    plain = split_parts(dataset, 0.2, 0.15, 0)
    where = {names[i]: part for part, idx in plain.items() for i in idx}
    crossing = {frozenset(p) for p in pairs if where[p[0]] != where[p[1]]}
    assert crossing, "the seed should plant some copies across the split"
    assert crossing <= {frozenset(x["files"]) for x in found["leaks"]}
    assert len(found["lint"]) <= 2, found["lint"]  # sharp 160-pixel shapes, upscaled to 224
    with zipfile.ZipFile(out) as cleaned:  # copies merged, nothing else changed
        assert len(cleaned.namelist()) == dataset.size - PLANTED


def test_class_weights_are_the_inverse_of_each_class_share():
    from model_zoo.finetune.fit import Stages
    from model_zoo.finetune.settings import TrainConfig

    labels = np.array([0] * 30 + [1] * 10 + [2] * 5)
    train = np.arange(45)
    weighted = Stages(TrainConfig(class_weighted=True), labels, train, train, None, print, print)
    assert weighted.class_weight() == pytest.approx({0: 0.5, 1: 1.5, 2: 3.0})
    plain = Stages(TrainConfig(), labels, train, train, None, print, print)
    assert plain.class_weight() is None


@pytest.mark.slow
def test_a_balanced_run_shows_each_class_recall_with_and_without_weights(tmp_path):
    """An imbalanced set (20 / 8 / 6), class weighting on: the result carries the same
    head's per-class recall without it, and keeps it through the run folder."""
    from model_zoo.artifact.run_folder import load_result, save_result
    from model_zoo.finetune.settings import TrainConfig
    from model_zoo.finetune.training import train
    from model_zoo.weights import WeightsSource

    rng = np.random.default_rng(0)
    entries = [
        (f"{shape}/{i}.jpg", encode(sample_photo(shape, rng), "JPEG"))
        for shape, n in zip(SAMPLE_CLASSES, (20, 8, 6), strict=True)
        for i in range(n)
    ]
    dataset = extract_dataset(write_zip(entries), tmp_path / "job")
    config = TrainConfig(head="gap", epochs=3, batch_size=8, image_size=64, class_weighted=True)
    result = train(dataset, config, WeightsSource("random"))
    before = result.evaluation.unweighted_recall
    assert len(before) == 3 and all(0.0 <= r <= 1.0 for r in before)
    save_result(result, tmp_path / "run")
    assert load_result(tmp_path / "run").evaluation.unweighted_recall == before
    plain = train(
        dataset,
        TrainConfig(head="gap", epochs=1, batch_size=8, image_size=64),
        WeightsSource("random"),
    )
    assert plain.evaluation.unweighted_recall == ()
