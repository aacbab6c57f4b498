import numpy as np
import pytest

from model_zoo.labels import ClassScore
from ui.charts import topk_figure


def test_topk_figure_keeps_duplicate_labels_apart_and_best_on_top():
    top = [
        ClassScore("crane", "n02012849", 134, 0.5),
        ClassScore("crane", "n03126707", 517, 0.3),
        ClassScore("Staffordshire_bullterrier", "n02093256", 179, 0.1),
    ]
    fig = topk_figure(top)
    bar = fig.data[0]
    assert list(bar.y) == [0, 1, 2]  # three bars, even with two "crane"s
    assert list(bar.x) == [10.0, 30.0, 50.0]  # plotted bottom-up: best ends on top
    labels = [a.text for a in fig.layout.annotations]  # above each bar, bottom-up
    assert labels == ["Staffordshire bullterrier", "crane", "crane"]
    assert list(bar.text) == ["<b>10.0%</b>", "<b>30.0%</b>", "<b>50.0%</b>"]  # at the bars
    assert list(bar.customdata) == ["Staffordshire bullterrier", "crane", "crane"]


def test_long_labels_are_shortened():
    top = [ClassScore("x" * 40, "n0", 0, 0.9)]
    [label] = topk_figure(top).layout.annotations
    assert label.text == "x" * 25 + "…"


def test_confusion_matrix_colours_right_answers_and_mistakes_apart():
    import numpy as np

    from ui.charts import confusion_figure

    counts = np.array([[5, 2, 0], [0, 4, 1], [3, 0, 6]])
    empty, right, wrong = confusion_figure(counts, ["a", "b", "c"]).data[:3]
    assert np.array_equal(np.nan_to_num(np.array(empty.z, dtype=float), nan=-1) == 0, counts == 0)
    assert right.colorscale != wrong.colorscale
    diagonal = np.eye(3, dtype=bool)
    assert np.array_equal(
        np.nan_to_num(np.array(right.z, dtype=float)), np.where(diagonal, counts, 0)
    )
    assert np.array_equal(
        np.nan_to_num(np.array(wrong.z, dtype=float)), np.where(diagonal, 0, counts)
    )
    assert np.isnan(np.array(wrong.z, dtype=float)[0, 2])  # an empty cell stays uncoloured


def test_names_and_counts_read_well():
    from ui.common import agreement_message, plural, short_name

    assert plural(1, "epoch") == "1 epoch" and plural(3, "epoch") == "3 epochs"
    long = "IMG_20231224_181512_holiday_cat_on_sofa.jpeg"
    assert short_name(long) == "IMG_20231…ofa.jpeg"  # one line in a narrow column
    assert short_name("cat.jpg") == "cat.jpg"
    assert agreement_message("tabby", 5, 5) == ("success", "All 5 models agree: **tabby**.")
    assert agreement_message("tabby", 1, 5) == (
        "warning",
        "The models disagree: all 5 first choices differ.",
    )
    assert "(3 of 5)" in agreement_message("tabby", 3, 5)[1]
    assert agreement_message("tabby", 1, 1) is None


def test_leaderboard_chart_plots_accuracy_with_its_interval_against_speed():
    from model_zoo.finetune.leaderboard import Row
    from ui.charts import leaderboard_figure

    rows = [
        Row("resnet50", "gap", 0.8, (0.6, 0.9), 0.5, 1.0, 2.0, 94.0, 60.0, 20),
        Row("resnet50", "dense_dropout", 0.7, (0.5, 0.85), 0.6, 1.0, 2.0, 103.0, 61.0, 20),
        Row("vgg16", "gap", 0.5, (0.3, 0.7), 0.9, 1.0, 3.0, 59.0, 150.0, 20),
    ]
    resnet, vgg = leaderboard_figure(rows).data
    assert (resnet.name, vgg.name) == ("ResNet50", "VGG16")
    assert list(resnet.x) == [60.0, 61.0] and list(resnet.y) == [80.0, 70.0]
    assert list(resnet.error_y.array) == pytest.approx([10.0, 15.0])  # up to the high end
    assert list(resnet.error_y.arrayminus) == pytest.approx([20.0, 20.0])
    assert list(resnet.customdata) == ["resnet50 + gap", "resnet50 + dense_dropout"]
    assert resnet.marker.symbol[0] != resnet.marker.symbol[1]  # one shape per head


def test_reliability_and_abstention_charts_show_what_was_measured():
    from model_zoo.finetune.calibration import abstention_curve, reliability
    from ui.charts import abstention_figure, reliability_figure

    probs = np.array([[0.9, 0.1], [0.8, 0.2], [0.4, 0.6], [0.3, 0.7]])
    labels = np.array([0, 1, 1, 1])
    before = reliability(probs, labels)
    fig = reliability_figure(before, before)
    assert "ECE" in fig.data[1].name and f"{before.ece:.3f}" in fig.data[1].name
    assert list(fig.data[1].customdata) == list(before.counts)
    curve = abstention_curve(probs, labels)
    fig = abstention_figure(curve, 0.75)
    coverage, accuracy = fig.data
    assert coverage.y[0] == 100 and coverage.y[75] == 50  # half the images reach 75%
    assert accuracy.y[75] == 50  # of those two, one is right
    assert fig.layout.shapes[0].x0 == 75


def test_resource_chart_adds_gpu_lines_only_with_a_gpu():
    from model_zoo.finetune.resources import Sample
    from ui.charts import resources_figure

    cpu_only = [Sample(0.0, 50.0, 1.0), Sample(1.0, 90.0, 1.5)]
    assert [t.name for t in resources_figure(cpu_only).data] == ["CPU %", "memory (GB)"]
    gpu = [Sample(0.0, 50.0, 1.0, 30.0, 2.0), Sample(1.0, 60.0, 1.2, 95.0, 4.0)]
    names = [t.name for t in resources_figure(gpu).data]
    assert names == ["CPU %", "memory (GB)", "GPU %", "GPU memory (GB)"]
    assert list(resources_figure(gpu).data[2].y) == [30.0, 95.0]


@pytest.mark.parametrize(
    "counts",
    [[[5, 0], [0, 4]], [[0, 0], [0, 0]], [[1, 2, 0], [0, 0, 3], [4, 0, 0]], [[7]]],
)
def test_every_confusion_cell_shows_its_count_on_a_visible_cell(counts):
    import numpy as np

    from ui.charts import EMPTY_CELL, confusion_figure

    counts = np.array(counts)
    layers = confusion_figure(counts, [f"c{i}" for i in range(len(counts))]).data[:3]
    shown = np.full(counts.shape, -1.0)
    for layer in layers:  # each cell is drawn by exactly one layer, with its count as text
        z = np.array(layer.z, dtype=float)
        assert layer.texttemplate == "%{z}" and layer.xgap and layer.ygap
        assert not np.any((shown >= 0) & ~np.isnan(z))
        shown = np.where(np.isnan(z), shown, z)
    assert np.array_equal(shown, counts)
    empty = layers[0]
    assert all(colour == EMPTY_CELL for _, colour in empty.colorscale)
    assert EMPTY_CELL.lower() not in ("white", "#fff", "#ffffff")
