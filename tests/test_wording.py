"""One vocabulary: display names and one percentage format on every surface a person reads;
machine ids in CSV columns of their own; never more "top" classes than there are."""

from __future__ import annotations

import csv
import io

import pytest

from model_zoo import wording
from model_zoo.finetune.leaderboard import Row
from model_zoo.labels import ClassScore
from model_zoo.predict import PhotoAnswers, PredictionRow, answers_csv, rows_csv
from tests.vocabulary import problems
from ui.batch import answers_table, predictions_table


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.5162, "51.6%"),
        (0.517, "51.7%"),
        (1.0, "100.0%"),
        (0.0, "0.0%"),
        (0.00023, "0.0%"),
        (float("nan"), "–"),
        (None, "–"),
    ],
)
def test_one_percentage_format(value, text):
    assert wording.percent(value) == text


@pytest.mark.parametrize(
    ("key", "label"),
    [
        ("inception_v3", "InceptionV3"),
        ("resnet50 + gap", "ResNet50 · global pool"),
        ("vgg16 + gap_dropout", "VGG16 · global pool + dropout"),
        ("xception + dense_dropout", "Xception · dense 256 + dropout"),
    ],
)
def test_display_names_come_from_the_registry_and_the_head_table(key, label):
    assert wording.run_label(key) == label


def read_csv(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def _score(label: str, score: float) -> ClassScore:
    return ClassScore(label=label, class_id="n0", index=0, score=score)


IMAGENET_ROWS = [
    PhotoAnswers(
        "trip/cat.jpg",
        (("vgg16", _score("tabby", 0.51623)), ("inception_v3", _score("water_ouzel", 0.0023))),
        _score("tabby", 0.3),
    ),
    PhotoAnswers("trip/notes.txt", error="not an image file type"),
]
TWO_CLASS_ROWS = [
    PredictionRow("a.jpg", (("ants", 0.5162), ("bees", 0.4838))),
    PredictionRow("b.jpg", (("bees", 0.517), ("ants", 0.483)), not_sure=True),
]


def _cells(table: list[dict]) -> list[str]:
    return [*table[0], *(v for row in table for v in row.values() if isinstance(v, str))]


# Every table a person reads, as the strings it shows.
SURFACES = {
    "Compare's zip table": lambda: _cells(answers_table(IMAGENET_ROWS)),
    "the batch table": lambda: _cells(predictions_table(TWO_CLASS_ROWS)),
    "a leaderboard row": lambda: [
        Row("inception_v3", "gap_dropout", 0.83, (0.6, 0.94), 0.4, 1, 2, 90, 30, 18).label
    ],
    "the progress line's run": lambda: [wording.run_label("vgg19 + dense_dropout")],
}


@pytest.mark.parametrize("surface", SURFACES)
def test_every_surface_speaks_one_vocabulary(surface):
    texts = SURFACES[surface]()
    assert texts and problems(texts) == []


@pytest.mark.parametrize(
    "text",
    ["51.62%", "52%", "vgg16 0.0023", "Results · resnet50 + gap", "head gap_dropout"],
)
def test_the_vocabulary_check_catches_what_the_newcomer_saw(text):
    assert problems([text])


def test_the_batch_table_shows_no_more_classes_than_the_model_has():
    table = predictions_table(TWO_CLASS_ROWS)
    assert "top 2" in table[0] and "top 5" not in table[0]
    assert table[0]["top 2"] == "ants 51.6%, bees 48.4%"
    assert table[0]["score"] == pytest.approx(51.62)  # a bar from 0 to 100, read as 51.6%


def test_the_csvs_keep_ids_and_numbers_in_columns_of_their_own():
    imagenet = read_csv(answers_csv(IMAGENET_ROWS))
    assert list(imagenet[0]) == [
        "file",
        "vgg16",
        "vgg16_score",
        "inception_v3",
        "inception_v3_score",
        "ensemble",
        "ensemble_score",
        "error",
    ]
    assert imagenet[0]["inception_v3"] == "water_ouzel"
    assert float(imagenet[0]["inception_v3_score"]) == pytest.approx(0.0023)
    assert imagenet[1]["error"] == "not an image file type" and imagenet[1]["vgg16"] == ""
    batch = read_csv(rows_csv(TWO_CLASS_ROWS))
    assert list(batch[0]) == ["file", "top1", "score", "top2", "not_sure", "error"]
    assert batch[1]["top1"] == "not sure" and float(batch[1]["score"]) == pytest.approx(0.517)
