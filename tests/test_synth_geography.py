"""Geografie der synthetischen Stadt: Hierarchie, Schlüssel, Linien, Einrichtungen, Schulbezirke, Reproduzierbarkeit."""

import re
import sqlite3
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely

from sozialraum.synth import geography
from sozialraum.synth.__main__ import DEFAULT_SEED, GPKG_NAME, main

DATASETS = Path(__file__).resolve().parent.parent / "datasets"
GPKG = DATASETS / GPKG_NAME
LAYERS = ["stadtgrenze", "stadtbezirke", "stadtteile", "statistische_bezirke", "grundschulbezirke",
          "einrichtungen", "autobahn", "fluss"]
LEVELS = [  # (Layer, Schlüssel, Muster, erlaubte Anzahl)
    ("stadtbezirke", "stadtbezirk_id", r"0[1-9]", (5, 7)),
    ("stadtteile", "stadtteil_id", r"\d{4}", (30, 45)),
    ("statistische_bezirke", "bezirk_id", r"\d{6}", (120, 200)),
]
FACILITY_COUNTS = {
    "Kita": (150, 180), "Grundschule": (40, 50), "Familienzentrum": (20, 30), "Pflegeheim": (25, 35),
    "Begegnungsstaette": (20, 30), "Hausarztpraxis": (130, 170), "Gemeinschaftsunterkunft": (1, 1),
}


def read_layers(path: Path) -> dict[str, gpd.GeoDataFrame]:
    return {name: gpd.read_file(path, layer=name) for name in LAYERS}


def geo_from_seed(seed: int) -> dict[str, gpd.GeoDataFrame]:
    geo_ss = np.random.SeedSequence(seed).spawn(3)[0]
    return geography.build(np.random.default_rng(geo_ss))


@pytest.fixture(scope="module")
def geo_seed_7():
    return geo_from_seed(7)


@pytest.fixture(scope="module", params=["eingecheckt", "seed_7"])
def geo(request, geo_seed_7):
    """Die eingecheckte Stadt und eine frisch erzeugte mit anderem Seed: die Regeln gelten für jeden Seed."""
    return read_layers(GPKG) if request.param == "eingecheckt" else geo_seed_7


def north_of_motorway(geo, x, y) -> np.ndarray:
    xs, ys = np.asarray(geo["autobahn"].geometry.iloc[0].coords).T
    assert np.all(np.diff(xs) > 0), "Die Autobahn soll von West nach Ost verlaufen."
    return np.asarray(y) > np.interp(x, xs, ys)


def test_geopackage_has_all_layers():
    assert [row[0] for row in pyogrio.list_layers(GPKG)] == LAYERS


def test_crs_and_location(geo):
    assert list(geo) == LAYERS
    for name, gdf in geo.items():
        assert gdf.crs.to_epsg() == 25832, f"Layer {name} ist nicht in EPSG:25832."
    city = geo["stadtgrenze"]
    assert len(city) == 1 and city["ags"].iloc[0] == geography.AGS
    assert re.fullmatch(r"05\d{6}", geography.AGS)
    assert city["name"].iloc[0] == geography.CITY_NAME
    assert 100 <= city.area.iloc[0] / 1e6 <= 130
    lonlat = city.to_crs(4326).geometry.iloc[0].centroid
    assert 51.40 < lonlat.y < 51.60 and 6.95 < lonlat.x < 7.35  # zwischen Essen, Gelsenkirchen und Bochum


@pytest.mark.parametrize("layer, key, pattern, count", LEVELS)
def test_keys_and_counts(geo, layer, key, pattern, count):
    gdf = geo[layer]
    assert count[0] <= len(gdf) <= count[1]
    ids = gdf[key]
    assert ids.map(type).eq(str).all() and ids.str.fullmatch(pattern).all()
    assert ids.is_unique
    assert gdf["name"].is_unique and gdf["name"].str.len().gt(2).all()
    assert (gdf["flaeche_km2"] - gdf.area / 1e6).abs().max() < 0.001


def test_key_prefixes_and_mitte(geo):
    bezirke, teile, sbz = geo["statistische_bezirke"], geo["stadtteile"], geo["stadtbezirke"]
    assert (bezirke["bezirk_id"].str[:4] == bezirke["stadtteil_id"]).all()
    assert (bezirke["bezirk_id"].str[:2] == bezirke["stadtbezirk_id"]).all()
    assert (teile["stadtteil_id"].str[:2] == teile["stadtbezirk_id"]).all()
    assert set(bezirke["stadtteil_id"]) == set(teile["stadtteil_id"])
    assert set(teile["stadtbezirk_id"]) == set(sbz["stadtbezirk_id"])
    assert sorted(sbz["stadtbezirk_id"]) == [f"{i:02d}" for i in range(1, len(sbz) + 1)]
    mitte = sbz.set_index("stadtbezirk_id").loc["01"]
    assert mitte["name"] == "Mitte"
    assert mitte.geometry.contains(shapely.Point(geography.CENTRE))


