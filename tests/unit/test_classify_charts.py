"""The workbench's figures from hand-built metrics: one bar per coder and category with its
bootstrap interval as asymmetric error bars, one labelled point per coder against model size,
and the confusion matrix with names for codes; names reach plotly escaped."""

import pandas as pd
import pytest

from core.app import classify_charts
from core.app.classify_results import parameters_millions
from core.errors import InvalidRequest
from core.types.agreement import NO_ANSWER, CategoryMetrics, MetricValue, ModelMetrics

NAMES = {"H": "Health", "M": "Money <b>"}


def _category(code: str, f1: MetricValue, support: int = 3) -> CategoryMetrics:
    other = MetricValue(0.5, 0.4, 0.6, 6)
    return CategoryMetrics(code, support, 3, other, other, other, other, f1)


def _model(name: str, accuracy: MetricValue, f1s: tuple[MetricValue, MetricValue], confusion=None):
    overall = {"accuracy": accuracy}
    per_category = (_category("H", f1s[0]), _category("M", f1s[1]))
    return ModelMetrics(name, 6, 1, False, overall, per_category, confusion)


SMOL = _model(
    "smol · 0-shot · abc123",
    MetricValue(0.75, 0.5, 0.9, 6),
    (MetricValue(0.8, 0.6, 0.95, 6), MetricValue(0.6, 0.3, 0.7, 6)),
    pd.DataFrame([[2, 1, 0], [0, 3, 1]], index=["H", "M"], columns=["H", "M", NO_ANSWER]),
)
GEMMA = _model(
    "gemma · 0-shot · def456",
    MetricValue(0.5, None, None, 6),  # no interval
    (MetricValue(0.4, 0.2, 0.5, 6), MetricValue.undefined(6, "the model never gave this label")),
)


def test_category_bars_group_by_label_name_with_asymmetric_intervals():
    fig = classify_charts.category_metric_bars([SMOL, GEMMA], "f1", NAMES)
    assert [(t.type, t.orientation) for t in fig.data] == [("bar", "h"), ("bar", "h")]
    assert fig.layout.barmode == "group"
    smol, gemma = fig.data
    assert smol.name == "smol · 0-shot · abc123"
    assert list(smol.y) == ["Health", "Money &lt;b&gt;"]  # names, escaped for plotly's HTML
    assert list(smol.x) == [0.8, 0.6]
    # Up to the high end, down to the low end: 0.95 − 0.8 and 0.7 − 0.6; 0.8 − 0.6, 0.6 − 0.3.
    assert list(smol.error_x.array) == pytest.approx([0.15, 0.1])
    assert list(smol.error_x.arrayminus) == pytest.approx([0.2, 0.3])
    assert smol.error_x.symmetric is False
    # An undefined F1 is a gap, not a zero, and has no error bar.
    assert list(gemma.x) == [0.4, None]
    assert list(gemma.error_x.array)[1] is None
    assert "never gave this label" in gemma.customdata[1][0]
    assert smol.marker.color != gemma.marker.color
    assert fig.layout.xaxis.title.text == "F1 (0–1)"
    assert fig.layout.yaxis.title.text == "Category"
    assert fig.layout.yaxis.autorange == "reversed"  # the codebook's first label on top


def test_other_category_metrics_and_unknown_ones():
    fig = classify_charts.category_metric_bars([SMOL], "specificity", NAMES)
    assert list(fig.data[0].x) == [0.5, 0.5]
    assert fig.layout.xaxis.title.text == "Specificity (0–1)"
    with pytest.raises(InvalidRequest, match="No per-category metric 'accuracy'"):
        classify_charts.category_metric_bars([SMOL], "accuracy", NAMES)


