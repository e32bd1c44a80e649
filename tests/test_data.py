"""Lader sozialraum.data: Datenordner finden, Schlüssel als Text, CRS, deutsche Fehlermeldungen, deutsche CSV."""
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import Point, box

from sozialraum import data

HINT = "python -m sozialraum.synth"


@pytest.fixture
def kit(tmp_path, monkeypatch):
    """Ein kleines Kit mit Stellvertreter-Daten (die echten datasets/ bleiben unberührt) und den Arbeitsordnern,
    aus denen Lernende und nbgrader Notebooks ausführen."""
    monkeypatch.delenv(data.ENV_VAR, raising=False)
    root = tmp_path / "kit"
    folder = root / "datasets"
    (folder / "roh").mkdir(parents=True)
    bezirke = gpd.GeoDataFrame(
        {"bezirk_id": ["010101", "010102"], "stadtbezirk_id": ["01", "01"], "name": ["Altstadt", "Hafen"]},
        geometry=[box(360000, 5700000, 361000, 5701000), box(361000, 5700000, 362000, 5701000)],
        crs="EPSG:25832",
    )
    bezirke.to_file(folder / "stadt.gpkg", layer="statistische_bezirke")
    points = gpd.GeoDataFrame({"einrichtung_id": ["E0001"]}, geometry=[Point(7.1, 51.5)], crs="EPSG:4326")
    points.to_file(folder / "stadt.gpkg", layer="einrichtungen")
    (folder / "bevoelkerung.csv").write_text("ags,bezirk_id,jahr,einwohner\n05999000,010101,2024,1500\n", "utf-8")
    pd.DataFrame({"person_id": ["0000001"], "bezirk_id": ["010102"], "alter": [7]}).to_parquet(
        folder / "melderegister.parquet"
    )
    (folder / "roh" / "export.csv").write_text("a;b\n1;2\n", "cp1252")
    for sub in ("modules", "exercises/00_start", "submitted/stud/00_start", "autograded/stud/00_start"):
        (root / sub).mkdir(parents=True)
    return root


@pytest.mark.parametrize(
    "workdir", [".", "datasets", "modules", "exercises/00_start", "submitted/stud/00_start", "autograded/stud/00_start"]
)
def test_datasets_found_from_every_working_directory(kit, workdir, monkeypatch):
    monkeypatch.chdir(kit / workdir)
    assert data.datasets_dir() == (kit / "datasets").resolve()
    assert data.load("bevoelkerung")["bezirk_id"].tolist() == ["010101"]


def test_environment_variable_wins_outside_the_kit(kit, tmp_path, monkeypatch):
    elsewhere = tmp_path / "irgendwo"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.setenv(data.ENV_VAR, str(kit / "datasets"))
    assert data.datasets_dir() == (kit / "datasets").resolve()
    monkeypatch.setenv(data.ENV_VAR, str(kit))  # der Kit-Ordner selbst geht auch
    assert data.datasets_dir() == (kit / "datasets").resolve()
    monkeypatch.setenv(data.ENV_VAR, str(elsewhere))
    with pytest.raises(data.DataMissingError, match=data.ENV_VAR) as info:
        data.datasets_dir()
    assert HINT in str(info.value)


