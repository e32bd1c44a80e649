"""Grundschulen (Schüler, Übergänge) und Schuleingangsuntersuchung in datasets/: Schlüssel, Summen, Spannen, Gefälle."""

import numpy as np
import pandas as pd
import pytest

from sozialraum import data

JAHRE = list(range(2015, 2025))
BEFUNDE = ["sprachfoerderbedarf", "uebergewicht", "kita_unter_2_jahre"]
FORMEN = ["gymnasium", "gesamtschule", "realschule", "hauptschule", "sonstige"]


@pytest.fixture(scope="module")
def gs():
    return data.load("grundschulen")


@pytest.fixture(scope="module")
def seu():
    return data.load("schuleingangsuntersuchung")


@pytest.fixture(scope="module")
def seu_teile():
    return data.load("schuleingangsuntersuchung_stadtteile")


@pytest.fixture(scope="module")
def kinderarmut_schulbezirk():
    """Kinderarmut 2024 je Grundschulbezirk, flächengewichtet aus den statistischen Bezirken (wie in Modul 04)."""
    from sozialraum.synth import supply
    teile = supply.pieces({n: data.load(n) for n in ["statistische_bezirke", "grundschulbezirke"]})
    a = data.load("bevoelkerung_alter").query("jahr == 2024 and alter < 15").groupby("bezirk_id")["einwohner"].sum()
    s = data.load("sozialleistungen").query("jahr == 2024").set_index("bezirk_id")["sgb2_unter_15"]
    arm = (teile["bezirk_id"].map(s) * teile["anteil"]).groupby(teile["grundschulbezirk_id"]).sum()
    kids = (teile["bezirk_id"].map(a) * teile["anteil"]).groupby(teile["grundschulbezirk_id"]).sum()
    return arm / kids


def test_keys_years_and_links(gs, seu, seu_teile):
    schulen = data.load("einrichtungen").query("art == 'Grundschule'")
    bezirke = data.load("grundschulbezirke")
    stadtteile = data.load("stadtteile")
    for frame, key in ((gs, "grundschulbezirk_id"), (seu, "grundschulbezirk_id"), (seu_teile, "stadtteil_id")):
        assert frame[key].map(type).eq(str).all()
        assert not frame.duplicated([key, "jahr"]).any()
        assert sorted(frame["jahr"].unique()) == JAHRE
    assert set(gs["grundschulbezirk_id"]) == set(bezirke["grundschulbezirk_id"]) == set(seu["grundschulbezirk_id"])
    assert set(seu_teile["stadtteil_id"]) == set(stadtteile["stadtteil_id"])
    link = bezirke.set_index("grundschulbezirk_id")["einrichtung_id"]
    assert (gs["einrichtung_id"] == gs["grundschulbezirk_id"].map(link)).all()
    assert set(gs["einrichtung_id"]) == set(schulen["einrichtung_id"])


def test_counts_are_consistent(gs, seu, seu_teile):
    for frame in (gs, seu, seu_teile):
        num = frame.select_dtypes("number").drop(columns="jahr")
        assert all(pd.api.types.is_integer_dtype(t) for t in num.dtypes) and (num >= 0).all().all()
    assert (gs[[f"uebergaenge_{f}" for f in FORMEN]].sum(axis=1) == gs["uebergaenge"]).all()
    assert (gs["uebergaenge"] <= gs["schueler"]).all()
    for befund in BEFUNDE:
        assert (seu[befund] <= seu["untersuchte_kinder"]).all() and (seu_teile[befund] <= seu_teile[
            "untersuchte_kinder"]).all()
    # beide Gliederungen zählen dieselben Kinder
    cols = ["untersuchte_kinder", *BEFUNDE]
    pd.testing.assert_frame_equal(seu.groupby("jahr")[cols].sum(), seu_teile.groupby("jahr")[cols].sum())


def test_pupils_and_examined_fit_the_population(gs, seu):
    a = data.load("bevoelkerung_alter")
    six = a[a["alter"] == 6].groupby("jahr")["einwohner"].sum()
    kids = a[a["alter"].between(6, 9)].groupby("jahr")["einwohner"].sum()
    examined = seu.groupby("jahr")["untersuchte_kinder"].sum()
    assert (examined <= six).all() and (examined / six).drop([2020, 2021]).between(0.93, 1.0).all()
    assert (examined / six)[2020] < 0.9  # Corona: weniger Untersuchungen
    pupils = gs.groupby("jahr")["schueler"].sum()
    assert (pupils / kids).between(0.93, 1.0).all()


def test_gymnasium_gradient_like_the_a40(gs, kinderarmut_schulbezirk):
    g = gs.groupby("grundschulbezirk_id")[["uebergaenge_gymnasium", "uebergaenge"]].sum()
    quote = g["uebergaenge_gymnasium"] / g["uebergaenge"]
    assert quote.max() >= 0.75 and quote.min() <= 0.18  # Essen: 85 % im Süden, 10-15 % im Norden
    city = g["uebergaenge_gymnasium"].sum() / g["uebergaenge"].sum()
    assert 0.30 <= city <= 0.50
    assert quote.corr(kinderarmut_schulbezirk.reindex(quote.index), method="spearman") < -0.8
    formen = gs[[f"uebergaenge_{f}" for f in FORMEN]].sum() / gs["uebergaenge"].sum()
    assert formen["uebergaenge_gesamtschule"] > formen["uebergaenge_realschule"] > formen["uebergaenge_hauptschule"]


def test_seu_social_gradient_and_ranges(seu, kinderarmut_schulbezirk):
    s = seu[seu["jahr"] >= 2022].groupby("grundschulbezirk_id")[["untersuchte_kinder", *BEFUNDE]].sum()
    quote = s[BEFUNDE].div(s["untersuchte_kinder"], axis=0)
    arm = kinderarmut_schulbezirk.reindex(quote.index)
    for befund in BEFUNDE:
        assert quote[befund].corr(arm) > 0.6, befund
    city = s[BEFUNDE].sum() / s["untersuchte_kinder"].sum()
    assert 0.28 <= city["sprachfoerderbedarf"] <= 0.45  # Gelsenkirchen 2023: 43,3 %; Bremen etwa ein Drittel
    assert 0.09 <= city["uebergewicht"] <= 0.16  # Gelsenkirchen: 13 %, Stadtteile 6-8 % bis 18-20 %
    assert quote["sprachfoerderbedarf"].min() <= 0.15 and quote["sprachfoerderbedarf"].max() >= 0.45
    assert quote["uebergewicht"].min() <= 0.08 and quote["uebergewicht"].max() >= 0.17


def test_seu_trend_and_corona(seu):
    y = seu.groupby("jahr")[["untersuchte_kinder", *BEFUNDE]].sum()
    sprache = y["sprachfoerderbedarf"] / y["untersuchte_kinder"]
    assert sprache[2024] > sprache[2015] + 0.04  # steigender Trend wie in Gelsenkirchen
    assert sprache[2021] > sprache[[2019, 2023]].mean()  # Corona
