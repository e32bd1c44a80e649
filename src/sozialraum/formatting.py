"""Zahlen, Klassen und Quellenangaben im deutschen Format – für Tabellen, Legenden und Grafiken.

Jede Zahl, die ein Bericht zeigt, steht mit Dezimalkomma und Tausenderpunkt da; fehlende oder gesperrte Werte als
„keine Angabe“. Legenden von Karten brauchen Klassen, die sich nicht überschneiden („bis 14“, „über 14 bis 23“), und
jede Grafik eine Quellenzeile, die nicht abgeschnitten wird.

Beispiele
---------
>>> format_number(1234.5, 1)
'1.234,5'
>>> format_percent(21.349)
'21,3 %'
>>> class_labels([14, 23, 30.5], unit="%")
['bis 14 %', 'über 14 bis 23 %', 'über 23 bis 30 %']
"""
from __future__ import annotations

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.layout_engine import ConstrainedLayoutEngine
from matplotlib.text import Text
from matplotlib.ticker import FuncFormatter

MISSING_TEXT = "keine Angabe"
SOURCE_TEXT = "Daten: synthetisch (Sozialraum-Kit)"


def format_number(value, decimals: int = 0) -> str:
    """Eine Zahl im deutschen Format: Tausenderpunkt, Dezimalkomma, ``decimals`` Nachkommastellen.

    Fehlende Werte (``None``, ``NaN``, ``pd.NA``) werden zu „keine Angabe“. Das Minuszeichen bleibt ``-``.

    >>> format_number(1234567)
    '1.234.567'
    >>> format_number(0.456, 2)
    '0,46'
    >>> format_number(-1234.5, 1)
    '-1.234,5'
    >>> format_number(float("nan"))
    'keine Angabe'
    >>> format_number(pd.NA, 1)
    'keine Angabe'
    """
    if value is None or (pd.api.types.is_scalar(value) and pd.isna(value)):
        return MISSING_TEXT
    if isinstance(value, (bool, str)) or not hasattr(value, "__float__"):
        raise TypeError(f"format_number erwartet eine Zahl, nicht {type(value).__name__}: {value!r}.")
    text = f"{float(value):,.{decimals}f}"
    if text.startswith("-") and not any(digit in "123456789" for digit in text):
        text = text[1:]  # "-0" oder "-0,0" ist einfach null
    return text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")


def format_percent(value, decimals: int = 1) -> str:
    """Einen Wert, der schon in Prozent vorliegt (21.3 für 21,3 %), mit Dezimalkomma und „ %“.

    >>> format_percent(21.3)
    '21,3 %'
    >>> format_percent(7, 0)
    '7 %'
    >>> format_percent(None)
    'keine Angabe'
    """
    text = format_number(value, decimals)
    return text if text == MISSING_TEXT else f"{text} %"


def class_labels(bins, decimals: int = 0, unit: str = "") -> list[str]:
    """Legendenbeschriftungen für Klassen mit den Obergrenzen ``bins``, ohne Überschneidung.

    ``bins`` sind die Obergrenzen der Klassen, aufsteigend – genau das Attribut ``bins`` eines mapclassify-Schemas
    (z. B. ``mapclassify.Quantiles(werte, k=5)``); Sie können auch das Schema selbst übergeben. Die erste Klasse
    heißt „bis …“, jede weitere „über … bis …“. Das Ergebnis passt in geopandas als
    ``legend_kwds={"labels": class_labels(schema)}``.

    >>> class_labels([14, 23, 31.25])
    ['bis 14', 'über 14 bis 23', 'über 23 bis 31']
    >>> class_labels([2.5, 7.26], decimals=1, unit="%")
    ['bis 2,5 %', 'über 2,5 bis 7,3 %']

    Werden zwei Grenzen nach dem Runden gleich, wären die Klassen nicht mehr zu unterscheiden:

    >>> class_labels([14.2, 14.4])
    Traceback (most recent call last):
    ...
    ValueError: Zwei Klassengrenzen sehen nach dem Runden gleich aus (14). Tipp: mehr Nachkommastellen wählen, z. B. decimals=1.
    """
    bounds = list(getattr(bins, "bins", bins))
    if not bounds:
        raise ValueError("class_labels braucht mindestens eine Klassengrenze.")
    if any(later < earlier for earlier, later in zip(bounds, bounds[1:])):
        raise ValueError("Die Klassengrenzen müssen aufsteigend sortiert sein.")
    texts = [format_number(bound, decimals) for bound in bounds]
    for earlier, later in zip(texts, texts[1:]):
        if earlier == later:
            raise ValueError(
                f"Zwei Klassengrenzen sehen nach dem Runden gleich aus ({earlier}). "
                f"Tipp: mehr Nachkommastellen wählen, z. B. decimals={decimals + 1}."
            )
    suffix = f" {unit}" if unit else ""
    labels = [f"bis {texts[0]}{suffix}"]
    labels += [f"über {low} bis {high}{suffix}" for low, high in zip(texts, texts[1:])]
    return labels


def tick_formatter(decimals: int = 0, unit: str = "") -> FuncFormatter:
    """Ein matplotlib-Formatierer für Achsen mit deutschen Zahlen.

    >>> formatter = tick_formatter(1, unit="%")
    >>> formatter(17.5)
    '17,5 %'
    >>> tick_formatter()(12000)
    '12.000'

    Verwendung: ``ax.yaxis.set_major_formatter(tick_formatter())``.
    """
    suffix = f" {unit}" if unit else ""
    return FuncFormatter(lambda value, position=None: f"{format_number(value, decimals)}{suffix}")


def add_source(fig_or_ax: Figure | Axes, text: str = SOURCE_TEXT) -> Text:
    """Eine Quellenzeile unten links in die Grafik setzen, die nie abgeschnitten wird.

    Die Zeile ist die untere Beschriftung der ganzen Abbildung (``Figure.supxlabel``). Das Layout „tight“ lässt
    ihr Platz unter Achsen, Achsenbeschriftung und einer Legende unterhalb der Karte; sie bleibt auch beim
    Speichern mit ``savefig(..., bbox_inches="tight")`` im Bild. Hat die Abbildung schon ein Layout (z. B.
    ``layout="constrained"``), bleibt es – auch dieses lässt der Zeile Platz (mit etwas mehr Abstand, damit eine
    Legende unter der Karte sie nicht berührt).

    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> add_source(ax).get_text()
    'Daten: synthetisch (Sozialraum-Kit)'
    >>> plt.close(fig)
    """
    figure = fig_or_ax.figure if isinstance(fig_or_ax, Axes) else fig_or_ax
    if not isinstance(figure, Figure):
        raise TypeError("add_source erwartet eine matplotlib-Abbildung (fig) oder Achse (ax).")
    engine = figure.get_layout_engine()
    if engine is None:
        figure.set_layout_engine("tight")
    elif isinstance(engine, ConstrainedLayoutEngine):
        engine.set(h_pad=max(engine.get()["h_pad"], 0.1))  # Zoll; Standard 0,04 lässt Legenden darunter anstoßen
    return figure.supxlabel(text, x=0.01, ha="left", fontsize=8, color="0.25")
