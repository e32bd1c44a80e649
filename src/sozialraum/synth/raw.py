"""Rohdaten für das Datenputzen (Modul 01): Exporte, wie Planerinnen und Planer sie bekommen.

Alles wird aus den sauberen Tabellen erzeugt, die Zahlen stimmen also mit ``datasets/`` überein. Eingebaut sind die
typischen Stolpersteine: Semikolon als Trennzeichen, Dezimalkomma und Tausenderpunkt, Kodierung cp1252 (Windows),
Titel- und Fußnotenzeilen, "." für geheim gehaltene Zellen (weniger als 3 Fälle), "-" für nichts vorhanden,
Schlüssel ohne führende Nullen (wie nach dem Speichern in Excel) und Datumsangaben im Format TT.MM.JJJJ.
Dazu eine kleine SQLite-Datenbank ("kommunale Datenbank") mit verknüpften Tabellen für SQL-Abfragen.
"""
from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import numpy as np
import pandas as pd

ENCODING = "cp1252"
NEWLINE = "\r\n"
SUPPRESS_BELOW = 3
SGB2_FILE = "sgb2_export_2024.csv"
MIGRATION_FILE = "wanderungen_2015_2024.csv"
GENESIS_FILE = "genesis_bevoelkerung_2015_2024.csv"
DATABASE_FILE = "kommunale_datenbank.sqlite"
SOURCE_NOTE = "Synthetische Daten – keine realen Personen (Sozialraum-Kit, Lizenz CC BY 4.0)"
SYMBOL_NOTES = [
    'Zeichenerklärung: "." = Zahlenwert unbekannt oder geheim zu halten (weniger als 3 Fälle)',
    'Zeichenerklärung: "-" = nichts vorhanden (genau null)',
]


def german_number(value: float, decimals: int = 0) -> str:
    """Zahl im deutschen Format: Tausenderpunkt, Dezimalkomma (12345.6 -> "12.345,6")."""
    text = f"{value:,.{decimals}f}"
    return text.replace(",", "_").replace(".", ",").replace("_", ".")


def count_cell(value: int) -> str:
    """Fallzahl für eine veröffentlichte Tabelle: 0 -> "-", 1 und 2 -> "." (geheim), sonst mit Tausenderpunkt."""
    if value == 0:
        return "-"
    return "." if value < SUPPRESS_BELOW else german_number(value)


def rate_cell(count: int, base: int, decimals: int = 1) -> str:
    """Quote in Prozent zu einer Fallzahl; geheim, wenn die Fallzahl geheim ist."""
    if count == 0:
        return "-"
    return "." if count < SUPPRESS_BELOW or base == 0 else german_number(100 * count / base, decimals)


def excel_key(key: str) -> str:
    """Schlüssel, wie Excel ihn nach dem Öffnen und Speichern schreibt: als Zahl, ohne führende Nullen."""
    return str(int(key))


def german_date(year: int, month: int = 12, day: int = 31) -> str:
    return f"{day:02d}.{month:02d}.{year}"


def _write_export(path: Path, title: list[str], header: list[str], rows: list[list[str]], footer: list[str],
                  pad: bool) -> None:
    """Schreibt einen Export; mit ``pad`` füllt er Titel- und Fußzeilen wie Excel mit Semikolons auf."""
    filler = ";" * (len(header) - 1) if pad else ""
    lines = [line + filler for line in title]
    lines += [";".join(header), *(";".join(row) for row in rows)]
    lines += [line + filler for line in footer]
    path.write_bytes((NEWLINE.join(lines) + NEWLINE).encode(ENCODING))


def sgb2_export(city: str, year: int, frame: pd.DataFrame, path: Path) -> None:
    """SGB-II-Export nach statistischen Bezirken (ein Stichtag), wie ihn das Statistikamt per Mail verschickt.

    ``frame``: bezirk_id, stadtteil_id, name, basis (Einwohnerinnen und Einwohner unter 65 Jahren) und die Spalten
    sgb2_leistungsberechtigte, sgb2_unter_15, sgb2_unter_3, sgb2_3_bis_unter_6, sgb2_6_bis_unter_15 der Tabelle
    ``sozialleistungen``.
    """
    header = ["Stat. Bezirk", "Stadtteil", "Bezirksname", "Einwohner unter 65 Jahren",
              "Leistungsberechtigte SGB II", "darunter unter 15 Jahren", "davon unter 3 Jahren",
              "davon 3 bis unter 6 Jahren", "davon 6 bis unter 15 Jahren", "SGB-II-Quote in %", "Stichtag"]
    rows = [
        [excel_key(r.bezirk_id), excel_key(r.stadtteil_id), r.name, german_number(r.basis),
         count_cell(r.sgb2_leistungsberechtigte), count_cell(r.sgb2_unter_15), count_cell(r.sgb2_unter_3),
         count_cell(r.sgb2_3_bis_unter_6), count_cell(r.sgb2_6_bis_unter_15),
         rate_cell(r.sgb2_leistungsberechtigte, r.basis), german_date(year)]
        for r in frame.itertuples()
    ]
    title = [
        f"Stadt {city} – Amt für Statistik und Stadtforschung",
        "Leistungsberechtigte nach dem SGB II (Bürgergeld) nach statistischen Bezirken",
        f"Stichtag: {german_date(year)}",
        "",
    ]
    footer = [
        "",
        "Quelle: Statistik der Bundesagentur für Arbeit (kleinräumige Auswertung), Einwohnermelderegister",
        SOURCE_NOTE,
        "SGB-II-Quote: Leistungsberechtigte je 100 Einwohnerinnen und Einwohner unter 65 Jahren",
        "Seit 01.01.2023 Bürgergeld (vorher Arbeitslosengeld II und Sozialgeld). "
        "Regelbedarf Stufe 1 im Jahr 2024: 563 € im Monat",
        *SYMBOL_NOTES,
        "Stand: 14.03.2025",
    ]
    _write_export(path, title, header, rows, footer, pad=False)


