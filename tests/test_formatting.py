"""Deutsche Zahlen, Klassenbeschriftungen und die Quellenzeile (sozialraum.formatting)."""
import doctest
import io

import matplotlib

matplotlib.use("Agg")
import mapclassify  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.transforms import Bbox  # noqa: E402

from sozialraum import formatting  # noqa: E402
from sozialraum.formatting import (  # noqa: E402
    add_source,
    class_labels,
    format_number,
    format_percent,
    tick_formatter,
)


def test_docstring_examples_run():
    result = doctest.testmod(formatting)
    assert result.attempted >= 15 and result.failed == 0


@pytest.mark.parametrize(
    ("value", "decimals", "expected"),
    [
        (1234.5, 1, "1.234,5"),
        (1234567.891, 2, "1.234.567,89"),
        (np.int64(32), 0, "32"),
        (np.float64(32.1), 1, "32,1"),
        (67.0, 0, "67"),
        (-0.04, 1, "0,0"),
        (np.nan, 1, "keine Angabe"),
        (pd.NA, 0, "keine Angabe"),
        (None, 0, "keine Angabe"),
    ],
)
def test_format_number(value, decimals, expected):
    assert format_number(value, decimals) == expected


def test_format_number_rejects_text():
    with pytest.raises(TypeError, match="erwartet eine Zahl"):
        format_number("12")


def test_format_percent():
    assert format_percent(21.349) == "21,3 %"
    assert format_percent(np.nan) == "keine Angabe"


def test_class_labels_do_not_overlap_and_fit_a_mapclassify_scheme():
    values = np.array([2.0, 5.5, 9.25, 14.0, 14.5, 23.0, 30.0, 45.0])
    scheme = mapclassify.Quantiles(values, k=4)
    labels = class_labels(scheme, decimals=1, unit="%")
    assert len(labels) == len(scheme.bins)
    assert labels[0].startswith("bis ") and all(label.startswith("über ") for label in labels[1:])
    assert all("." not in label for label in labels), labels  # Dezimalkomma, kein Punkt
    # die Obergrenze jeder Klasse ist die Untergrenze der nächsten („über“): keine Zahl gehört zu zwei Klassen
    uppers = [label.split("bis ")[1].removesuffix(" %") for label in labels]
    lowers = [label.split("über ")[1].split(" bis")[0] for label in labels[1:]]
    assert uppers[:-1] == lowers


def test_class_labels_refuse_unsorted_bounds():
    with pytest.raises(ValueError, match="aufsteigend"):
        class_labels([5, 3])


def test_tick_formatter_on_an_axis():
    fig, ax = plt.subplots()
    ax.plot([0, 12500], [0, 17.5])
    ax.xaxis.set_major_formatter(tick_formatter())
    ax.yaxis.set_major_formatter(tick_formatter(1))
    fig.canvas.draw()
    texts = [label.get_text() for label in ax.get_xticklabels() + ax.get_yticklabels()]
    assert "10.000" in texts and "17,5" in texts
    plt.close(fig)


def _saved_extents(fig, **savefig):
    """Bild speichern und die Ausdehnung von Quellenzeile, Legende und Achsen im gespeicherten Bild (Pixel)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", **savefig)
    renderer = fig.canvas.get_renderer()
    if savefig.get("bbox_inches") == "tight":
        canvas = fig.get_tightbbox(renderer).transformed(fig.dpi_scale_trans)
    else:
        canvas = fig.bbox
    return canvas, renderer


@pytest.mark.parametrize("tight_layout", [False, True])
@pytest.mark.parametrize("bbox_inches", [None, "tight"])
@pytest.mark.parametrize("legend_place", ["below", "right", "inside"])
def test_source_line_is_never_cut_or_covered(bbox_inches, legend_place, tight_layout):
    fig, ax = plt.subplots(figsize=(6, 4))
    for number in range(5):
        ax.plot([0, 1], [number, number + 1], label=f"Klasse {number}")
    ax.set_xlabel("Anteil in %")
    places = {
        "below": {"loc": "upper center", "bbox_to_anchor": (0.5, -0.15), "ncols": 3},
        "right": {"loc": "center left", "bbox_to_anchor": (1, 0.5)},
        "inside": {"loc": "lower left"},
    }
    legend = ax.legend(**places[legend_place])
    source = add_source(ax)
    if tight_layout:  # wie in den Modulen: zuletzt fig.tight_layout()
        fig.tight_layout()
    canvas, renderer = _saved_extents(fig, bbox_inches=bbox_inches)
    text = source.get_window_extent(renderer)
    assert source.get_visible() and source.get_text() == "Daten: synthetisch (Sozialraum-Kit)"
    assert canvas.x0 - 1 <= text.x0 and text.x1 <= canvas.x1 + 1, "Quellenzeile seitlich abgeschnitten"
    assert canvas.y0 - 1 <= text.y0 and text.y1 <= canvas.y1 + 1, "Quellenzeile unten abgeschnitten"
    for other in (legend.get_window_extent(renderer), ax.xaxis.label.get_window_extent(renderer),
                  ax.get_window_extent(renderer)):
        overlap = Bbox.intersection(text, other)
        assert overlap is None or overlap.width * overlap.height < 1, "Quellenzeile wird verdeckt"
    plt.close(fig)


def test_source_line_keeps_a_constrained_layout():
    fig, ax = plt.subplots(layout="constrained")
    add_source(fig, "Daten: synthetisch")
    assert fig.get_layout_engine().__class__.__name__ == "ConstrainedLayoutEngine"
    plt.close(fig)
