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
