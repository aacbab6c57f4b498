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
    assert labels == [
        "Staffordshire bullterrier · <b>10.0%</b>",
        "crane · <b>30.0%</b>",
        "crane · <b>50.0%</b>",
    ]
    assert list(bar.customdata) == ["Staffordshire bullterrier", "crane", "crane"]


def test_long_labels_are_shortened():
    top = [ClassScore("x" * 40, "n0", 0, 0.9)]
    assert topk_figure(top).layout.annotations[0].text == "x" * 27 + "… · <b>90.0%</b>"
