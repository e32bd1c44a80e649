"""Kita- und Grundschulplätze in datasets/: passend zur Bevölkerung bemessen (Versorgungsquoten wie im Ruhrgebiet)."""

import numpy as np
import pandas as pd
import pytest

from sozialraum import data
from sozialraum.synth import supply


@pytest.fixture(scope="module")
def ein():
    return data.load("einrichtungen")


@pytest.fixture(scope="module")
def versorgung(ein):
    """Plätze (Standort) und Kinder (Wohnort) je Stadtteil, 2024 – so wie Modul 04 rechnet."""
    k = data.load("kita").query("jahr == 2024")
    kinder = k.groupby(k["bezirk_id"].str[:4])[["kinder_unter_3", "kinder_3_bis_unter_6"]].sum()
    kitas = ein[ein["art"] == "Kita"]
    plaetze = kitas.groupby(kitas["bezirk_id"].str[:4])[["plaetze_u3", "plaetze_ue3"]].sum()
    v = kinder.join(plaetze).fillna(0)
    return v.assign(u3=v["plaetze_u3"] / v["kinder_unter_3"], ue3=v["plaetze_ue3"] / v["kinder_3_bis_unter_6"])


@pytest.fixture(scope="module")
def north():
    bezirke = data.load("statistische_bezirke")
    line = data.load("autobahn").geometry.union_all()
    cent = bezirke.geometry.centroid
    return pd.Series([p.y > line.interpolate(line.project(p)).y for p in cent], index=bezirke["bezirk_id"])


def test_u3_versorgungsquote_in_a_realistic_range(versorgung):
    city = versorgung["plaetze_u3"].sum() / versorgung["kinder_unter_3"].sum()
    assert 0.30 <= city <= 0.38  # NRW 2018/19 38,1 %, Dortmund 31,5 %
    assert versorgung["u3"].min() >= 0.15 and versorgung["u3"].max() <= 0.52
    assert (versorgung["u3"] > 0.50).sum() <= 1
    assert versorgung["u3"].std() >= 0.05  # Stadtteile unterscheiden sich
    betreut = data.load("kita").query("jahr == 2024")
    assert betreut["betreute_kinder_unter_3"].sum() < versorgung["plaetze_u3"].sum()


def test_ue3_close_to_one_place_per_child(versorgung):
    city = versorgung["plaetze_ue3"].sum() / versorgung["kinder_3_bis_unter_6"].sum()
    assert 0.92 <= city <= 1.02
    assert versorgung["ue3"].between(0.7, 1.4).all()


def test_u3_supply_lower_in_the_north(versorgung, north):
    teil_nord = north.groupby(north.index.str[:4]).mean() > 0.5
    v = versorgung.join(teil_nord.rename("nord"))
    q = v.groupby("nord")[["plaetze_u3", "kinder_unter_3"]].sum()
    quote = q["plaetze_u3"] / q["kinder_unter_3"]
    assert quote[True] < quote[False] - 0.04


def test_kita_sizes(ein):
    kitas = ein[ein["art"] == "Kita"]
    assert kitas["plaetze_u3"].between(4, 40).all()
    assert kitas["plaetze_ue3"].between(20, 130).all() and (kitas["plaetze_ue3"] % 5 == 0).all()


def test_grundschulen_fit_their_catchment_with_a_few_planning_cases(ein):
    geo = {n: data.load(n) for n in ["statistische_bezirke", "grundschulbezirke"]}
    teile = supply.pieces(geo)
    assert np.allclose(teile.groupby("bezirk_id")["anteil"].sum(), 1)
    a = data.load("bevoelkerung_alter").query("jahr == 2024 and 6 <= alter < 10")
    kinder = teile["bezirk_id"].map(a.groupby("bezirk_id")["einwohner"].sum()) * teile["anteil"]
    je_schule = kinder.groupby(teile["einrichtung_id"]).sum()
    plaetze = ein.set_index("einrichtung_id").loc[je_schule.index, "plaetze"].astype(float)
    assert (plaetze % 50 == 0).all() and plaetze.between(100, 600).all()  # Züge × 4 × 25, auch halbe Züge
    je_platz = je_schule / plaetze
    assert 0.55 <= je_platz.min() and je_platz.max() <= 1.45
    assert 2 <= (je_platz > 1.1).sum() <= 8  # einige Schulen zu klein (Planungsfall) ...
    assert 2 <= (je_platz < 0.8).sum() <= 8  # ... einige nicht ausgelastet
    assert je_platz.between(0.8, 1.1).mean() >= 0.6
