"""Rohdaten in datasets/roh/: Sie brauchen die richtigen Leseoptionen und geben dann die sauberen Tabellen wieder."""
import sqlite3

import numpy as np
import pandas as pd
import pytest

from sozialraum import data
from sozialraum.synth import raw


def test_helpers_format_like_german_exports():
    assert raw.german_number(1234567) == "1.234.567"
    assert raw.german_number(45.94, 1) == "45,9"
    assert [raw.count_cell(n) for n in (0, 1, 2, 3, 1017)] == ["-", ".", ".", "3", "1.017"]
    assert raw.rate_cell(2, 100) == "." and raw.rate_cell(0, 100) == "-" and raw.rate_cell(50, 400) == "12,5"
    assert raw.excel_key("010203") == "10203" and raw.excel_key("05917000") == "5917000"
    assert raw.german_date(2024) == "31.12.2024" and raw.german_date(2015, 1, 1) == "01.01.2015"


@pytest.fixture(scope="module")
def clean():
    """Die sauberen Tabellen, gegen die die Rohdaten geprüft werden."""
    return {name: data.load(name) for name in
            ("statistische_bezirke", "stadtgrenze", "sozialleistungen", "bewegungen", "bevoelkerung",
             "bevoelkerung_alter", "einrichtungen")}


def lines(filename):
    return data.raw_path(filename).read_bytes().decode("cp1252").splitlines()


def test_raw_folder_is_small_and_complete():
    files = data.list_raw()
    assert files == sorted([raw.SGB2_FILE, raw.MIGRATION_FILE, raw.GENESIS_FILE, raw.DATABASE_FILE])
    assert sum(data.raw_path(name).stat().st_size for name in files) < 3_000_000


@pytest.mark.parametrize("filename", [raw.SGB2_FILE, raw.MIGRATION_FILE, raw.GENESIS_FILE])
def test_exports_are_cp1252_not_utf8_nor_latin1(filename):
    content = data.raw_path(filename).read_bytes()
    with pytest.raises(UnicodeDecodeError):
        content.decode("utf-8")
    with pytest.raises(UnicodeDecodeError):
        pd.read_csv(data.raw_path(filename))  # pandas liest standardmäßig UTF-8
    text = content.decode("cp1252")
    assert "Synthetische Daten" in text and "ü" in text and "\r\n" in text


def test_euro_sign_needs_cp1252():
    content = data.raw_path(raw.SGB2_FILE).read_bytes()
    assert "563 €" in content.decode("cp1252")
    assert "€" not in content.decode("latin-1")  # latin-1 kennt kein €-Zeichen: es wird zu "\x80"


def test_pandas_defaults_fail_or_misparse():
    path = data.raw_path(raw.SGB2_FILE)
    with pytest.raises(pd.errors.ParserError):  # Titelzeile mit einem Feld, danach Zeilen mit mehr Feldern
        pd.read_csv(path, encoding="cp1252")
    with pytest.raises(pd.errors.ParserError):
        pd.read_csv(path, encoding="cp1252", sep=";")
    # Excel füllt Titelzeilen mit Semikolons auf: dann wird die Titelzeile zur Kopfzeile
    wrong = pd.read_csv(data.raw_path(raw.MIGRATION_FILE), encoding="cp1252", sep=";")
    assert wrong.columns[0].startswith("Wanderungsstatistik") and "Zuzüge über die Stadtgrenze" not in wrong.columns
    commas = pd.read_csv(data.raw_path(raw.GENESIS_FILE), encoding="cp1252")  # Kommas im Titel trennen Spalten
    assert commas.columns[0] == "Bevölkerungsstand: Gemeinde" and "Insgesamt" not in commas.columns


def read_sgb2_by_hand(**extra):
    return pd.read_csv(
        data.raw_path(raw.SGB2_FILE), sep=";", encoding="cp1252", skiprows=4, skipfooter=8, engine="python",
        decimal=",", thousands=".", na_values=[".", "-"], **extra,
    )


