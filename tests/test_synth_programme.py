"""Das Programm „Zusammen im Quartier“ in datasets/: Auswahl auf einem verrauschten Gipfel der Kinderarmut,
parallele Vortrends, bekannte Wirkung, die eine Differenz der Differenzen im Rahmen des Rauschens wiederfindet."""

from pathlib import Path

import numpy as np
import pytest

from sozialraum import data
from sozialraum.synth import programme


@pytest.fixture(scope="module")
def foerderung():
    return data.load("foerderprogramm").set_index("stadtteil_id")


@pytest.fixture(scope="module")
def treated(foerderung):
    return foerderung["gefoerdert"]


@pytest.fixture(scope="module")
def kinderarmut():
    return programme.kinderarmut_stadtteile({n: data.load(n) for n in ["bevoelkerung_alter", "sozialleistungen"]})


@pytest.fixture(scope="module")
def sprache():
    """Sprachförderbedarf je Stadtteil (Wohnort) und Jahr, Anteil an den untersuchten Kindern."""
    s = data.load("schuleingangsuntersuchung_stadtteile").set_index(["stadtteil_id", "jahr"])
    return (s["sprachfoerderbedarf"] / s["untersuchte_kinder"]).unstack("jahr")


def did(rate, treated, pre, post):
    change = rate[post].mean(axis=1) - rate[pre].mean(axis=1)
    return change[treated].mean() - change[~treated].mean()


def test_table(foerderung, treated):
    assert len(foerderung) == len(data.load("stadtteile")) and foerderung.index.is_unique
    assert 6 <= treated.sum() <= 8 and set(foerderung["programm"]) == {"Zusammen im Quartier"}
    assert (foerderung.loc[treated, "foerderbeginn"] == 2019).all()
    assert foerderung.loc[~treated, "foerderbeginn"].isna().all()


def test_selected_on_child_poverty_2018(treated, kinderarmut):
    ka18 = kinderarmut[2018]
    assert set(ka18.nlargest(treated.sum()).index) == set(treated[treated].index)


def test_selection_year_is_a_noisy_peak(treated, kinderarmut):
    """Regression zur Mitte: die Kinderarmut der Geförderten fällt nach 2018 stärker als die der übrigen,
    obwohl das Programm auf sie nicht wirkt."""
    drop = kinderarmut[2018] - kinderarmut[[2020, 2021, 2022, 2023, 2024]].mean(axis=1)
    assert drop[treated].mean() - drop[~treated].mean() > 0.03
    assert kinderarmut[2018][treated].mean() > kinderarmut[[2015, 2016]].mean(axis=1)[treated].mean() + 0.03


def test_parallel_pre_trends(treated, sprache):
    years = np.array([2015, 2016, 2017, 2018])
    slope = {g: np.polyfit(years, sprache.loc[mask, years].mean().to_numpy(), 1)[0]
             for g, mask in (("treated", treated), ("control", ~treated))}
    assert abs(slope["treated"] - slope["control"]) < 0.012  # Prozentpunkte je Jahr
    assert did(sprache, treated, [2015, 2016], [2017, 2018]) == pytest.approx(0, abs=0.03)  # Placebo


def test_difference_in_differences_recovers_the_true_effect(treated, sprache):
    pre, post = [2015, 2016, 2017, 2018], [2020, 2021, 2022, 2023, 2024]
    estimate = did(sprache, treated, pre, post)
    # Rauschen: Standardfehler aus der Streuung der Veränderungen je Stadtteil
    change = sprache[post].mean(axis=1) - sprache[pre].mean(axis=1)
    se = np.sqrt(change[treated].var() / treated.sum() + change[~treated].var() / (~treated).sum())
    assert abs(estimate - programme.EFFECT) < max(2.5 * se, 0.015)
    assert estimate < -0.03
    # die naiven Vergleiche führen in die Irre
    before_after = sprache.loc[treated, post].mean(axis=1).mean() - sprache.loc[treated, pre].mean(axis=1).mean()
    assert before_after > programme.EFFECT + 0.04  # Trend und Corona verdecken die Wirkung
    treated_vs_rest = sprache.loc[treated, post].mean().mean() - sprache.loc[~treated, post].mean().mean()
    assert treated_vs_rest > 0  # die Geförderten stehen nach wie vor schlechter da


def test_no_effect_on_the_other_findings(treated):
    s = data.load("schuleingangsuntersuchung_stadtteile").set_index(["stadtteil_id", "jahr"])
    rate = (s["uebergewicht"] / s["untersuchte_kinder"]).unstack("jahr")
    assert abs(did(rate, treated, [2015, 2016, 2017, 2018], [2020, 2021, 2022, 2023, 2024])) < 0.03


def test_datenkatalog_names_the_funded_stadtteile_and_the_effect(treated):
    text = (Path(__file__).resolve().parent.parent / "datasets" / "README.md").read_text(encoding="utf-8")
    section = text[text.index("### Das Programm „Zusammen im Quartier“: die wahre Wirkung"):]
    listed = sorted(set(section.split("\n\n")[1].replace("`", " ").split()) & set(treated.index))
    assert listed == sorted(treated[treated].index)
    assert f"um **{abs(round(100 * programme.EFFECT))} Prozentpunkte**" in section