def migration_export(city: str, frame: pd.DataFrame, path: Path) -> None:
    """Wanderungen nach statistischen Bezirken und Jahren, aus Excel als "CSV (Trennzeichen-getrennt)" gespeichert.

    ``frame``: die Tabelle ``bewegungen`` (bezirk_id, jahr, zuzuege, zuzuege_unter_18, fortzuege,
    fortzuege_unter_18, umzuege_zu, umzuege_fort).
    """
    header = ["Statistischer Bezirk", "Zeitraum von", "Zeitraum bis", "Zuzüge über die Stadtgrenze",
              "Zuzüge unter 18 Jahren", "Fortzüge über die Stadtgrenze", "Fortzüge unter 18 Jahren",
              "Umzüge innerhalb der Stadt: Zuzüge", "Umzüge innerhalb der Stadt: Wegzüge"]
    rows = [
        [excel_key(r.bezirk_id), german_date(r.jahr, 1, 1), german_date(r.jahr), count_cell(r.zuzuege),
         count_cell(r.zuzuege_unter_18), count_cell(r.fortzuege), count_cell(r.fortzuege_unter_18),
         count_cell(r.umzuege_zu), count_cell(r.umzuege_fort)]
        for r in frame.itertuples()
    ]
    title = [f"Wanderungsstatistik der Stadt {city}", "Wanderungsbewegungen nach statistischen Bezirken 2015 bis 2024",
             ""]
    footer = ["", "Quelle: Einwohnermelderegister (Bewegungsdaten), eigene Auswertung", SOURCE_NOTE,
              "Gezählt werden Wanderungsfälle, nicht Personen.", *SYMBOL_NOTES]
    _write_export(path, title, header, rows, footer, pad=True)


def genesis_export(ags: str, city: str, frame: pd.DataFrame, path: Path) -> None:
    """Bevölkerungsstand der Stadt je Stichtag im Stil einer GENESIS-Tabelle (Landesdatenbank), nach Excel gespeichert.

    ``frame``: jahr, zensus_basis, einwohner, einwohner_maennlich, einwohner_weiblich, deutsch, nichtdeutsch.
    """
    first_2022 = german_date(int(frame.loc[frame["zensus_basis"] == 2022, "jahr"].min()))
    header = ["Stichtag", "Gemeindeschlüssel", "Gemeinde", "Insgesamt", "männlich", "weiblich", "Deutsche",
              "Ausländer"]
    rows = [
        [german_date(r.jahr), excel_key(ags), f"{city}, kreisfreie Stadt", german_number(r.einwohner),
         german_number(r.einwohner_maennlich), german_number(r.einwohner_weiblich), german_number(r.deutsch),
         german_number(r.nichtdeutsch)]
        for r in frame.itertuples()
    ]
    title = ["Bevölkerungsstand: Gemeinde, Stichtag, Geschlecht, Nationalität",
             "Fortschreibung des Bevölkerungsstandes", "Bevölkerung (Anzahl)", ""]
    footer = ["__________", f"Ab Stichtag {first_2022}: Fortschreibung auf Basis des Zensus 2022, "
              "davor auf Basis des Zensus 2011 (Bruch in der Zeitreihe)",
              "Nachbildung einer Tabelle der Landesdatenbank (GENESIS-Format)", SOURCE_NOTE, "Stand: 20.06.2025"]
    _write_export(path, title, header, rows, footer, pad=True)


def _sql_type(series: pd.Series) -> str:
    if pd.api.types.is_integer_dtype(series):
        return "INTEGER"
    return "REAL" if pd.api.types.is_float_dtype(series) else "TEXT"


def _sql_value(value):
    if pd.isna(value):
        return None
    return value.item() if isinstance(value, np.generic) else value