def test_missing_folder_explains_search_and_regeneration(tmp_path, monkeypatch):
    monkeypatch.delenv(data.ENV_VAR, raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(data, "__file__", str(tmp_path / "site" / "sozialraum" / "data.py"))
    monkeypatch.setattr(data, "HUB_DIR", tmp_path / "home" / "sozialraum-kit" / "datasets")
    with pytest.raises(FileNotFoundError) as info:
        data.load("bevoelkerung")
    message = str(info.value)
    assert message.startswith("Der Datenordner datasets/") and HINT in message and data.ENV_VAR in message


def test_folder_without_gpkg_is_named_in_the_error(kit, tmp_path, monkeypatch):
    monkeypatch.chdir(kit / "modules")
    monkeypatch.setattr(data, "__file__", str(tmp_path / "site" / "sozialraum" / "data.py"))
    monkeypatch.setattr(data, "HUB_DIR", tmp_path / "home" / "sozialraum-kit" / "datasets")
    (kit / "datasets" / "stadt.gpkg").unlink()
    with pytest.raises(data.DataMissingError) as info:
        data.list_datasets()
    assert f"Ohne stadt.gpkg (unvollständig): {(kit / 'datasets').resolve()}" in str(info.value)
    assert HINT in str(info.value)


def test_hub_home_is_the_last_fallback(kit, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(data, "__file__", str(tmp_path / "site" / "sozialraum" / "data.py"))
    monkeypatch.setattr(data, "HUB_DIR", kit / "datasets")
    assert data.datasets_dir() == kit / "datasets"


def test_list_datasets_names_kinds_and_rows(kit, monkeypatch):
    monkeypatch.chdir(kit / "modules")
    listing = data.list_datasets()
    assert listing["name"].tolist() == ["bevoelkerung", "einrichtungen", "melderegister", "statistische_bezirke"]
    assert listing.set_index("name")["zeilen"].to_dict() == {
        "bevoelkerung": 1, "einrichtungen": 1, "melderegister": 1, "statistische_bezirke": 2
    }
    assert listing.set_index("name").loc["statistische_bezirke", "datei"] == "stadt.gpkg"


def test_keys_are_strings_with_leading_zeros_and_crs_is_set(kit, monkeypatch):
    monkeypatch.chdir(kit)
    table = data.load("bevoelkerung")
    assert table.loc[0, "ags"] == "05999000" and table.loc[0, "bezirk_id"] == "010101"
    assert pd.api.types.is_integer_dtype(table["einwohner"])
    assert data.load("melderegister").loc[0, "person_id"] == "0000001"
    bezirke = data.load("statistische_bezirke")
    assert isinstance(bezirke, gpd.GeoDataFrame) and bezirke.crs.to_epsg() == 25832
    assert bezirke["bezirk_id"].tolist() == ["010101", "010102"]
    punkte = data.load("einrichtungen")  # in WGS84 gespeichert, kommt in EPSG:25832 zurück
    assert punkte.crs.to_epsg() == 25832 and 300000 < punkte.geometry.x[0] < 400000


def test_unknown_name_lists_valid_names_and_suggests_one(kit, monkeypatch):
    monkeypatch.chdir(kit)
    with pytest.raises(KeyError) as info:
        data.load("statistische_bezirk")
    message = str(info.value)
    assert isinstance(info.value, data.UnknownDatasetError)
    assert message.startswith(
        "Einen Datensatz 'statistische_bezirk' gibt es nicht. Meinten Sie 'statistische_bezirke'?"
    )
    for name in ("bevoelkerung", "einrichtungen", "melderegister", "statistische_bezirke"):
        assert name in message


@pytest.mark.parametrize("damage", ["truncate_gpkg", "empty_csv", "garbage_parquet"])
def test_damaged_file_says_how_to_regenerate(kit, monkeypatch, damage):
    monkeypatch.chdir(kit)
    folder = kit / "datasets"
    if damage == "truncate_gpkg":
        content = (folder / "stadt.gpkg").read_bytes()
        (folder / "stadt.gpkg").write_bytes(content[: len(content) // 3])
        name = "statistische_bezirke"
    elif damage == "empty_csv":
        (folder / "bevoelkerung.csv").write_bytes(b"")
        name = "bevoelkerung"
    else:
        (folder / "melderegister.parquet").write_bytes(b"keine Parquet-Datei")
        name = "melderegister"
    with pytest.raises(ValueError) as info:
        data.load(name)
    assert isinstance(info.value, data.DataDamagedError)
    assert str(info.value).startswith("Die Datei ") and "beschädigt" in str(info.value) and HINT in str(info.value)


def test_missing_gpkg_is_reported_with_hint(kit, monkeypatch):
    monkeypatch.setenv(data.ENV_VAR, str(kit / "datasets"))
    (kit / "datasets" / "stadt.gpkg").unlink()
    with pytest.raises(data.DataMissingError, match="stadt.gpkg") as info:
        data.load("bevoelkerung")
    assert HINT in str(info.value)


def test_raw_path_and_list_raw(kit, monkeypatch):
    monkeypatch.chdir(kit / "exercises" / "00_start")
    assert data.list_raw() == ["export.csv"]
    assert data.raw_path("export.csv") == (kit / "datasets" / "roh" / "export.csv").resolve()
    with pytest.raises(FileNotFoundError) as info:
        data.raw_path("exprot.csv")
    assert "Meinten Sie 'export.csv'?" in str(info.value) and HINT in str(info.value)


# --- read_german_csv -------------------------------------------------------------------------------------------

EXPORT = """Stadt Beispielstadt – Amt für Statistik;;;;;;
Leistungsberechtigte nach Bezirken (Beträge in €);;;;;;
;;;;;;
Bezirk;AGS;Name;Einwohner;Quote in %;Stichtag;Fälle
10101;5999000;Altstadt-Süd;1.234;12,5;31.12.2024;.
20101;5999000;Hüttenstraße;987;-;31.12.2024;-
20102;5999000;Ölweg;12.345;0,5;31.12.2024;1.017
;;;;;;
Quelle: synthetische Daten;;;;;;
"." = Zahlenwert unbekannt oder geheim zu halten;;;;;;
"""


@pytest.fixture
def export(tmp_path):
    path = tmp_path / "export.csv"
    path.write_text(EXPORT, encoding="cp1252")
    return path


def test_read_german_csv_cleans_a_typical_export(export):
    frame = data.read_german_csv(export, pad={"Bezirk": 6, "AGS": 8})
    assert frame.columns.tolist() == ["Bezirk", "AGS", "Name", "Einwohner", "Quote in %", "Stichtag", "Fälle"]
    assert frame["Bezirk"].tolist() == ["010101", "020101", "020102"]
    assert frame["AGS"].tolist() == ["05999000"] * 3
    assert frame["Name"].tolist() == ["Altstadt-Süd", "Hüttenstraße", "Ölweg"]
    assert frame["Einwohner"].tolist() == [1234, 987, 12345]
    assert pd.api.types.is_integer_dtype(frame["Einwohner"])
    assert frame["Quote in %"].tolist() == [12.5, 0.0, 0.5]
    assert frame["Fälle"].isna().tolist() == [True, False, False]
    assert frame["Fälle"].iloc[1:].tolist() == [0, 1017]
    assert (frame["Stichtag"] == pd.Timestamp("2024-12-31")).all()


def test_read_german_csv_options(export):
    frame = data.read_german_csv(export, keys=["Bezirk"], dash_is_zero=False)
    assert frame["Bezirk"].tolist() == ["10101", "20101", "20102"]  # Text, aber ohne aufgefüllte Nullen
    assert frame["Quote in %"].isna().tolist() == [False, True, False]
    utf8 = export.with_name("utf8.csv")
    utf8.write_text(EXPORT, encoding="utf-8")
    assert data.read_german_csv(utf8)["Name"].tolist() == ["Altstadt-Süd", "Hüttenstraße", "Ölweg"]


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"encoding": "utf-8"}, "nicht in der Kodierung 'utf-8'"),
        ({"sep": ","}, "sep=';'"),
        ({"pad": {"Bezrik": 6}}, "'Bezrik' gibt es in export.csv nicht"),
    ],
)
def test_read_german_csv_errors_are_german_with_hint(export, options, expected):
    with pytest.raises(data.GermanCsvError, match=expected):
        data.read_german_csv(export, **options)