def overlap_area(gdf: gpd.GeoDataFrame) -> float:
    geoms = gdf.geometry.to_numpy()
    left, right = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    keep = left < right
    return float(shapely.area(shapely.intersection(geoms[left[keep]], geoms[right[keep]])).sum())


@pytest.mark.parametrize("child, parent, key", [
    ("statistische_bezirke", "stadtteile", "stadtteil_id"),
    ("stadtteile", "stadtbezirke", "stadtbezirk_id"),
])
def test_hierarchy_nests_and_tiles(geo, child, parent, key):
    children, parents = geo[child], geo[parent]
    for gdf in (children, parents):
        assert gdf.is_valid.all()
        assert (gdf.geom_type == "Polygon").all(), "Jede Einheit soll zusammenhängend sein."
    assert overlap_area(children) < 1.0  # m²
    for parent_id, group in children.groupby(key):
        parent_geom = parents.loc[parents[key] == parent_id].geometry.iloc[0]
        assert abs(group.area.sum() - parent_geom.area) <= 1e-4 * parent_geom.area
        assert group.geometry.union_all().symmetric_difference(parent_geom).area < 1.0


def test_city_is_tiled_by_every_level(geo):
    city = geo["stadtgrenze"].geometry.iloc[0]
    assert city.is_valid and city.geom_type == "Polygon"
    for layer in ["stadtbezirke", "stadtteile", "statistische_bezirke", "grundschulbezirke"]:
        gdf = geo[layer]
        assert abs(gdf.area.sum() - city.area) <= 1e-4 * city.area, layer
        assert gdf.geometry.union_all().symmetric_difference(city).area < 1.0, layer
        assert overlap_area(gdf) < 1.0, layer


def test_units_smaller_in_the_centre(geo):
    bezirke = geo["statistische_bezirke"]
    dist = bezirke.centroid.distance(shapely.Point(geography.CENTRE))
    inner = bezirke.area[dist < dist.quantile(0.25)].median()
    outer = bezirke.area[dist > dist.quantile(0.75)].median()
    assert inner < 0.7 * outer


def test_motorway_crosses_city_west_east(geo):
    city = geo["stadtgrenze"].geometry.iloc[0]
    motorway = geo["autobahn"].geometry.iloc[0]
    minx, _, maxx, _ = city.bounds
    assert motorway.bounds[0] < minx and motorway.bounds[2] > maxx
    parts = shapely.get_parts(city.difference(motorway.buffer(1)))
    assert sum(p.area > 0.2 * city.area for p in parts) == 2  # schneidet die Stadt in Nord und Süd
    centroids = geo["statistische_bezirke"].centroid
    share_north = north_of_motorway(geo, centroids.x, centroids.y).mean()
    assert 0.40 <= share_north <= 0.55
    assert north_of_motorway(geo, *geography.CENTRE)  # die Innenstadt liegt nördlich des "Sozialäquators"


def test_waterways_north_of_motorway(geo):
    fluss = geo["fluss"]
    assert set(fluss["art"]) == {"Fluss", "Kanal"}
    city = geo["stadtgrenze"].geometry.iloc[0]
    for line in fluss.geometry:
        assert line.intersects(city)
        x, y = np.asarray(line.coords).T
        assert north_of_motorway(geo, x, y).all()