def _create_table(con: sqlite3.Connection, name: str, frame: pd.DataFrame, primary_key: list[str],
                  references: dict[str, str]) -> None:
    """Legt eine Tabelle mit Primär- und Fremdschlüsseln an (``references``: Spalte -> Tabelle) und füllt sie."""
    columns = [f"{column} {_sql_type(frame[column])}" for column in frame.columns]
    columns.append(f"PRIMARY KEY ({', '.join(primary_key)})")
    columns += [f"FOREIGN KEY ({column}) REFERENCES {table} ({column})" for column, table in references.items()]
    con.execute(f"CREATE TABLE {name} (\n  " + ",\n  ".join(columns) + "\n)")
    marks = ", ".join("?" for _ in frame.columns)
    rows = [[_sql_value(value) for value in row] for row in frame.itertuples(index=False)]
    con.executemany(f"INSERT INTO {name} VALUES ({marks})", rows)


def database(geo: dict, tables: dict[str, pd.DataFrame], path: Path, rng: np.random.Generator) -> None:
    """Die "kommunale Datenbank": Gebietsgliederung, Einwohner, Leistungen und Einrichtungen als verknüpfte Tabellen.

    Die Einrichtungen stehen in zufälliger Reihenfolge darin: Eine SQL-Tabelle hat keine feste Reihenfolge,
    wer sortiert haben will, schreibt ``ORDER BY``.
    """
    bezirke = geo["statistische_bezirke"]
    einrichtungen = geo["einrichtungen"]
    counts = {column: "Int64" for column in ("plaetze_u3", "plaetze_ue3", "plaetze", "eroeffnung_jahr")}
    einrichtungen = pd.DataFrame(einrichtungen.drop(columns="geometry")).astype(counts).assign(
        ostwert=einrichtungen.geometry.x.round(1), nordwert=einrichtungen.geometry.y.round(1)
    ).iloc[rng.permutation(len(einrichtungen))]
    leistungen = tables["sozialleistungen"][
        ["bezirk_id", "jahr", "leistungsbezeichnung", "sgb2_leistungsberechtigte", "sgb2_unter_15",
         "bedarfsgemeinschaften", "grundsicherung_alter"]
    ]
    einwohner = tables["bevoelkerung"][
        ["bezirk_id", "jahr", "einwohner", "einwohner_maennlich", "einwohner_weiblich", "nichtdeutsch"]
    ]
    path.unlink(missing_ok=True)
    with closing(sqlite3.connect(path)) as con, con:
        _create_table(con, "stadtbezirke", geo["stadtbezirke"][["stadtbezirk_id", "name"]], ["stadtbezirk_id"], {})
        _create_table(con, "stadtteile", geo["stadtteile"][["stadtteil_id", "stadtbezirk_id", "name"]],
                      ["stadtteil_id"], {"stadtbezirk_id": "stadtbezirke"})
        _create_table(con, "bezirke", bezirke[["bezirk_id", "stadtteil_id", "name", "flaeche_km2"]], ["bezirk_id"],
                      {"stadtteil_id": "stadtteile"})
        _create_table(con, "einwohner", einwohner, ["bezirk_id", "jahr"], {"bezirk_id": "bezirke"})
        _create_table(con, "leistungen", leistungen, ["bezirk_id", "jahr"], {"bezirk_id": "bezirke"})
        _create_table(con, "einrichtungen", einrichtungen, ["einrichtung_id"], {"bezirk_id": "bezirke"})


def under_65(tables: dict[str, pd.DataFrame], year: int) -> pd.Series:
    """Einwohnerinnen und Einwohner unter 65 Jahren je bezirk_id in ``year`` (Nenner der SGB-II-Quote)."""
    ages = tables["bevoelkerung_alter"]
    young = ages[(ages["jahr"] == year) & (ages["alter"] < 65)]
    return young.groupby("bezirk_id")["einwohner"].sum()


def write(geo: dict, tables: dict[str, pd.DataFrame], out_dir: Path, rng: np.random.Generator) -> None:
    """Schreibt alle Rohdaten nach ``out_dir`` (``datasets/roh/``)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    city = geo["stadtgrenze"]["name"].iloc[0]
    ags = geo["stadtgrenze"]["ags"].iloc[0]
    year = int(tables["sozialleistungen"]["jahr"].max())

    sgb2 = tables["sozialleistungen"].query("jahr == @year").set_index("bezirk_id")
    bezirke = geo["statistische_bezirke"].set_index("bezirk_id").sort_index()[["stadtteil_id", "name"]]
    frame = bezirke.assign(basis=under_65(tables, year)).join(sgb2).reset_index()
    sgb2_export(city, year, frame, out_dir / SGB2_FILE)

    migration_export(city, tables["bewegungen"], out_dir / MIGRATION_FILE)

    population = tables["bevoelkerung"].groupby("jahr").agg(
        zensus_basis=("zensus_basis", "first"), einwohner=("einwohner", "sum"),
        einwohner_maennlich=("einwohner_maennlich", "sum"), einwohner_weiblich=("einwohner_weiblich", "sum"),
        deutsch=("deutsch", "sum"), nichtdeutsch=("nichtdeutsch", "sum"))
    genesis_export(ags, city, population.reset_index(), out_dir / GENESIS_FILE)

    database(geo, tables, out_dir / DATABASE_FILE, rng)
