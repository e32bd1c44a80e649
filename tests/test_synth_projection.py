"""Prognosegrundlagen: Geburten-, Überlebens- und Wanderungsraten je Stadtbezirk reproduzieren die Jahre 2020-2024.

Die Referenzprognose hier ist absichtlich klein und von Hand geschrieben (so wie Teilnehmende sie in Modul 07
bauen); das Paket enthält keine Prognosefunktion.
"""

import numpy as np
import pandas as pd
import pytest

from sozialraum import data

STUETZJAHRE = range(2020, 2025)
AGE = np.arange(101)
TOLERANZ_GESAMT = 0.02  # Einwohner je Stadtbezirk und Jahr: höchstens 2 % Abweichung (gemessen bis 1,8 %)
TOLERANZ_ALTERSGRUPPE = 0.04  # Altersgruppen unter 90 je Stadtbezirk und Jahr: höchstens 4 % (gemessen bis 3,7 %)
BREITE_ALTERSGRUPPEN = {"unter 6": (0, 6), "6 bis unter 18": (6, 18), "18 bis unter 65": (18, 65),
                        "65 bis unter 90": (65, 90)}


@pytest.fixture(scope="module")
def inputs():
    return {name: data.load(name) for name in
            ["prognose_geburtenraten", "prognose_ueberlebensraten", "prognose_wanderungsraten",
             "bevoelkerung_alter", "bevoelkerung", "bewegungen"]}


@pytest.fixture(scope="module")
def stocks(inputs):
    """Einwohner je Jahr als Feld (Stadtbezirk, Geschlecht m/w, Alter 0-100)."""
    ba = inputs["bevoelkerung_alter"].assign(stadtbezirk_id=lambda d: d["bezirk_id"].str[:2])
    summed = ba.groupby(["jahr", "stadtbezirk_id", "geschlecht", "alter"])["einwohner"].sum()
    n = summed.index.get_level_values("stadtbezirk_id").nunique()
    return {j: s.to_numpy().reshape(n, 2, 101).astype(float) for j, s in summed.groupby(level="jahr")}


def by_group(frame, columns):
    return frame.assign(stadtbezirk_id=frame["bezirk_id"].str[:2]).groupby(["stadtbezirk_id", "jahr"])[columns].sum()