def test_facilities(geo):
    ein = geo["einrichtungen"]
    city = geo["stadtgrenze"].geometry.iloc[0]
    assert ein["einrichtung_id"].is_unique and ein["name"].is_unique
    counts = ein["art"].value_counts()
    assert set(counts.index) == set(FACILITY_COUNTS)
    for art, (low, high) in FACILITY_COUNTS.items():
        assert low <= counts[art] <= high, art
    assert ein.within(city).all()
    joined = gpd.sjoin(ein, geo["statistische_bezirke"][["bezirk_id", "geometry"]], predicate="within")
    assert len(joined) == len(ein)
    assert (joined["bezirk_id_left"] == joined["bezirk_id_right"]).all()
    assert ein["eroeffnung_jahr"].notna().all() and ein["eroeffnung_jahr"].le(2024).all()

    kitas = ein[ein["art"] == "Kita"]
    assert kitas["plaetze_u3"].between(4, 40).all() and kitas["plaetze_ue3"].between(20, 130).all()
    assert 0.1 <= kitas["eroeffnung_jahr"].ge(2016).mean() <= 0.35  # Ausbau seit 2016
    # Plätze je Kind: tests/test_synth_supply.py
    centres = ein[ein["art"] == "Familienzentrum"]
    kita_at = kitas.set_index(kitas.geometry.to_wkt())["eroeffnung_jahr"]
    assert (centres["eroeffnung_jahr"].to_numpy() >= kita_at[centres.geometry.to_wkt()].to_numpy()).all()
    care = ein[ein["art"] == "Pflegeheim"]
    assert care["plaetze"].between(60, 120).all()

    gu = ein[ein["art"] == "Gemeinschaftsunterkunft"]
    assert len(gu) == 1 and 300 <= gu["plaetze"].iloc[0] <= 400
    assert north_of_motorway(geo, gu.geometry.x, gu.geometry.y).all()
    assert gu["bezirk_id"].iloc[0] in set(geo["statistische_bezirke"]["bezirk_id"])


def test_grundschulbezirke_belong_to_schools_and_do_not_nest(geo):
    schools = geo["einrichtungen"].query("art == 'Grundschule'").set_index("einrichtung_id")
    districts = geo["grundschulbezirke"]
    assert districts["grundschulbezirk_id"].is_unique
    assert sorted(districts["einrichtung_id"]) == sorted(schools.index)
    for row in districts.itertuples():
        assert row.geometry.contains(schools.geometry[row.einrichtung_id])
    # zweite Gliederung: viele statistische Bezirke liegen in mehreren Schulbezirken
    pieces = gpd.overlay(geo["statistische_bezirke"], districts, how="intersection", keep_geom_type=True)
    pieces = pieces[pieces.area > 0.05 * pieces["bezirk_id"].map(geo["statistische_bezirke"].set_index("bezirk_id").area)]
    split = pieces.groupby("bezirk_id").size().gt(1).sum()
    assert split >= 0.3 * len(geo["statistische_bezirke"])


def assert_layers_equal(left: dict, right: dict) -> None:
    assert list(left) == list(right)
    for name in left:
        a, b = left[name].reset_index(drop=True), right[name].reset_index(drop=True)
        pd.testing.assert_frame_equal(a.drop(columns="geometry"), b.drop(columns="geometry"), obj=name)
        assert a.crs == b.crs
        assert shapely.equals_exact(a.geometry.to_numpy(), b.geometry.to_numpy(), tolerance=1e-6).all(), name


def test_same_seed_same_geography_other_seed_differs(geo_seed_7):
    assert_layers_equal(geo_seed_7, geo_from_seed(7))
    committed = read_layers(GPKG)
    for name in ["stadtgrenze", "statistische_bezirke", "einrichtungen"]:
        assert not committed[name].geometry.iloc[0].equals(geo_seed_7[name].geometry.iloc[0]), name


def dataset_files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and p.suffix != ".md")


def sqlite_dump(path: Path) -> list[str]:
    con = sqlite3.connect(path)
    try:
        return list(con.iterdump())
    finally:
        con.close()


def test_regeneration_reproduces_committed_datasets(tmp_path, capsys):
    assert main(["--seed", str(DEFAULT_SEED), "--out", str(tmp_path)]) == 0
    assert "Gesamtzeit" in capsys.readouterr().out
    files = dataset_files(DATASETS)
    assert files == dataset_files(tmp_path), "datasets/ ist nicht aktuell: python -m sozialraum.synth neu ausführen."
    for name in files:
        committed, fresh = DATASETS / name, tmp_path / name
        if committed.suffix == ".gpkg":
            assert_layers_equal(read_layers(committed), read_layers(fresh))
        elif committed.suffix == ".parquet":
            pd.testing.assert_frame_equal(pd.read_parquet(committed), pd.read_parquet(fresh), obj=name)
        elif committed.suffix in (".sqlite", ".db"):
            assert sqlite_dump(committed) == sqlite_dump(fresh), name
        else:  # CSV und andere Textdateien: Byte für Byte
            assert committed.read_bytes() == fresh.read_bytes(), name


def test_cli_rejects_a_file_as_output_folder(tmp_path, capsys):
    target = tmp_path / "stadt.txt"
    target.write_text("kein Ordner")
    with pytest.raises(SystemExit) as exit_info:
        main(["--out", str(target)])
    assert exit_info.value.code == 2
    assert "ist eine Datei" in capsys.readouterr().err
    assert target.read_text() == "kein Ordner"