def test_accuracy_against_size_one_labelled_point_per_coder_with_a_size():
    sizes = pd.DataFrame(
        {
            "coder": [SMOL.model, GEMMA.model],
            "model": ["smol", "gemma"],
            "file_size_mb": [98.4, 253.1],
            "size_label": ["135M", "270M"],
            "parameters_m": [135.0, 270.0],
        }
    )
    points = classify_charts.size_points([SMOL, GEMMA], sizes)
    assert list(points.file_size_mb) == [98.4, 253.1]
    fig = classify_charts.metric_by_size(points, "parameters_m")
    assert [t.type for t in fig.data] == ["scatter", "scatter"]
    smol, gemma = fig.data
    assert (list(smol.x), list(smol.y), smol.name) == ([135.0], [0.75], SMOL.model)
    assert list(smol.text) == ["smol · 0-shot"]  # the run is in the hover and the tables
    assert list(smol.error_y.array) == pytest.approx([0.15])
    assert list(smol.error_y.arrayminus) == pytest.approx([0.25])
    assert list(gemma.error_y.array) == [None]  # a value without an interval: no bar
    assert fig.layout.xaxis.title.text == "Parameters (millions)"
    assert fig.layout.yaxis.title.text == "Accuracy (0–1)"
    by_file = classify_charts.metric_by_size(points, "file_size_mb")
    assert by_file.layout.xaxis.title.text == "Model file size (MB)"
    assert [list(t.x) for t in by_file.data] == [[98.4], [253.1]]
    # From zero, with 30 % to spare on the right for the largest model's name.
    assert list(by_file.layout.xaxis.range) == pytest.approx([0, 1.3 * 253.1])


def test_a_coder_without_a_known_size_is_left_out():
    sizes = pd.DataFrame(
        {
            "coder": [SMOL.model],
            "model": ["smol"],
            "file_size_mb": [98.4],
            "size_label": [None],
            "parameters_m": [None],
        }
    )
    points = classify_charts.size_points([SMOL, GEMMA], sizes)
    assert points.file_size_mb.isna().tolist() == [False, True]
    fig = classify_charts.metric_by_size(points, "file_size_mb")
    assert [t.name for t in fig.data] == [SMOL.model]
    with pytest.raises(InvalidRequest, match="Model size"):
        classify_charts.metric_by_size(points, "bytes")


def test_confusion_heatmap_has_reference_rows_and_a_no_answer_column():
    fig = classify_charts.confusion_heatmap(SMOL, NAMES, "gold")
    (heat,) = fig.data
    assert heat.type == "heatmap"
    assert list(heat.x) == ["Health", "Money &lt;b&gt;", NO_ANSWER]
    assert list(heat.y) == ["Health", "Money &lt;b&gt;"]
    assert heat.z.tolist() == [[2, 1, 0], [0, 3, 1]]
    assert fig.layout.yaxis.title.text == "Reference label (gold)"
    assert fig.layout.yaxis.autorange == "reversed"
    with pytest.raises(InvalidRequest, match="single-label"):
        classify_charts.confusion_heatmap(GEMMA, NAMES)


@pytest.mark.parametrize(
    ("label", "millions"),
    [
        ("135M", 135.0),
        ("1.5B", 1500.0),
        ("8x7B", 56000.0),
        ("500K", 0.5),
        ("", None),
        ("big", None),
        (None, None),
    ],
)
def test_size_labels_read_as_millions_of_parameters(label, millions):
    assert parameters_millions(label) == millions


def test_long_label_names_are_cut_on_the_axes_unless_that_merges_two():
    long = {"H": "Health " + "x" * 50, "M": "Money"}
    fig = classify_charts.category_metric_bars([SMOL], "f1", long)
    assert list(fig.data[0].y) == ["Health " + "x" * 32 + "…", "Money"]  # 40 characters
    same_start = {"H": "y" * 45 + "1", "M": "y" * 45 + "2"}
    fig = classify_charts.confusion_heatmap(SMOL, same_start)
    assert list(fig.data[0].y) == ["y" * 45 + "1", "y" * 45 + "2"]
