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
    assert list(fig.layout.yaxis.ticktext) == ["Staffordshire bul…", "crane", "crane"]
    assert list(bar.customdata) == ["Staffordshire bullterrier", "crane", "crane"]
    assert list(bar.text) == ["10.0%", "30.0%", "50.0%"]