def test_sgb2_export_needs_all_options_and_then_matches(clean):
    year = int(clean["sozialleistungen"]["jahr"].max())
    expected = clean["sozialleistungen"].query("jahr == @year").set_index("bezirk_id").sort_index()
    lost = read_sgb2_by_hand()
    assert pd.api.types.is_integer_dtype(lost["Stat. Bezirk"])  # ohne dtype: Zahl, führende Null verloren
    assert not lost["Stat. Bezirk"].astype(str).isin(expected.index).any()
    assert lost["Stichtag"].iloc[0] == int(f"3112{year}")  # thousands="." macht aus dem Datum eine Zahl

    by_hand = read_sgb2_by_hand(dtype={"Stat. Bezirk": str, "Stichtag": str})
    by_hand["bezirk_id"] = by_hand["Stat. Bezirk"].str.zfill(6)
    by_hand = by_hand.set_index("bezirk_id")
    assert by_hand.index.equals(expected.index)
    for column, clean_column in [("Leistungsberechtigte SGB II", "sgb2_leistungsberechtigte"),
                                 ("darunter unter 15 Jahren", "sgb2_unter_15"),
                                 ("davon unter 3 Jahren", "sgb2_unter_3"),
                                 ("davon 3 bis unter 6 Jahren", "sgb2_3_bis_unter_6"),
                                 ("davon 6 bis unter 15 Jahren", "sgb2_6_bis_unter_15")]:
        counts = expected[clean_column]
        assert by_hand[column].isna().equals(counts < 3)
        assert (by_hand[column].dropna() == counts[counts >= 3]).all()
    assert (by_hand["Stichtag"] == f"31.12.{year}").all()

    helper = data.read_german_csv(data.raw_path(raw.SGB2_FILE), pad={"Stat. Bezirk": 6, "Stadtteil": 4})
    helper = helper.set_index("Stat. Bezirk")
    bezirke = clean["statistische_bezirke"].set_index("bezirk_id").sort_index()
    assert helper["Stadtteil"].equals(bezirke["stadtteil_id"].rename("Stadtteil").rename_axis("Stat. Bezirk"))
    assert (helper["Bezirksname"] == bezirke["name"]).all()
    counts = expected["sgb2_unter_3"]
    shown = helper["davon unter 3 Jahren"]
    hidden = (counts > 0) & (counts < 3)
    assert hidden.any() and (counts == 0).any()  # "." und "-" kommen vor
    assert shown.isna().to_numpy().tolist() == hidden.tolist()
    assert (shown.to_numpy()[~hidden.to_numpy()] == counts[~hidden].to_numpy()).all()  # "-" ist 0
    counts = expected["sgb2_leistungsberechtigte"]
    ages = clean["bevoelkerung_alter"].query("jahr == @year and alter < 65").groupby("bezirk_id")["einwohner"].sum()
    assert (helper["Einwohner unter 65 Jahren"].to_numpy() == ages.sort_index().to_numpy()).all()
    quote = 100 * counts / ages
    visible = helper["SGB-II-Quote in %"].notna().to_numpy()
    assert np.allclose(helper["SGB-II-Quote in %"].to_numpy()[visible], quote.to_numpy()[visible], atol=0.051)
    assert (helper["Stichtag"] == pd.Timestamp(f"{year}-12-31")).all()


def test_migration_export_matches_bewegungen(clean):
    frame = data.read_german_csv(data.raw_path(raw.MIGRATION_FILE), pad={"Statistischer Bezirk": 6})
    expected = clean["bewegungen"].sort_values(["bezirk_id", "jahr"], ignore_index=True)
    assert frame["Statistischer Bezirk"].tolist() == expected["bezirk_id"].tolist()
    assert (frame["Zeitraum von"].dt.year == expected["jahr"]).all()
    assert (frame["Zeitraum bis"] == pd.to_datetime(expected["jahr"].astype(str) + "-12-31")).all()
    for column, clean_column in [("Zuzüge über die Stadtgrenze", "zuzuege"), ("Zuzüge unter 18 Jahren",
                                 "zuzuege_unter_18"), ("Fortzüge über die Stadtgrenze", "fortzuege"),
                                 ("Fortzüge unter 18 Jahren", "fortzuege_unter_18"),
                                 ("Umzüge innerhalb der Stadt: Zuzüge", "umzuege_zu"),
                                 ("Umzüge innerhalb der Stadt: Wegzüge", "umzuege_fort")]:
        counts = expected[clean_column]
        hidden = (counts > 0) & (counts < 3)
        assert frame[column].isna().equals(hidden), column
        assert (frame.loc[~hidden, column] == counts[~hidden]).all(), column


