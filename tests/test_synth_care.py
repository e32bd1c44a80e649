"""Pflege: Pflegequoten der Stadt (Kreisebene) treffen die Pflegestatistik, Pflegedienste und Pflegeheime passen dazu."""

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from sozialraum import data
from sozialraum.synth import care

# DOMAIN.md, Pflegequoten Deutschland 2021: Altersgruppe -> (insgesamt, Frauen)
PFLEGESTATISTIK = {(0, 75): (0.023, None), (75, 85): (0.239, 0.271), (85, 90): (0.541, 0.606),
                   (90, 101): (0.816, 0.864)}
ARTEN = ["quote_stationaer", "quote_ambulant", "quote_pflegegeld", "quote_ohne_leistung"]


@pytest.fixture(scope="module")
def quoten():
    return data.load("pflegequoten")


@pytest.fixture(scope="module")
def bevoelkerung_2024():
    ba = data.load("bevoelkerung_alter")
    return ba[ba["jahr"] == 2024]


@pytest.fixture(scope="module")
def bedarf(bevoelkerung_2024, quoten):
    """Pflegebedürftige je statistischem Bezirk und Art: Einwohner × Quote der Altersgruppe (wie in Modul 07)."""
    gruppe = quoten["alter_von"].drop_duplicates().sort_values().to_numpy()
    von = gruppe[np.searchsorted(gruppe, bevoelkerung_2024["alter"].to_numpy(), side="right") - 1]
    merged = bevoelkerung_2024.assign(alter_von=von).merge(quoten, on=["geschlecht", "alter_von"], validate="m:1")
    return merged[ARTEN].mul(merged["einwohner"], axis=0).groupby(merged["bezirk_id"]).sum()


def pflegebeduerftige(bevoelkerung, quoten):
    gruppe = quoten["alter_von"].drop_duplicates().sort_values().to_numpy()
    von = gruppe[np.searchsorted(gruppe, bevoelkerung["alter"].to_numpy(), side="right") - 1]
    merged = bevoelkerung.assign(alter_von=von).merge(quoten, on=["geschlecht", "alter_von"])
    return (merged["einwohner"] * merged["pflegequote"]).sum(), merged["einwohner"].sum()


def test_table_shape(quoten):
    assert set(quoten["geschlecht"]) == {"m", "w"} and len(quoten) == 20
    assert quoten["alter_von"].iloc[0] == 0 and quoten["alter_bis"].max() == 100
    assert (quoten["alter_bis"].iloc[:9].to_numpy() + 1 == quoten["alter_von"].iloc[1:10].to_numpy()).all()
    np.testing.assert_allclose(quoten[ARTEN].sum(axis=1), quoten["pflegequote"], atol=2e-6)
    assert quoten[["pflegequote", *ARTEN]].stack().between(0, 1).all()
    for _, q in quoten.groupby("geschlecht"):
        assert np.all(np.diff(q["pflegequote"].to_numpy()[1:]) > 0), "Ab 15 steigt die Pflegequote mit dem Alter."


@pytest.mark.parametrize("gruppe, ziel", PFLEGESTATISTIK.items())
def test_quotas_reproduce_the_pflegestatistik(quoten, bevoelkerung_2024, gruppe, ziel):
    lo, hi = gruppe
    alle = bevoelkerung_2024[bevoelkerung_2024["alter"].between(lo, hi - 1)]
    pb, n = pflegebeduerftige(alle, quoten)
    assert abs(pb / n - ziel[0]) < 0.001, (gruppe, pb / n)
    if ziel[1] is not None:
        pb_w, n_w = pflegebeduerftige(alle[alle["geschlecht"] == "w"], quoten)
        assert abs(pb_w / n_w - ziel[1]) < 0.001, (gruppe, pb_w / n_w)
        pb_m, n_m = pflegebeduerftige(alle[alle["geschlecht"] == "m"], quoten)
        assert pb_m / n_m < pb_w / n_w, "Männer dieser Altersgruppe sind seltener pflegebedürftig als Frauen."


