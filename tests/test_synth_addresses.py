"""Adressen (Hauskoordinaten) und 100-m-Raster: jeder Haushalt in genau einem Gebäude seines Bezirks, die Einwohner je
Gebäude und je Rasterzelle ergeben das Melderegister, Gebäudetypen passen zum Quartier."""

import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Transformer

from sozialraum import data
from sozialraum.synth import addresses, population
from sozialraum.synth.__main__ import DEFAULT_SEED

GU = "Gemeinschaftsunterkunft"
GITTER_ID = r"CRS3035RES100mN(\d{7})E(\d{7})"


@pytest.fixture(scope="module")
def adressen():
    return data.load("adressen")


@pytest.fixture(scope="module")
def raster():
    return data.load("raster_100m")


@pytest.fixture(scope="module")
def register():
    return data.load("melderegister")


@pytest.fixture(scope="module")
def gebaeude(adressen, register):
    """Je Adresse: Gebäude mit gezählten Haushalten und Einwohnern aus dem Melderegister."""
    haushalte = register.drop_duplicates("haushalt_id").groupby("adresse_id").size()
    einwohner = register.groupby("adresse_id").size()
    return adressen.set_index("adresse_id").assign(haushalte=haushalte, einwohner=einwohner)


@pytest.fixture(scope="module")
def typ():
    """Quartierstyp je Bezirk, wie der Generator ihn zieht (Seed und Zufallsstrom wie in __main__)."""
    geo = {n: data.load(n) for n in ["statistische_bezirke", "autobahn", "einrichtungen"]}
    pop_ss = np.random.SeedSequence(DEFAULT_SEED).spawn(3)[1]
    gu = geo["einrichtungen"].query("art == @GU")["bezirk_id"].iloc[0]
    return population.district_design(geo, np.random.default_rng(pop_ss), gu)["typ"]


def test_layers_keys_and_crs(adressen, raster, register):
    for gdf in (adressen, raster):
        assert gdf.crs.to_epsg() == 25832
    assert list(adressen.columns) == ["adresse_id", "strasse", "hausnummer", "bezirk_id", "stadtteil_id",
                                      "gebaeudetyp", "wohnungen", "geometry"]
    assert (adressen.geom_type == "Point").all()
    assert adressen["adresse_id"].is_unique and adressen["adresse_id"].str.fullmatch(r"A\d{6}").all()
    assert (adressen["stadtteil_id"] == adressen["bezirk_id"].str[:4]).all()
    assert set(adressen["gebaeudetyp"]) == {*addresses.GEBAEUDE, GU}
    assert raster["gitter_id"].is_unique and raster["gitter_id"].str.fullmatch(GITTER_ID).all()
    for frame, keys in ((adressen, ["adresse_id", "bezirk_id", "stadtteil_id"]), (raster, ["gitter_id"]),
                        (register, ["adresse_id"])):
        for key in keys:
            assert all(type(value) is str for value in frame[key]), key
    assert register.columns[-1] == "adresse_id", "Die neue Spalte steht hinten; die übrigen bleiben, wie sie sind."


def test_buildings_lie_inside_their_district(adressen):
    bezirke = data.load("statistische_bezirke").set_index("bezirk_id").geometry
    inside = shapely.within(adressen.geometry.to_numpy(), bezirke.loc[adressen["bezirk_id"]].to_numpy())
    assert inside.all(), adressen.loc[~inside, "adresse_id"].head().tolist()
    gu = data.load("einrichtungen").query("art == @GU").iloc[0]
    unterkunft = adressen[adressen["gebaeudetyp"] == GU]
    assert len(unterkunft) == 1 and unterkunft.geometry.iloc[0].distance(gu.geometry) < 0.01


def test_buildings_stand_beside_the_streets(adressen):
    """Jedes Gebäude (außer der Gemeinschaftsunterkunft) steht 12 m neben seiner Straße, nicht auf einer anderen."""
    strassen = data.load("strassen")
    haeuser = adressen[adressen["gebaeudetyp"] != GU]
    tree = shapely.STRtree(strassen.geometry.to_numpy())
    _, dist = tree.query_nearest(haeuser.geometry.to_numpy(), return_distance=True, all_matches=False)
    assert dist.min() > addresses.ABSTAND_M - 1
    eigene = strassen.dissolve("name").geometry.loc[haeuser["strasse"]].to_numpy()
    np.testing.assert_allclose(shapely.distance(haeuser.geometry.to_numpy(), eigene), addresses.ABSTAND_M, atol=0.6)