def test_genesis_export_lost_the_leading_zero_of_the_ags(clean):
    ags = clean["stadtgrenze"]["ags"].iloc[0]
    frame = data.read_german_csv(data.raw_path(raw.GENESIS_FILE))
    assert pd.api.types.is_integer_dtype(frame["Gemeindeschlüssel"])  # ohne keys/pad: eine Zahl
    assert ags.startswith("05") and (frame["Gemeindeschlüssel"] == int(ags)).all()
    assert lines(raw.GENESIS_FILE)[5].split(";")[1] == ags[1:]
    fixed = data.read_german_csv(data.raw_path(raw.GENESIS_FILE), pad={"Gemeindeschlüssel": 8})
    assert (fixed["Gemeindeschlüssel"] == ags).all()
    per_year = clean["bevoelkerung"].groupby("jahr")[["einwohner", "einwohner_weiblich", "nichtdeutsch"]].sum()
    assert fixed["Stichtag"].dt.year.tolist() == per_year.index.tolist()
    assert fixed["Insgesamt"].tolist() == per_year["einwohner"].tolist()
    assert fixed["weiblich"].tolist() == per_year["einwohner_weiblich"].tolist()
    assert fixed["Ausländer"].tolist() == per_year["nichtdeutsch"].tolist()
    assert any("Zensus 2022" in line for line in lines(raw.GENESIS_FILE))


@pytest.fixture(scope="module")
def con():
    connection = sqlite3.connect(f"file:{data.raw_path(raw.DATABASE_FILE)}?mode=ro", uri=True)
    yield connection
    connection.close()


def test_database_has_related_tables_with_text_keys(con):
    tables = pd.read_sql("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name", con)["name"].tolist()
    assert tables == ["bezirke", "einrichtungen", "einwohner", "leistungen", "stadtbezirke", "stadtteile"]
    assert con.execute("PRAGMA foreign_key_check").fetchall() == []
    types = con.execute("SELECT DISTINCT typeof(bezirk_id), length(bezirk_id) FROM einwohner").fetchall()
    assert types == [("text", 6)]


def test_database_join_agrees_with_clean_tables(con, clean):
    query = """
        SELECT st.stadtbezirk_id, SUM(l.sgb2_leistungsberechtigte) AS sgb2, SUM(e.einwohner) AS einwohner
        FROM leistungen AS l
        JOIN einwohner AS e ON e.bezirk_id = l.bezirk_id AND e.jahr = l.jahr
        JOIN bezirke AS b ON b.bezirk_id = l.bezirk_id
        JOIN stadtteile AS st ON st.stadtteil_id = b.stadtteil_id
        WHERE l.jahr = 2024
        GROUP BY st.stadtbezirk_id
        ORDER BY st.stadtbezirk_id
    """
    result = pd.read_sql(query, con).set_index("stadtbezirk_id")
    lookup = clean["statistische_bezirke"][["bezirk_id", "stadtbezirk_id"]]
    sgb2 = clean["sozialleistungen"].query("jahr == 2024").merge(lookup, on="bezirk_id")
    people = clean["bevoelkerung"].query("jahr == 2024").merge(lookup, on="bezirk_id")
    assert result["sgb2"].tolist() == sgb2.groupby("stadtbezirk_id")["sgb2_leistungsberechtigte"].sum().tolist()
    assert result["einwohner"].tolist() == people.groupby("stadtbezirk_id")["einwohner"].sum().tolist()
    assert result.index.tolist() == sorted(lookup["stadtbezirk_id"].unique())


def test_database_facilities_match_the_geo_layer(con, clean):
    facilities = pd.read_sql("SELECT * FROM einrichtungen ORDER BY einrichtung_id", con)
    layer = clean["einrichtungen"].sort_values("einrichtung_id", ignore_index=True)
    assert facilities["einrichtung_id"].tolist() == layer["einrichtung_id"].tolist()
    assert facilities["bezirk_id"].tolist() == layer["bezirk_id"].tolist()
    assert np.allclose(facilities["ostwert"], layer.geometry.x, atol=0.06)
    assert np.allclose(facilities["nordwert"], layer.geometry.y, atol=0.06)
    kitas = layer["art"] == "Kita"
    assert np.array_equal(facilities.loc[kitas, "plaetze_u3"].to_numpy(float),
                          layer.loc[kitas, "plaetze_u3"].to_numpy(float))
