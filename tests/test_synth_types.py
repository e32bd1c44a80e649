"""Die Stadt hat mehrere Dimensionen: Quartierstypen aus der Praxis statt eines einzigen Armutsfaktors."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sozialraum import data
from sozialraum.synth import district_types, population
from sozialraum.synth.__main__ import DEFAULT_SEED

TABLES = ["bevoelkerung_alter", "bevoelkerung", "sozialleistungen", "arbeitslose", "haushalte", "bewegungen"]
# SGB-II-Quote und Kinderarmut messen dasselbe (die Kinder sind Teil der Leistungsberechtigten): kein eigenes Paar
NESTED = {frozenset({"sgb2_quote", "kinderarmut"})}


@pytest.fixture(scope="module")
def tables():
    return {n: data.load(n) for n in TABLES}


@pytest.fixture(scope="module")
def core(tables):
    return district_types.core_indicators(tables)


@pytest.fixture(scope="module")
def design():
    """Entwurf der eingecheckten Stadt, wie der Generator ihn zieht (Seed und Zufallsstrom wie in __main__)."""
    geo = {n: data.load(n) for n in ["statistische_bezirke", "autobahn", "einrichtungen"]}
    pop_ss = np.random.SeedSequence(DEFAULT_SEED).spawn(3)[1]
    gu = geo["einrichtungen"].query("art == 'Gemeinschaftsunterkunft'")["bezirk_id"].iloc[0]
    return population.district_design(geo, np.random.default_rng(pop_ss), gu)


@pytest.fixture(scope="module")
def typ(design):
    return design["typ"]


def test_no_two_core_indicators_are_one(core):
    r = core.corr()
    for a in r.index:
        for b in r.columns:
            if a != b and frozenset({a, b}) not in NESTED:
                assert abs(r.loc[a, b]) <= 0.9, (a, b, r.loc[a, b])


def test_first_principal_component_well_below_three_quarters(core):
    eigen = np.linalg.eigvalsh(core.corr().to_numpy())[::-1]
    assert eigen[0] / eigen.sum() <= 0.68
    assert eigen[1] / eigen.sum() >= 0.12  # eine zweite Dimension trägt


def test_one_person_households_spread_like_a_city(core, tables):
    ep = core["einpersonenhaushalte_anteil"]
    h = tables["haushalte"].query("jahr == 2024")
    city = h["einpersonenhaushalte"].sum() / h["haushalte"].sum()
    assert 0.40 <= city <= 0.47  # Ruhrgebiet 41 %, Essen 46,7 %, Dortmund 45,7 %
    assert ep.max() >= 0.55 and ep.quantile(0.05) <= 0.32


def test_child_poverty_is_right_skewed(core):
    k = core["kinderarmut"]
    assert k.skew() > 0.3 and k.mean() > k.median()
    assert k.max() <= 0.75


def test_types_are_placed_where_a_planner_expects_them(design, typ):
    d = design
    counts = typ.value_counts()
    assert set(counts.index) == set(district_types.TYPES)
    assert counts["grosswohnsiedlung"] >= 3 and counts["hochschulviertel"] >= 2
    assert (d.loc[typ == "arbeiterquartier", "nord_km"] > 0).all()
    assert (d.loc[typ == "grosswohnsiedlung", "nord_km"] > 0).all()
    assert (d.loc[typ == "einfamilienhausgebiet", "nord_km"] < 0).all()
    assert d.loc[typ == "innenstadt", "zentrum_km"].max() < d.loc[typ == "familienquartier", "zentrum_km"].min()
    assert typ[typ == "innenstadt"].index.str.startswith("01").mean() >= 0.7


def test_types_differ_on_the_listed_dimensions(core, typ, tables):
    c = core.join(typ)
    m = c.groupby("typ").median()
    a = tables["bevoelkerung_alter"].query("jahr == 2024")
    young = (a[a["alter"].between(18, 29)].groupby("bezirk_id")["einwohner"].sum()
             / a.groupby("bezirk_id")["einwohner"].sum())
    kids = (a[a["alter"] < 18].groupby("bezirk_id")["einwohner"].sum() / a.groupby("bezirk_id")["einwohner"].sum())
    old80 = (a[a["alter"] >= 80].groupby("bezirk_id")["einwohner"].sum() / a.groupby("bezirk_id")["einwohner"].sum())
    f = tables["bewegungen"].query("jahr == 2024").set_index("bezirk_id")
    fluct = (f["zuzuege"] + f["fortzuege"] + f["umzuege_zu"] + f["umzuege_fort"]) / a.groupby("bezirk_id")[
        "einwohner"].sum()
    extra = pd.DataFrame({"young": young, "kids": kids, "old80": old80, "fluct": fluct}).join(typ)
    e = extra.groupby("typ").median()
    ep = m["einpersonenhaushalte_anteil"]
    # Innenstadt: viele Einpersonenhaushalte, junge Erwachsene, hohe Fluktuation, mittlere bis hohe Armut
    assert 0.55 <= ep["innenstadt"] <= 0.68 and e.loc["innenstadt", "young"] > e["young"].drop(
        ["innenstadt", "hochschulviertel"]).max()
    assert e.loc["innenstadt", "fluct"] > 2 * e.loc["einfamilienhausgebiet", "fluct"]
    assert m.loc["innenstadt", "sgb2_quote"] > m["sgb2_quote"].median()
    # Großwohnsiedlung: die höchste Armut, Kinderarmut, Grundsicherung im Alter und Migration
    for col in ["sgb2_quote", "kinderarmut", "grundsicherung_quote", "auslaenderanteil"]:
        assert m[col].idxmax() == "grosswohnsiedlung", col
    assert m.loc["grosswohnsiedlung", "alleinerziehende_anteil"] > m["alleinerziehende_anteil"].median()
    # Arbeiterquartiere: Armut, Familien, Migration
    assert m.loc["arbeiterquartier", "sgb2_quote"] > 2 * m.loc["einfamilienhausgebiet", "sgb2_quote"]
    assert e.loc["arbeiterquartier", "kids"] > e.loc["einfamilienhausgebiet", "kids"]
    # Familienquartiere: viele Kinder, wenig Armut, wenige Einpersonenhaushalte
    assert e.loc["familienquartier", "kids"] >= e["kids"].drop("grosswohnsiedlung").max()  # die GWS ist jung
    assert 0.22 <= ep["familienquartier"] <= 0.32
    assert m.loc["familienquartier", "sgb2_quote"] < m["sgb2_quote"].median()
    # alternde Einfamilienhausgebiete: die meisten Hochbetagten, wenig Armut
    assert m["anteil_65_plus"].idxmax() == "einfamilienhausgebiet" and e["old80"].idxmax() == "einfamilienhausgebiet"
    assert m["sgb2_quote"].idxmin() in {"einfamilienhausgebiet", "hochschulviertel"}
    # Hochschulviertel: Einpersonenhaushalte und Fluktuation ohne Altersarmut
    assert ep["hochschulviertel"] >= 0.55 and e["fluct"].idxmax() in {"hochschulviertel", "innenstadt"}
    assert m.loc["hochschulviertel", "grundsicherung_quote"] < m["grundsicherung_quote"].median()


def test_datenkatalog_lists_every_district_type(typ):
    text = (Path(__file__).resolve().parent.parent / "datasets" / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Für Lehrende"):]
    for name, label in district_types.TYPES.items():
        line = next(row for row in section.splitlines() if row.startswith(f"| {label} |") and "`0" in row)
        listed = line.split("|")[3].replace("`", "").strip().split(", ")
        assert sorted(listed) == sorted(typ[typ == name].index), name


def test_families_move_to_the_family_areas(typ):
    """Familienwanderung (Saldo der unter 18- und 30- bis unter 50-Jährigen, auch innerhalb der Stadt) 2020-2024."""
    m = data.load("bewegungen").query("jahr >= 2020").groupby("bezirk_id").sum()
    a = data.load("bevoelkerung_alter").query("jahr == 2024")
    fam = a[(a["alter"] < 18) | a["alter"].between(30, 49)].groupby("bezirk_id")["einwohner"].sum()
    net = sum(sign * m[f"{col}_{group}"] for col, sign in
              [("zuzuege", 1), ("fortzuege", -1), ("umzuege_zu", 1), ("umzuege_fort", -1)]
              for group in ["unter_18", "30_bis_unter_50"])
    rate = (net / 5 / fam * 1000).groupby(typ).median()
    assert rate["familienquartier"] > 5
    assert rate["familienquartier"] > max(rate["innenstadt"], rate["einfamilienhausgebiet"], rate["hochschulviertel"])
