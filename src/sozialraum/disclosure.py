"""Geheimhaltung kleiner Fallzahlen vor jeder Veröffentlichung – Tabellen, Karten und Exporte.

Die Regel des Kits (Modul 02):

1. **Primäre Sperrung:** Jede Zelle mit 1 oder 2 Fällen wird gesperrt – auch eine Summe.
2. **Sekundäre Sperrung:** Wo Summen veröffentlicht werden (die Zeilensumme, die Summe eines Stadtteils, die
   Stadt), müssen die gesperrten Zellen jeder Summe zusammen **mindestens 3** Fälle enthalten, und es müssen
   mindestens zwei sein – sonst rechnet man sie als „Summe minus sichtbare Zellen“ zurück. Dazu wird jeweils die
   kleinste noch sichtbare Zelle mit mindestens 3 Fällen mitgesperrt. Eine echte Null („-“) wird nie dazu
   gesperrt: Sie verdeckt nichts.
3. **Prüfung:** Zum Schluss darf sich keine gesperrte Zelle aus allen veröffentlichten Summen zusammen
   ausrechnen lassen (auch nicht über mehrere Summen hinweg); sonst wird weiter gesperrt.

Beispiele
---------
Kinder im SGB-II-Bezug nach Alter in drei Bezirken; die Zeilensummen und die Summen je Spalte werden veröffentlicht:

>>> import pandas as pd
>>> kinder = pd.DataFrame({"unter_3": [1, 12, 7], "3_bis_6": [9, 0, 2], "6_bis_15": [30, 41, 25]},
...                       index=["010101", "010102", "010103"])
>>> ergebnis = suppress_table(kinder)
>>> ergebnis.published
        unter_3  3_bis_6  6_bis_15  insgesamt
010101     <NA>     <NA>        30         40
010102       12        0        41         53
010103     <NA>     <NA>        25         34
>>> to_text(ergebnis.totals)
          unter_3 3_bis_6 6_bis_15 insgesamt
insgesamt      20      11       96       127

Die 1 und die 2 sind primär gesperrt; die 9 und die 7 sekundär (jede Zeile und jede Spalte hat nun mindestens zwei
gesperrte Zellen mit zusammen mindestens 3 Fällen). Die echte Null bleibt sichtbar.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from sozialraum.formatting import MISSING_TEXT, format_number

TOTAL = "insgesamt"
SMALL = (1, 2)  # Fallzahlen, die nie veröffentlicht werden
MINIMUM_HIDDEN = 3  # so viele Fälle müssen die gesperrten Zellen einer Summe mindestens enthalten


class Suppression(NamedTuple):
    """Ergebnis der Geheimhaltung.

    ``published``: die Tabelle (bzw. Spalte) mit ``<NA>`` in jeder gesperrten Zelle (Datentyp ``Int64``);
    ``mask``: ``True`` in jeder gesperrten Zelle (gleiche Form);
    ``totals``: die veröffentlichten Summen (je Gruppe und „insgesamt“), ebenfalls mit ``<NA>``, wo gesperrt.
    """

    published: pd.DataFrame | pd.Series
    mask: pd.DataFrame | pd.Series
    totals: pd.DataFrame | pd.Series


def suppress_table(counts: pd.DataFrame, groups=None, row_totals: bool = True) -> Suppression:
    """Eine Tabelle von Fallzahlen (Zeilen × Spalten) primär und sekundär sperren.

    ``counts`` enthält nur die Teile, ohne Summenspalte: Die Zeilensummen werden als Spalte „insgesamt“ angefügt
    und mitgeprüft (``row_totals=False``: keine Zeilensummen veröffentlichen). Die Summen je Spalte werden immer
    veröffentlicht: für die ganze Tabelle (Zeile „insgesamt“) und, wenn ``groups`` angegeben ist, auch je Gruppe –
    z. B. ``groups=bezirke["stadtteil_id"]`` für die Stadtteilsummen (eine Serie mit demselben Index wie
    ``counts`` oder eine Liste gleicher Länge).

    >>> import pandas as pd
    >>> tabelle = pd.DataFrame({"a": [1, 5, 4, 6], "b": [8, 3, 9, 9]}, index=["01", "02", "03", "04"])
    >>> ergebnis = suppress_table(tabelle, groups=["X", "X", "Y", "Y"])
    >>> ergebnis.mask
            a      b  insgesamt
    01   True   True      False
    02   True   True      False
    03  False  False      False
    04  False  False      False
    >>> ergebnis.totals
                a   b  insgesamt
    X           6  11         17
    Y          10  18         28
    insgesamt  16  29         45
    """
    values, index, columns = _check_counts(counts)
    n_rows, n_cols = values.shape
    codes, labels = _group_codes(groups, counts.index, n_rows)
    layout = _Layout(n_rows, n_cols, codes, len(labels), row_totals, grouped=groups is not None)
    hidden = _protect(layout.values(values), layout.equations, layout.is_total)

    body_columns = list(columns) + ([TOTAL] if row_totals else [])
    total_index = list(labels) + [TOTAL] if groups is not None else [TOTAL]
    full = layout.values(values)
    published = _integer_frame(layout.body(full), layout.body(hidden), index, body_columns)
    mask = pd.DataFrame(layout.body(hidden), index=index, columns=body_columns)
    totals = _integer_frame(layout.totals(full), layout.totals(hidden), total_index, body_columns)
    return Suppression(published, mask, totals)


def _integer_frame(values: np.ndarray, hidden: np.ndarray, index, columns) -> pd.DataFrame:
    """Ganze Zahlen als Tabelle vom Typ Int64, <NA> in jeder gesperrten Zelle."""
    data = {col: pd.arrays.IntegerArray(values[:, j].copy(), hidden[:, j].copy()) for j, col in enumerate(columns)}
    return pd.DataFrame(data, index=index)


def suppress_areas(numerator: pd.Series, groups=None) -> Suppression:
    """Gebiete einer Karte oder Indikatortabelle sperren, deren Zähler 1 oder 2 Fälle hat.

    Eine Quote verrät ihren Zähler, sobald der Nenner (die Einwohnerzahl) bekannt ist: Ein Bezirk mit 2 Kindern
    im SGB-II-Bezug wird deshalb als Ganzes ausgeblendet. Weil die Summe der Stadt (und, mit ``groups``, jeder
    Gruppe wie des Stadtteils) veröffentlicht wird, werden so viele weitere Gebiete mit ausgeblendet, dass sich
    kein gesperrter Zähler als „Stadt minus sichtbare Gebiete“ zurückrechnen lässt. ``mask`` ist ``True`` für
    jedes ausgeblendete Gebiet; die Quote blenden Sie damit aus: ``quote.mask(ergebnis.mask)``.

    >>> import pandas as pd
    >>> kinder = pd.Series([2, 40, 0, 17, 25], index=["01", "02", "03", "04", "05"], name="sgb2_unter_15")
    >>> ergebnis = suppress_areas(kinder)
    >>> ergebnis.mask.tolist()
    [True, False, False, True, False]
    >>> to_text(ergebnis.published).tolist()
    ['keine Angabe', '40', '-', 'keine Angabe', '25']
    >>> ergebnis.totals.tolist()
    [84]
    """
    if not isinstance(numerator, pd.Series):
        raise TypeError(
            "suppress_areas erwartet eine Spalte (pd.Series) mit den Fallzahlen je Gebiet, "
            f"nicht {type(numerator).__name__}. Tipp: tabelle['spalte'] übergeben."
        )
    table = suppress_table(numerator.to_frame(), groups=groups, row_totals=False)
    return Suppression(*(part.iloc[:, 0] for part in table))


def to_text(published: pd.DataFrame | pd.Series, suppressed: str = MISSING_TEXT, zero: str = "-"):
    """Eine gesperrte Tabelle zum Veröffentlichen als Text: gesperrt -> „keine Angabe“, echte Null -> „-“.

    ``suppressed="."`` ergibt das Zeichen der amtlichen Statistik. Zahlen erscheinen im deutschen Format.

    >>> import pandas as pd
    >>> to_text(pd.Series([1500, pd.NA, 0], dtype="Int64")).tolist()
    ['1.500', 'keine Angabe', '-']
    >>> to_text(pd.Series([7, pd.NA], dtype="Int64"), suppressed=".").tolist()
    ['7', '.']
    """

    def one(value):
        if pd.isna(value):
            return suppressed
        return zero if value == 0 else format_number(value)

    return published.map(one)


def _check_counts(counts) -> tuple[np.ndarray, pd.Index, pd.Index]:
    if not isinstance(counts, pd.DataFrame):
        raise TypeError(
            f"suppress_table erwartet eine Tabelle (pd.DataFrame) mit Fallzahlen, nicht {type(counts).__name__}."
        )
    if counts.isna().any().any():
        raise ValueError(
            "Die Tabelle enthält fehlende Werte. Geheimhaltung braucht vollständige Fallzahlen; "
            "Tipp: fehlende Werte zuerst klären (echte Null = 0)."
        )
    try:
        values = counts.to_numpy(dtype="float64")
    except (TypeError, ValueError):
        raise TypeError("Die Tabelle darf nur Zahlen enthalten (Fallzahlen), keinen Text.") from None
    if (values < 0).any() or (values != np.round(values)).any():
        raise ValueError("Fallzahlen müssen ganze Zahlen ab 0 sein. Tipp: Quoten erst nach der Sperrung bilden.")
    return values.astype("int64"), counts.index, counts.columns


def _group_codes(groups, index: pd.Index, n_rows: int) -> tuple[np.ndarray, list]:
    if groups is None:
        return np.zeros(n_rows, dtype="int64"), [TOTAL]
    if isinstance(groups, pd.Series):
        if not groups.index.equals(index):
            groups = groups.reindex(index)
        groups = groups.to_numpy()
    groups = np.asarray(groups, dtype=object)
    if len(groups) != n_rows or pd.isna(groups).any():
        raise ValueError(
            "groups muss jeder Zeile der Tabelle genau eine Gruppe zuordnen (gleiche Länge bzw. gleicher Index)."
        )
    codes, labels = pd.factorize(groups, sort=True)
    return codes.astype("int64"), list(labels)


class _Layout:
    """Alle veröffentlichten Zahlen als ein Vektor und die Summengleichungen zwischen ihnen."""

    def __init__(self, n_rows, n_cols, codes, n_groups, row_totals, grouped):
        self.n_rows, self.n_cols, self.codes = n_rows, n_cols, codes
        self.n_groups, self.row_totals, self.grouped = n_groups, row_totals, grouped
        width = n_cols + (1 if row_totals else 0)  # Spalten inklusive „insgesamt“
        self.width = width
        self.n_total_rows = n_groups + (1 if grouped else 0)
        self.size = (n_rows + self.n_total_rows) * width
        self.is_total = np.zeros(self.size, dtype=bool)
        self.is_total[n_rows * width:] = True
        if row_totals:
            self.is_total[[row * width + n_cols for row in range(n_rows)]] = True
        self.equations = self._equations()

    def cell(self, row, col):
        return row * self.width + col

    def total_cell(self, total_row, col):
        return (self.n_rows + total_row) * self.width + col

    def _equations(self):
        equations = []  # (Teile, Summe)
        cols = range(self.n_cols)
        if self.row_totals:
            for row in range(self.n_rows + self.n_total_rows):
                ids = [row * self.width + col for col in cols]
                equations.append((ids, row * self.width + self.n_cols))
        all_cols = range(self.width)
        for group in range(self.n_groups):
            rows = np.flatnonzero(self.codes == group)
            for col in all_cols:
                equations.append(([self.cell(row, col) for row in rows], self.total_cell(group, col)))
        if self.grouped:
            for col in all_cols:
                parts = [self.total_cell(group, col) for group in range(self.n_groups)]
                equations.append((parts, self.total_cell(self.n_groups, col)))
        return [(np.array(parts, dtype="int64"), total) for parts, total in equations]

    def values(self, body):
        full = np.zeros((self.n_rows + self.n_total_rows, self.width), dtype=body.dtype)
        full[: self.n_rows, : self.n_cols] = body
        for group in range(self.n_groups):
            full[self.n_rows + group, : self.n_cols] = body[self.codes == group].sum(axis=0)
        if self.grouped:
            full[-1, : self.n_cols] = body.sum(axis=0)
        if self.row_totals:
            full[:, -1] = full[:, : self.n_cols].sum(axis=1)
        return full.ravel()

    def body(self, vector):
        return vector.reshape(-1, self.width)[: self.n_rows]

    def totals(self, vector):
        return vector.reshape(-1, self.width)[self.n_rows:]


def _protect(values: np.ndarray, equations, is_total: np.ndarray) -> np.ndarray:
    """Welche Zellen gesperrt werden: primär 1 und 2, dann sekundär, bis jede Summe geschützt ist."""
    hidden = np.isin(values, SMALL)
    # Reihenfolge der Wahl: Teile vor Summen, dann die kleinste Fallzahl, dann die erste Zelle
    preference = np.lexsort((np.arange(len(values)), values, is_total))
    rank = np.empty(len(values), dtype="int64")
    rank[preference] = np.arange(len(values))
    matrix = np.zeros((len(equations), len(values)))
    for number, (parts, total) in enumerate(equations):
        matrix[number, parts] = 1.0
        matrix[number, total] = -1.0

    def candidate(cells):
        cells = cells[~hidden[cells] & (values[cells] > 0)]  # nie eine echte Null
        return cells[np.argmin(rank[cells])] if len(cells) else None

    while True:
        changed = False
        for parts, total in equations:
            cells = np.append(parts, total)
            in_equation = cells[hidden[cells]]
            if not len(in_equation):
                continue
            safe = len(in_equation) >= 2 and (hidden[total] or values[in_equation].sum() >= MINIMUM_HIDDEN)
            if not safe:
                choice = candidate(cells)
                if choice is None:  # kann nicht vorkommen: dann wäre die Summe selbst 1 oder 2
                    raise RuntimeError("Geheimhaltung: keine Zelle zum Mitsperren gefunden.")
                hidden[choice] = True
                changed = True
        if changed:
            continue
        derivable = _derivable(matrix, hidden)
        if not len(derivable):
            return hidden
        choice = _closing_cell(matrix, hidden, derivable[0], preference[values[preference] > 0])
        if choice is None:  # Notlösung: die kleinste sichtbare Zelle irgendwo
            choice = candidate(np.arange(len(values)))
        hidden[choice] = True


def _closing_cell(matrix: np.ndarray, hidden: np.ndarray, cell: int, preference: np.ndarray):
    """Die erste sichtbare Zelle (in der Reihenfolge ``preference``), deren Sperrung ``cell`` unbestimmt macht.

    Mit einer weiteren Unbekannten y wird ``cell`` genau dann unbestimmt, wenn sich die Spalte von y aus den
    Spalten der gesperrten Zellen ergibt und die Lösung dabei ``cell`` verändert.
    """
    unknown = np.flatnonzero(hidden)
    known_part = matrix[:, unknown]
    touching = np.abs(known_part).sum(axis=1) > 0
    options = preference[~hidden[preference]]
    # Nur Zellen, deren Summen alle schon gesperrte Zellen enthalten, kommen in Frage
    options = options[np.abs(matrix[~touching][:, options]).sum(axis=0) == 0]
    if not len(options):
        return None
    known_part = known_part[touching]
    wanted = -matrix[touching][:, options]
    solution, *_ = np.linalg.lstsq(known_part, wanted, rcond=None)
    fits = np.abs(known_part @ solution - wanted).sum(axis=0) < 1e-8
    moves_cell = np.abs(solution[np.searchsorted(unknown, cell)]) > 1e-8
    good = options[fits & moves_cell]
    return good[0] if len(good) else None


def _derivable(matrix: np.ndarray, hidden: np.ndarray) -> np.ndarray:
    """Gesperrte Zellen, die sich aus den sichtbaren Zahlen und allen Summen eindeutig ausrechnen lassen."""
    unknown = np.flatnonzero(hidden)
    if not len(unknown):
        return unknown
    rows = matrix[:, unknown]
    rows = rows[np.abs(rows).sum(axis=1) > 0]
    if not len(rows):
        return np.array([], dtype="int64")
    # Unbestimmt ist eine Zelle, wenn ein Vektor des Nullraums sie verändert (Eigenvektoren zum Eigenwert 0)
    eigenvalues, eigenvectors = np.linalg.eigh(rows.T @ rows)
    null_space = eigenvectors[:, eigenvalues < 1e-9]
    return unknown[np.abs(null_space).sum(axis=1) < 1e-9]
