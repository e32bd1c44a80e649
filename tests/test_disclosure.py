"""Geheimhaltung (sozialraum.disclosure): Beispiele, Sonderfälle und ein Eigenschaftstest über viele Zufallstabellen.

Der Eigenschaftstest prüft jede veröffentlichte Tabelle so, wie eine neugierige Leserin es täte: Sie sieht die
Zellen, die Zeilensummen, die Gruppensummen und die Summe insgesamt, und rechnet Summe minus sichtbare Zellen –
auch über mehrere Summen hinweg (lineare Algebra). Keine 1 und keine 2 darf dabei herauskommen.
"""
import doctest

import numpy as np
import pandas as pd
import pytest

from sozialraum import disclosure
from sozialraum.disclosure import TOTAL, suppress_areas, suppress_table, to_text


def test_docstring_examples_run():
    result = doctest.testmod(disclosure, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 5 and result.failed == 0


def _cells_and_equations(published, totals, groups, row_totals):
    """Alle veröffentlichten Zahlen (Schlüssel -> Wert oder None) und die Summengleichungen (Teile, Summe)."""
    value = {}
    for kind, frame in (("z", published), ("s", totals)):
        numbers = frame.to_numpy(dtype="float64", na_value=np.nan)
        for i, row in enumerate(frame.index):
            for j, col in enumerate(frame.columns):
                value[(kind, row, col)] = None if np.isnan(numbers[i, j]) else int(numbers[i, j])
    parts_cols = [col for col in published.columns if col != TOTAL]
    all_cols = list(published.columns)
    equations = []
    if row_totals:
        for kind, frame in (("z", published), ("s", totals)):
            for row in frame.index:
                equations.append(([(kind, row, col) for col in parts_cols], (kind, row, TOTAL)))
    group_of = pd.Series(groups if groups is not None else [TOTAL] * len(published), index=published.index)
    for group, rows in group_of.groupby(group_of).groups.items():
        for col in all_cols:
            equations.append(([("z", row, col) for row in rows], ("s", group, col)))
    if groups is not None:
        group_rows = [row for row in totals.index if row != TOTAL]
        for col in all_cols:
            equations.append(([("s", row, col) for row in group_rows], ("s", TOTAL, col)))
    return value, equations


def _assert_nothing_small_revealed(original, result, groups, row_totals):
    published, mask, totals = result
    body = original.copy()
    if row_totals:
        body[TOTAL] = original.sum(axis=1)
    # 1. Sichtbare Zahlen stimmen, keine sichtbare 1 oder 2, keine gesperrte echte Null
    hidden = mask.to_numpy()
    numbers, shown = body.to_numpy(), published.to_numpy(dtype="float64", na_value=np.nan)
    assert (hidden == np.isnan(shown)).all()
    assert (shown[~hidden] == numbers[~hidden]).all(), "eine sichtbare Zahl wurde verändert"
    assert not np.isin(numbers[~hidden], [1, 2]).any(), "eine 1 oder 2 ist sichtbar"
    assert not (numbers[hidden] == 0).any(), "eine echte Null wurde gesperrt"
    assert not totals.isin([1, 2]).any().any(), "eine Summe von 1 oder 2 ist sichtbar"

    value, equations = _cells_and_equations(published, totals, groups, row_totals)
    # 2. Jede Summe einzeln: Summe minus sichtbare Teile
    for parts, total in equations:
        hidden_parts = [key for key in parts if value[key] is None]
        if value[total] is None:
            assert hidden_parts, f"Summe {total} lässt sich aus ihren sichtbaren Teilen ausrechnen"
            continue
        remainder = value[total] - sum(value[key] for key in parts if value[key] is not None)
        if hidden_parts:
            assert len(hidden_parts) >= 2, f"eine einzelne gesperrte Zelle in {total} ist rückrechenbar"
            assert remainder >= 3, f"die gesperrten Zellen von {total} enthalten nur {remainder} Fälle"
        else:
            assert remainder == 0
    # 3. Alle Summen zusammen: keine gesperrte Zelle ist eindeutig bestimmt
    unknown = [key for key, v in value.items() if v is None]
    if not unknown:
        return
    position = {key: number for number, key in enumerate(unknown)}
    matrix = np.zeros((len(equations), len(unknown)))
    for number, (parts, total) in enumerate(equations):
        for key in parts:
            if key in position:
                matrix[number, position[key]] += 1
        if total in position:
            matrix[number, position[total]] -= 1
    rank = np.linalg.matrix_rank(matrix)
    for key, column in position.items():
        unit = np.zeros((1, len(unknown)))
        unit[0, column] = 1
        assert np.linalg.matrix_rank(np.vstack([matrix, unit])) > rank, f"{key} lässt sich ausrechnen"


def _random_table(rng):
    n_rows = int(rng.integers(1, 11))
    n_cols = int(rng.integers(1, 5))
    kind = rng.choice(4, size=(n_rows, n_cols), p=[0.25, 0.18, 0.12, 0.45])
    values = np.where(kind == 3, rng.integers(3, 60, size=(n_rows, n_cols)), kind)
    table = pd.DataFrame(values, index=[f"{i:02d}" for i in range(n_rows)],
                         columns=[f"s{j}" for j in range(n_cols)])
    groups = None
    if rng.random() < 0.6:
        groups = [f"g{g}" for g in rng.integers(0, int(rng.integers(1, 5)), size=n_rows)]
    return table, groups, bool(rng.random() < 0.7)


def test_no_random_table_reveals_one_or_two():
    rng = np.random.default_rng(20261202)
    secondary = 0
    for _ in range(2000):
        table, groups, row_totals = _random_table(rng)
        if table.shape[1] == 1 and not row_totals:
            area = suppress_areas(table.iloc[:, 0], groups=groups)
            result = disclosure.Suppression(*(part.to_frame(table.columns[0]) for part in area))
        else:
            result = suppress_table(table, groups=groups, row_totals=row_totals)
        _assert_nothing_small_revealed(table, result, groups, row_totals)
        secondary += int(result.mask.to_numpy().sum() - table.isin([1, 2]).to_numpy().sum())
    assert secondary > 1000, "der Test hat kaum sekundäre Sperrungen erzeugt – die Zufallstabellen sind zu leicht"


def test_two_ones_in_a_row_get_a_third_cell():
    # 1 + 1 = 2: zwei gesperrte Zellen reichen nicht, sie verraten zusammen 2 Fälle
    table = pd.DataFrame({"a": [1, 20], "b": [1, 30], "c": [7, 40]}, index=["040202", "040203"])
    result = suppress_table(table, groups=["0402", "0402"])
    assert result.mask.loc["040202", ["a", "b", "c"]].all()
    _assert_nothing_small_revealed(table, result, ["0402", "0402"], True)


def test_a_true_zero_is_never_the_secondary_cell():
    table = pd.DataFrame({"a": [2, 5], "b": [0, 8], "c": [9, 4]}, index=["040104", "040105"])
    result = suppress_table(table)
    assert not result.mask.loc["040104", "b"]
    assert result.mask.loc["040104", "c"], "statt der Null muss die 9 mitgesperrt werden"
    assert to_text(result.published).loc["040104", "b"] == "-"


def test_a_group_whose_hidden_cells_hold_two_cases_is_protected():
    # Stadtteil mit zwei Bezirken: 1 und 1 gesperrt, die Stadtteilsumme verriete 2
    counts = pd.Series([1, 1, 30, 25], index=["050601", "050602", "050701", "050702"])
    result = suppress_areas(counts, groups=pd.Series(["0506", "0506", "0507", "0507"], index=counts.index))
    hidden_in_0506 = counts[result.mask & counts.index.str.startswith("0506")].sum()
    assert result.totals.isna()["0506"] or hidden_in_0506 >= 3


def test_areas_keep_the_rate_hidden_where_the_count_is():
    counts = pd.Series([2, 40, 0, 17, 25], index=["01", "02", "03", "04", "05"])
    result = suppress_areas(counts)
    rate = (counts / 100 * 100).mask(result.mask)
    assert rate.isna().tolist() == [True, False, False, True, False]
    assert result.published.dtype == "Int64"
    assert result.totals[TOTAL] == 84


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (pd.DataFrame({"a": [1, None]}), "fehlende Werte"),
        (pd.DataFrame({"a": [1, -2]}), "ganze Zahlen ab 0"),
        (pd.DataFrame({"a": [1.5, 2]}), "ganze Zahlen ab 0"),
    ],
)
def test_bad_tables_get_a_german_message(table, message):
    with pytest.raises(ValueError, match=message):
        suppress_table(table)


def test_a_series_is_not_a_table():
    with pytest.raises(TypeError, match="pd.DataFrame"):
        suppress_table(pd.Series([1, 2]))
    with pytest.raises(TypeError, match="pd.Series"):
        suppress_areas(pd.DataFrame({"a": [1]}))