def test_split_follows_the_pflegestatistik_nrw(quoten):
    """Anteile stationär / ambulant / Pflegegeld je Altersgruppe wie IT.NRW 2021 (ohne Pflegegrad 1 ohne Leistung)."""
    for lo, (geld, stat, amb) in care.NRW_2021.items():
        row = quoten[quoten["alter_von"] == lo].iloc[0]
        served = row[["quote_stationaer", "quote_ambulant", "quote_pflegegeld"]].to_numpy(float)
        np.testing.assert_allclose(served / served.sum(), np.array([stat, amb, geld]) / (stat + amb + geld),
                                   atol=1e-4, err_msg=str(lo))
        assert abs(row["quote_ohne_leistung"] / row["pflegequote"] - 0.56 / 4.96) < 1e-3


def test_city_totals_are_plausible(bedarf, bevoelkerung_2024):
    total = bedarf.sum()
    anteil = total / total.sum()
    assert 0.05 < total.sum() / bevoelkerung_2024["einwohner"].sum() < 0.07  # Deutschland 2021: 6,0 %
    # Deutschland 2021: 16 % im Heim, 21 % mit Pflegedienst, 51 % nur Pflegegeld, 11 % Pflegegrad 1 ohne Leistung
    for art, (lo, hi) in {"quote_stationaer": (0.12, 0.18), "quote_ambulant": (0.17, 0.24),
                          "quote_pflegegeld": (0.48, 0.60), "quote_ohne_leistung": (0.10, 0.13)}.items():
        assert lo < anteil[art] < hi, (art, anteil[art])


def test_pflegeheime_exist_and_fit_the_stationary_demand(bedarf):
    heime = data.load("einrichtungen").query("art == 'Pflegeheim'")
    assert len(heime) >= 20 and heime["plaetze"].notna().all()
    ratio = heime["plaetze"].sum() / bedarf["quote_stationaer"].sum()
    assert 1.0 < ratio < 1.3, ratio  # etwas mehr Plätze als Bedarf (Belegung um 90 %)


def test_pflegedienste_layer(bedarf):
    dienste = data.load("pflegedienste")
    assert isinstance(dienste, gpd.GeoDataFrame) and dienste.crs.to_epsg() == 25832
    assert dienste["einrichtung_id"].is_unique and dienste["einrichtung_id"].str.fullmatch(r"PD\d{3}").all()
    assert dienste["name"].is_unique and (dienste["art"] == "Ambulanter Pflegedienst").all()
    assert dienste["klienten_kapazitaet"].between(*care.KLIENTEN_JE_DIENST).all()
    assert dienste["eroeffnung_jahr"].between(1995, 2024).all()
    bezirke = data.load("statistische_bezirke")
    joined = gpd.sjoin(dienste, bezirke[["bezirk_id", "geometry"]], predicate="within")
    assert (joined["bezirk_id_left"] == joined["bezirk_id_right"]).all() and len(joined) == len(dienste)
    auslastung = bedarf["quote_ambulant"].sum() / dienste["klienten_kapazitaet"].sum()
    assert 0.85 < auslastung < 1.0, auslastung
    # Dienste liegen eher dort, wo viele Menschen ambulant gepflegt werden
    mit_dienst = bedarf.loc[bedarf.index.isin(dienste["bezirk_id"]), "quote_ambulant"]
    assert mit_dienst.mean() > 1.15 * bedarf["quote_ambulant"].mean()


def test_services_are_reproducible(bevoelkerung_2024, quoten):
    geo = {"statistische_bezirke": data.load("statistische_bezirke")}
    a, b = (care.services(geo, bevoelkerung_2024, quoten, np.random.default_rng(5)) for _ in range(2))
    pd.testing.assert_frame_equal(pd.DataFrame(a), pd.DataFrame(b))