def test_read_german_csv_trailing_separator_and_duplicate_names(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_text("Titel\n\nBezirk;Anzahl;Anzahl;\n10101;1.500;.;\n20202;7;-;\n", encoding="cp1252")
    frame = data.read_german_csv(path, pad={"Bezirk": 6})
    assert frame.columns.tolist() == ["Bezirk", "Anzahl", "Anzahl.1"]
    assert frame["Anzahl"].tolist() == [1500, 7] and frame["Anzahl.1"].isna().tolist() == [True, False]


def test_read_german_csv_detects_utf8_read_as_cp1252(export):
    utf8 = export.with_name("utf8.csv")
    utf8.write_text(EXPORT, encoding="utf-8")
    with pytest.raises(ValueError, match="sieht nach UTF-8 aus"):
        data.read_german_csv(utf8, encoding="cp1252")


def test_read_german_csv_empty_file(tmp_path):
    empty = Path(tmp_path / "leer.csv")
    empty.write_bytes(b"")
    with pytest.raises(data.GermanCsvError, match="keine Tabelle"):
        data.read_german_csv(empty)


# --- die echten Daten in datasets/ ----------------------------------------------------------------------------

KEY_WIDTHS = {"ags": 8, "stadtbezirk_id": 2, "stadtteil_id": 4, "bezirk_id": 6}


def test_real_datasets_load_with_text_keys_and_crs():
    listing = data.list_datasets()
    names = set(listing["name"])
    assert {"stadtgrenze", "stadtbezirke", "stadtteile", "statistische_bezirke", "grundschulbezirke",
            "einrichtungen", "autobahn", "fluss", "melderegister", "bevoelkerung", "sozialleistungen"} <= names
    for row in listing.itertuples():
        frame = data.load(row.name)
        assert len(frame) == row.zeilen, row.name
        if row.datei == "stadt.gpkg":
            assert isinstance(frame, gpd.GeoDataFrame) and frame.crs.to_epsg() == 25832, row.name
        for column in filter(data.is_key, frame.columns):
            assert pd.api.types.is_string_dtype(frame[column]), (row.name, column)
            if column in KEY_WIDTHS:
                assert frame[column].dropna().str.fullmatch(rf"\d{{{KEY_WIDTHS[column]}}}").all(), (row.name, column)
    assert data.load("stadtgrenze")["ags"].iloc[0].startswith("05")
    assert data.load("stadtbezirke")["stadtbezirk_id"].min() == "01"


def test_real_datasets_found_from_outside_through_the_installed_package(tmp_path, monkeypatch):
    monkeypatch.delenv(data.ENV_VAR, raising=False)
    monkeypatch.chdir(tmp_path)
    assert data.datasets_dir() == Path(data.__file__).resolve().parents[2] / "datasets"
    assert data.load("statistische_bezirke")["bezirk_id"].str.len().eq(6).all()


def test_geoparquet_layers_load_as_geodataframes_in_25832(kit, monkeypatch):
    monkeypatch.chdir(kit)
    punkte = gpd.GeoDataFrame({"einrichtung_id": ["007"], "bezirk_id": ["010101"]}, geometry=[Point(7.1, 51.5)],
                              crs="EPSG:4326")
    punkte.to_parquet(kit / "datasets" / "dienste.parquet")
    listing = data.list_datasets().set_index("name")
    assert listing.loc["dienste", "art"] == "Geodaten (GeoParquet)"
    assert listing.loc["melderegister", "art"] == "Tabelle (Parquet)"
    frame = data.load("dienste")
    assert isinstance(frame, gpd.GeoDataFrame) and frame.crs.to_epsg() == 25832
    assert frame["einrichtung_id"].iloc[0] == "007" and 360000 < frame.geometry.x.iloc[0] < 380000


def test_real_geoparquet_layers_have_crs_and_text_keys():
    listing = data.list_datasets()
    geo = listing[listing["art"] == "Geodaten (GeoParquet)"]
    assert "pflegedienste" in set(geo["name"])
    for name in geo["name"]:
        frame = data.load(name)
        assert isinstance(frame, gpd.GeoDataFrame) and frame.crs.to_epsg() == 25832, name
        assert frame.geometry.notna().all() and frame.is_valid.all(), name


@pytest.mark.parametrize("name, columns", [("melderegister", ["adresse_id", "alter"]), ("adressen", ["adresse_id"]),
                                           ("statistische_bezirke", ["bezirk_id"]), ("kita", ["bezirk_id", "jahr"])])
def test_load_only_some_columns(name, columns):
    whole = data.load(name)
    part = data.load(name, columns=columns)
    geo = isinstance(whole, gpd.GeoDataFrame)
    assert list(part.columns) == columns + (["geometry"] if geo else [])
    assert len(part) == len(whole) and part[columns].equals(whole[columns])
    assert not geo or part.crs.to_epsg() == 25832


def test_unknown_column_names_the_columns_in_german():
    with pytest.raises(ValueError, match="keine Spalte 'alt'. Vorhanden sind: .*alter"):
        data.load("melderegister", columns=["alt"])