def rates(inputs):
    """Die Raten als Felder: Geburten (Stadtbezirk, Alter 15-49), Überleben und Wanderung (Stadtbezirk, [Geschl.,] Alter)."""
    geb = inputs["prognose_geburtenraten"].pivot(index="stadtbezirk_id", columns="alter_mutter", values="geburtenrate")
    ueb = inputs["prognose_ueberlebensraten"].set_index(["stadtbezirk_id", "geschlecht", "alter"])["ueberlebensrate"]
    wan = inputs["prognose_wanderungsraten"]
    gruppe = np.minimum(AGE // 5 * 5, 90)
    zu = wan.pivot(index="stadtbezirk_id", columns="alter_von", values="zuzugsrate")[gruppe].to_numpy()
    fort = wan.pivot(index="stadtbezirk_id", columns="alter_von", values="fortzugsrate")[gruppe].to_numpy()
    n = len(geb)
    return geb.to_numpy(), ueb.to_numpy().reshape(n, 2, 101), zu, fort


def start_cohort(stock, births_m, births_w):
    """Die Kohorte zu Jahresbeginn nach ihrem Alter am Jahresende: P(t-1, a-1), Geburten bei 0, 100+ offen."""
    out = np.zeros_like(stock)
    out[:, :, 1:] = stock[:, :, :-1]
    out[:, :, -1] += stock[:, :, -1]
    out[:, 0, 0], out[:, 1, 0] = births_m, births_w
    return out


def zensus_faktor(inputs):
    """Zensus-2022-Umstellung je Stadtbezirk aus den Daten: Bestand 2022 gegen Bestand 2021 plus Bilanz 2022."""
    bev = by_group(inputs["bevoelkerung"], ["einwohner"])["einwohner"].unstack()
    bew = by_group(inputs["bewegungen"], ["geburten", "sterbefaelle", "zuzuege", "fortzuege", "umzuege_zu",
                                          "umzuege_fort"]).xs(2022, level="jahr")
    bilanz = bew.eval("geburten - sterbefaelle + zuzuege - fortzuege + umzuege_zu - umzuege_fort")
    return (bev[2022] / (bev[2021] + bilanz)).to_numpy()


def project(inputs, stock, years, faktor):
    """Kohorten-Komponenten-Prognose: Geburten aus den Frauen des Vorjahres, dann Überleben und Wanderung."""
    geb, ueb, zu, fort = rates(inputs)
    jungen = inputs["prognose_geburtenraten"]["anteil_jungen"].iloc[0]
    out = {}
    for j in years:
        births = (stock[:, 1, 15:50] * geb).sum(1)
        stock = start_cohort(stock, births * jungen, births * (1 - jungen)) * (ueb + zu[:, None] - fort[:, None])
        if j == 2022:
            stock = stock * faktor[:, None, None]
        out[j] = stock
    return out


def test_tables_have_the_documented_shape(inputs):
    geb, ueb, wan = (inputs[n] for n in ["prognose_geburtenraten", "prognose_ueberlebensraten",
                                         "prognose_wanderungsraten"])
    bezirke = sorted(data.load("stadtbezirke")["stadtbezirk_id"])
    assert sorted(geb["stadtbezirk_id"].unique()) == bezirke
    assert geb["alter_mutter"].between(15, 49).all() and len(geb) == 35 * len(bezirke)
    assert len(ueb) == len(bezirke) * 2 * 101 and set(ueb["geschlecht"]) == {"m", "w"}
    assert ueb["ueberlebensrate"].between(0.3, 1).all()
    assert wan["alter_von"].tolist()[:19] == list(range(0, 95, 5)) and wan["alter_bis"].max() == 100
    assert wan[["zuzugsrate", "fortzugsrate"]].stack().between(0.01, 1).all()
    assert geb["anteil_jungen"].nunique() == 1 and 0.49 < geb["anteil_jungen"].iloc[0] < 0.53


def test_rates_are_plausible_for_a_ruhr_city(inputs):
    tfr = inputs["prognose_geburtenraten"].groupby("stadtbezirk_id")["geburtenrate"].sum()
    assert tfr.between(1.2, 2.1).all(), tfr  # NRW etwa 1,4-1,6; im Norden höher
    geb = inputs["prognose_geburtenraten"].groupby("alter_mutter")["geburtenrate"].mean()
    assert 29 <= geb.idxmax() <= 33
    ueb = inputs["prognose_ueberlebensraten"]
    for sex, (lo, hi) in {"m": (75, 80), "w": (80, 85)}.items():
        s = ueb[ueb["geschlecht"] == sex].groupby("alter")["ueberlebensrate"].mean().to_numpy()
        e0 = np.cumprod(np.r_[1.0, s[1:]]).sum() - 0.5
        assert lo < e0 < hi, (sex, e0)  # Gelsenkirchen etwa 76,5 / 81,5 Jahre
        assert np.all(np.diff(s[40:]) < 0), "Die Überlebensrate soll ab 40 mit dem Alter sinken."
    wan = inputs["prognose_wanderungsraten"]
    peak = wan.loc[wan.groupby("stadtbezirk_id")["zuzugsrate"].idxmax(), "alter_von"]
    assert peak.isin([20, 25]).all(), "Junge Erwachsene ziehen am häufigsten um."


def test_rates_reproduce_the_events_of_the_base_period(inputs, stocks):
    """Raten mal Bestand ergeben die Geburten, Sterbefälle und Wanderungsfälle 2020-2024 der Tabelle bewegungen."""
    geb, ueb, zu, fort = rates(inputs)
    bew = by_group(inputs["bewegungen"], ["geburten", "sterbefaelle", "zuzuege", "fortzuege", "umzuege_zu",
                                          "umzuege_fort"])
    jungen = inputs["prognose_geburtenraten"]["anteil_jungen"].iloc[0]
    expected = {"geburten": 0, "sterbefaelle": 0, "zuzug": 0, "fortzug": 0}
    for j in STUETZJAHRE:
        observed_births = bew.xs(j, level="jahr")["geburten"].to_numpy()
        expected["geburten"] += (stocks[j - 1][:, 1, 15:50] * geb).sum(1)
        cohort = start_cohort(stocks[j - 1], observed_births * jungen, observed_births * (1 - jungen))
        expected["sterbefaelle"] += (cohort * (1 - ueb)).sum((1, 2))
        expected["zuzug"] += (cohort * zu[:, None]).sum((1, 2))
        expected["fortzug"] += (cohort * fort[:, None]).sum((1, 2))
    total = bew.loc[(slice(None), list(STUETZJAHRE)), :].groupby(level="stadtbezirk_id").sum()
    observed = {"geburten": total["geburten"], "sterbefaelle": total["sterbefaelle"],
                "zuzug": total["zuzuege"] + total["umzuege_zu"], "fortzug": total["fortzuege"] + total["umzuege_fort"]}
    for name, value in expected.items():
        np.testing.assert_allclose(value, observed[name].to_numpy(), rtol=0.01, err_msg=name)


def test_projection_from_2019_reproduces_2020_to_2024(inputs, stocks):
    """Rückrechnung: von 2019 aus prognostiziert, je Stadtbezirk und Jahr nah an den beobachteten Einwohnern."""
    projected = project(inputs, stocks[2019], STUETZJAHRE, zensus_faktor(inputs))
    for j, p in projected.items():
        obs = stocks[j]
        error = p.sum((1, 2)) / obs.sum((1, 2)) - 1
        assert np.abs(error).max() < TOLERANZ_GESAMT, (j, error.round(4))
        for label, (lo, hi) in BREITE_ALTERSGRUPPEN.items():
            error = p[:, :, lo:hi].sum((1, 2)) / obs[:, :, lo:hi].sum((1, 2)) - 1
            assert np.abs(error).max() < TOLERANZ_ALTERSGRUPPE, (j, label, error.round(4))


def test_projection_2025_to_2035_stays_plausible(inputs, stocks):
    """Status-quo-Prognose ab 2024: keine Sprünge, die Stadt schrumpft oder wächst um höchstens 1 % im Jahr."""
    projected = project(inputs, stocks[2024], range(2025, 2036), np.ones(len(stocks[2024])))
    totals = np.array([stocks[2024].sum()] + [p.sum() for p in projected.values()])
    assert np.all(np.abs(np.diff(totals) / totals[:-1]) < 0.01), totals.round()
    assert all((p >= 0).all() for p in projected.values())