def test_every_household_lives_in_one_building_of_its_district(register, adressen):
    assert register["adresse_id"].notna().all() and register["adresse_id"].isin(adressen["adresse_id"]).all()
    assert (register.groupby("haushalt_id")["adresse_id"].nunique() == 1).all(), "Ein Haushalt, eine Adresse."
    bezirk = adressen.set_index("adresse_id")["bezirk_id"]
    assert (bezirk.loc[register["adresse_id"]].to_numpy() == register["bezirk_id"].to_numpy()).all()
    assert set(register.loc[register["gemeinschaftsunterkunft"], "adresse_id"]) == set(
        adressen.loc[adressen["gebaeudetyp"] == GU, "adresse_id"])


def test_residents_per_building_add_up_to_the_register(gebaeude, register):
    assert gebaeude["einwohner"].notna().all(), "Jedes Gebäude hat Einwohner; leere Gebäude fehlen in der Liste."
    assert gebaeude["einwohner"].sum() == len(register)
    je_bezirk = gebaeude.groupby("bezirk_id")["einwohner"].sum()
    pd.testing.assert_series_equal(je_bezirk, register.groupby("bezirk_id").size(), check_names=False)
    bevoelkerung = data.load("bevoelkerung").query("jahr == 2024").set_index("bezirk_id")["einwohner"]
    pd.testing.assert_series_equal(je_bezirk, bevoelkerung.sort_index(), check_names=False)


def test_households_per_building_fit_the_building_type(gebaeude):
    haeuser = gebaeude[gebaeude["gebaeudetyp"] != GU]
    for name, (lo, hi) in addresses.GEBAEUDE.items():
        art = haeuser[haeuser["gebaeudetyp"] == name]
        assert len(art) and art["wohnungen"].between(lo, hi).all(), name
    assert (haeuser["haushalte"] >= 1).all() and (haeuser["haushalte"] <= haeuser["wohnungen"]).all()
    leer = 1 - haeuser["haushalte"].sum() / haeuser["wohnungen"].sum()
    assert 0.02 < leer < 0.10, f"Leerstand {leer:.1%}"
    einfamilien = haeuser[haeuser["gebaeudetyp"] == "Einfamilienhaus"]
    assert (einfamilien["haushalte"] == 1).all() and einfamilien["einwohner"].max() <= 8


def test_single_family_houses_in_the_suburbs_high_rises_in_the_estate(gebaeude, register, typ):
    haushalte = register.drop_duplicates("haushalt_id").merge(gebaeude["gebaeudetyp"], left_on="adresse_id",
                                                              right_index=True)
    anteil = pd.crosstab(haushalte["bezirk_id"], haushalte["gebaeudetyp"], normalize="index")
    klein = anteil["Einfamilienhaus"] + anteil["Zweifamilienhaus"]
    assert (klein[typ == "einfamilienhausgebiet"] > 0.7).all()
    assert (anteil.loc[typ == "einfamilienhausgebiet", "Einfamilienhaus"] > 0.5).all()
    assert (anteil.loc[typ == "grosswohnsiedlung", "Hochhaus"] > 0.5).all()
    assert (anteil.loc[typ != "grosswohnsiedlung", "Hochhaus"] == 0).all()
    assert (anteil.loc[typ == "innenstadt", "Einfamilienhaus"] == 0).all()
    # im Einfamilienhaus wohnen vor allem Familien und Paare
    paare = haushalte["haushaltstyp"].isin(addresses.FAMILIEN)
    haus = haushalte["gebaeudetyp"] == "Einfamilienhaus"
    assert paare[haus].mean() > paare[~haus].mean() + 0.15


def test_house_numbers_unique_odd_left_even_right(adressen):
    assert not adressen.duplicated(["strasse", "hausnummer"]).any()
    assert (adressen["hausnummer"] >= 1).all()
    # Seite je Gebäude, gemessen an der nächsten Kante seiner Straße: Auf jeder Kante stehen die ungeraden Nummern
    # alle auf der einen, die geraden alle auf der anderen Seite (Gebäude nahe den Enden der Kante nicht gezählt).
    strassen = data.load("strassen")
    kanten = strassen[strassen["name"].notna()].reset_index(drop=True)
    haeuser = adressen[adressen["gebaeudetyp"] != GU]
    paare = haeuser.merge(kanten[["name", "geometry"]].rename(columns={"name": "strasse", "geometry": "linie"})
                          .reset_index(names="kante"), on="strasse")
    paare["d"] = shapely.distance(paare.geometry.to_numpy(), paare["linie"].to_numpy())
    naechste = paare.loc[paare.groupby("adresse_id")["d"].idxmin()]
    linie, punkt = naechste["linie"].to_numpy(), naechste.geometry.to_numpy()
    s = shapely.line_locate_point(linie, punkt)
    a = shapely.line_interpolate_point(linie, np.maximum(s - 1, 0))
    b = shapely.line_interpolate_point(linie, np.minimum(s + 1, shapely.length(linie)))
    links = ((shapely.get_x(b) - shapely.get_x(a)) * (shapely.get_y(punkt) - shapely.get_y(a))
             - (shapely.get_y(b) - shapely.get_y(a)) * (shapely.get_x(punkt) - shapely.get_x(a))) > 0
    lage = pd.DataFrame({"kante": naechste["kante"].to_numpy(), "nummer": naechste["hausnummer"].to_numpy(),
                         "s": s, "links": links})
    ecke = 2 * addresses.ABSTAND_M  # an einer Ecke ist die nächste Kante nicht immer die eigene
    lage = lage[(s > ecke) & (s < shapely.length(linie) - ecke)]
    lage["ungerade"] = lage["nummer"] % 2 == 1
    seite = lage.groupby(["kante", "ungerade"])["links"].mean().unstack().dropna()
    assert len(seite) > 1000
    assert seite.isin([0.0, 1.0]).all().all() and (seite[True] != seite[False]).all()
    # links heißt: links in Richtung steigender Nummern
    ungerade = lage[lage["ungerade"]].sort_values(["kante", "nummer"])
    richtung = np.sign(ungerade.groupby("kante")["s"].diff()).dropna()
    vorwaerts = richtung.groupby(ungerade["kante"]).mean()
    assert len(vorwaerts) > 1000 and vorwaerts.isin([-1.0, 1.0]).all()
    links_ungerade = ungerade.groupby("kante")["links"].first().loc[vorwaerts.index]
    assert (links_ungerade == (vorwaerts > 0)).all(), "Ungerade Nummern stehen links in Richtung steigender Nummern."
    # die Nummern laufen die Straße entlang: Nummer n und die nächste derselben Seite stehen nah beieinander
    folge = haeuser.assign(ungerade=haeuser["hausnummer"] % 2, x=haeuser.geometry.x, y=haeuser.geometry.y)
    folge = folge.sort_values(["strasse", "ungerade", "hausnummer"]).groupby(["strasse", "ungerade"])
    schritt = np.hypot(folge["x"].diff(), folge["y"].diff()).dropna()
    assert schritt.median() < 3 * addresses.FRONT_M, schritt.describe()


def test_raster_counts_add_up_to_the_register(raster, register, adressen):
    assert raster["einwohner"].sum() == len(register)
    assert (raster["einwohner"] >= 1).all()
    alter = register["alter"]
    summen = {"einwohner_unter_18": (alter < 18).sum(), "einwohner_65_plus": (alter >= 65).sum(),
              "einwohner_unter_65": (alter < 65).sum(),
              "nichtdeutsch": (register["staatsangehoerigkeit"] == "nichtdeutsch").sum(),
              "sgb2_leistungsberechtigte": register["sgb2"].sum()}
    for spalte, summe in summen.items():
        assert raster[spalte].sum() == summe, spalte
    # jedes Gebäude liegt in der Zelle, in der seine Einwohner gezählt sind
    zelle = adressen.sjoin(raster[["gitter_id", "geometry"]], predicate="within").set_index("adresse_id")["gitter_id"]
    assert len(zelle) == len(adressen)
    gezaehlt = register.groupby(register["adresse_id"].map(zelle)).size().sort_index()
    pd.testing.assert_series_equal(gezaehlt, raster.set_index("gitter_id")["einwohner"].sort_index(),
                                   check_names=False)


def test_raster_cells_are_the_100_m_cells_of_epsg_3035(raster):
    to_laea = Transformer.from_crs("EPSG:25832", "EPSG:3035", always_xy=True)
    zellen = shapely.transform(raster.geometry.to_numpy(), lambda xy: np.column_stack(to_laea.transform(*xy.T)))
    ecken = shapely.bounds(zellen)
    ids = raster["gitter_id"].str.extract(GITTER_ID).astype(int).to_numpy()
    np.testing.assert_allclose(ecken[:, 0], ids[:, 1], atol=0.05)  # E: Rechtswert der linken unteren Ecke
    np.testing.assert_allclose(ecken[:, 1], ids[:, 0], atol=0.05)  # N: Hochwert
    np.testing.assert_allclose(ecken[:, 2] - ecken[:, 0], 100, atol=0.1)
    np.testing.assert_allclose(ecken[:, 3] - ecken[:, 1], 100, atol=0.1)
    np.testing.assert_allclose(shapely.area(zellen), 10_000, atol=2)  # Ecken auf 1 cm gerundet
    assert (ids % 100 == 0).all()
