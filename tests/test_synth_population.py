"""Tests of the synthetic population (Melderegister 2024 and district tables 2015-2024) in datasets/."""

import numpy as np
import pandas as pd
import pytest
from esda import Moran
from libpysal.weights import Queen

from sozialraum import data
from sozialraum.synth import geography, population

TABLES = ["bevoelkerung", "haushalte", "sozialleistungen", "arbeitslose", "bewegungen", "kita"]
JAHRE = list(range(2015, 2025))


@pytest.fixture(scope="module")
def reg():
    return data.load("melderegister")


@pytest.fixture(scope="module")
def tab():
    t = {name: data.load(name).set_index(["bezirk_id", "jahr"]) for name in TABLES}
    t["alter"] = data.load("bevoelkerung_alter")
    return t


@pytest.fixture(scope="module")
def bezirke():
    return data.load("statistische_bezirke").sort_values("bezirk_id").reset_index(drop=True)


@pytest.fixture(scope="module")
def y24(tab):
    """2024 indicators per statistischer Bezirk."""
    a = tab["alter"].query("jahr == 2024")
    by = lambda m: a[m].groupby("bezirk_id")["einwohner"].sum()  # noqa: E731
    s = tab["sozialleistungen"].xs(2024, level="jahr")
    return pd.DataFrame({
        "einwohner": by(a["alter"] >= 0),
        "unter_15": by(a["alter"] < 15),
        "unter_65": by(a["alter"] < 65),
        "ab_65": by(a["alter"] >= 65),
        "sgb2": s["sgb2_leistungsberechtigte"],
        "sgb2_unter_15": s["sgb2_unter_15"],
    }).assign(
        quote=lambda d: d["sgb2"] / d["unter_65"],
        quote_15=lambda d: d["sgb2_unter_15"] / d["unter_15"],
        anteil_65=lambda d: d["ab_65"] / d["einwohner"],
    )


@pytest.fixture(scope="module")
def north(bezirke):
    line = data.load("autobahn").geometry.union_all()
    cent = bezirke.geometry.centroid
    side = [np.sign(p.y - line.interpolate(line.project(p)).y) for p in cent]
    return pd.Series(np.array(side) > 0, index=bezirke["bezirk_id"])


def test_keys_are_unique_strings(reg, tab, bezirke):
    assert reg["person_id"].is_unique
    for col in ["person_id", "haushalt_id", "bezirk_id"]:
        assert reg[col].map(type).eq(str).all(), col
    assert set(reg["bezirk_id"]) == set(bezirke["bezirk_id"])
    assert reg.groupby("haushalt_id")["bezirk_id"].nunique().eq(1).all()
    for name, t in tab.items():
        frame = t.reset_index() if name != "alter" else t
        keys = ["bezirk_id", "jahr"] + (["geschlecht", "alter"] if name == "alter" else [])
        assert not frame.duplicated(keys).any(), name
        assert frame["bezirk_id"].map(type).eq(str).all() and frame["bezirk_id"].str.len().eq(6).all(), name
        assert set(frame["bezirk_id"]) == set(bezirke["bezirk_id"]), name
        assert sorted(frame["jahr"].unique()) == JAHRE, name


def test_counts_are_nonnegative_integers(tab):
    for name, t in tab.items():
        num = t.select_dtypes("number")
        assert all(pd.api.types.is_integer_dtype(d) for d in num.dtypes), name
        assert (num >= 0).all().all(), name


@pytest.mark.parametrize("table, part, whole", [
    ("bevoelkerung", "nichtdeutsch", "einwohner"),
    ("bevoelkerung", "nichtdeutsch", "migrationshintergrund"),
    ("bevoelkerung", "migrationshintergrund", "einwohner"),
    ("haushalte", "haushalte_mit_kindern", "haushalte"),
    ("haushalte", "alleinerziehende_haushalte", "haushalte_mit_kindern"),
    ("haushalte", "einpersonenhaushalte_80_plus", "einpersonenhaushalte"),
    ("haushalte", "einpersonenhaushalte", "haushalte"),
    ("sozialleistungen", "sgb2_unter_15", "sgb2_unter_18"),
    ("sozialleistungen", "sgb2_unter_18", "sgb2_leistungsberechtigte"),
    ("sozialleistungen", "bedarfsgemeinschaften", "sgb2_leistungsberechtigte"),
    ("arbeitslose", "langzeitarbeitslose", "arbeitslose"),
    ("arbeitslose", "arbeitslose_15_bis_unter_25", "arbeitslose"),
    ("arbeitslose", "arbeitslose_nichtdeutsch", "arbeitslose"),
    ("bewegungen", "zuzuege_unter_18", "zuzuege"),
    ("bewegungen", "umzuege_fort_30_bis_unter_50", "umzuege_fort"),
])
def test_parts_never_exceed_totals(tab, table, part, whole):
    t = tab[table]
    assert (t[part] <= t[whole]).all()


def test_parts_never_exceed_population_groups(tab):
    a = tab["alter"]
    def pop(lo, hi):
        return a[(a["alter"] >= lo) & (a["alter"] < hi)].groupby(["bezirk_id", "jahr"])["einwohner"].sum()
    s, k, b, al = tab["sozialleistungen"], tab["kita"], tab["bevoelkerung"], tab["arbeitslose"]
    assert (b["einwohner"] == pop(0, 200)).all()
    assert (b["einwohner_maennlich"] + b["einwohner_weiblich"] == b["einwohner"]).all()
    assert (b["nichtdeutsch"] + b["deutsch"] == b["einwohner"]).all()
    assert (b["nichtdeutsch_65_plus"] <= pop(65, 200)).all()
    assert (s["sgb2_unter_3"] <= pop(0, 3)).all() and (s["sgb2_6_bis_unter_15"] <= pop(6, 15)).all()
    assert (s["sgb2_leistungsberechtigte"] <= pop(0, 65)).all()
    assert (s["grundsicherung_alter"] <= pop(65, 200)).all()
    assert (s["asylblg"] <= b["nichtdeutsch"]).all()
    assert (al["arbeitslose"] <= pop(15, 65)).all() and (al["arbeitslose_15_bis_unter_25"] <= pop(15, 25)).all()
    assert (k["kinder_unter_3"] == pop(0, 3)).all()
    assert (k["betreute_kinder_unter_3"] <= k["kinder_unter_3"]).all()
    assert (k["betreute_kinder_3_bis_unter_6"] <= k["kinder_3_bis_unter_6"]).all()
    sums = s[["sgb2_unter_3", "sgb2_3_bis_unter_6", "sgb2_6_bis_unter_15", "sgb2_15_bis_unter_18",
              "sgb2_18_bis_unter_65"]].sum(axis=1)
    assert (sums == s["sgb2_leistungsberechtigte"]).all()


def test_register_is_consistent(reg):
    assert reg["alter"].between(0, 100).all() and set(reg["geschlecht"]) == {"m", "w"}
    assert not (reg["sgb2"] & (reg["alter"] >= 65)).any()
    assert not (reg["grundsicherung_alter"] & (reg["alter"] < 65)).any()
    assert not (reg["langzeitarbeitslos"] & ~reg["arbeitslos"]).any()
    assert not (reg["arbeitslos"] & ~reg["alter"].between(15, 64)).any()
    assert not (reg["kita_betreut"] & (reg["alter"] >= 6)).any()
    assert not ((reg["staatsangehoerigkeit"] == "nichtdeutsch") & ~reg["migrationshintergrund"]).any()
    assert not (reg["asylblg"] & ((reg["staatsangehoerigkeit"] == "deutsch") | reg["sgb2"])).any()
    # Bedarfsgemeinschaft = household: every member under 65 of an SGB-II household receives SGB II
    under_65 = reg[reg["alter"] < 65]
    assert under_65.groupby("haushalt_id")["sgb2"].nunique().eq(1).all()
    n = reg.groupby("haushalt_id").size()
    assert 1.8 <= n.mean() <= 2.1 and len(reg) == n.sum()


def test_register_aggregates_equal_2024_tables(reg, tab):
    g = reg.groupby("bezirk_id")
    nd = reg["staatsangehoerigkeit"] == "nichtdeutsch"
    alter = reg["alter"]
    def count(mask):
        return mask.groupby(reg["bezirk_id"]).sum()
    hh = reg.assign(kind=alter < 18).groupby("haushalt_id").agg(
        bezirk_id=("bezirk_id", "first"), n=("alter", "size"), kinder=("kind", "any"), alter=("alter", "first"),
        typ=("haushaltstyp", "first"), sgb2=("sgb2", "any"))
    hcount = lambda m: m.groupby(hh["bezirk_id"]).sum()  # noqa: E731
    expected = {
        "bevoelkerung": {"einwohner": g.size(), "nichtdeutsch": count(nd),
                         "nichtdeutsch_65_plus": count(nd & (alter >= 65)),
                         "migrationshintergrund": count(reg["migrationshintergrund"]),
                         "einwohner_weiblich": count(reg["geschlecht"] == "w")},
        "haushalte": {"haushalte": hh.groupby("bezirk_id").size(), "haushalte_mit_kindern": hcount(hh["kinder"]),
                      "alleinerziehende_haushalte": hcount(hh["kinder"] & (hh["typ"] == "Alleinerziehend")),
                      "einpersonenhaushalte_80_plus": hcount((hh["n"] == 1) & (hh["alter"] >= 80))},
        "sozialleistungen": {"sgb2_leistungsberechtigte": count(reg["sgb2"]),
                             "sgb2_unter_3": count(reg["sgb2"] & (alter < 3)),
                             "sgb2_unter_15": count(reg["sgb2"] & (alter < 15)),
                             "bedarfsgemeinschaften": hcount(hh["sgb2"]),
                             "grundsicherung_alter": count(reg["grundsicherung_alter"]),
                             "asylblg": count(reg["asylblg"])},
        "arbeitslose": {"arbeitslose": count(reg["arbeitslos"]),
                        "langzeitarbeitslose": count(reg["langzeitarbeitslos"]),
                        "arbeitslose_15_bis_unter_25": count(reg["arbeitslos"] & (alter < 25)),
                        "arbeitslose_nichtdeutsch": count(reg["arbeitslos"] & nd)},
        "kita": {"betreute_kinder_unter_3": count(reg["kita_betreut"] & (alter < 3)),
                 "betreute_kinder_3_bis_unter_6": count(reg["kita_betreut"] & (alter >= 3))},
    }
    for table, cols in expected.items():
        t24 = tab[table].xs(2024, level="jahr")
        for col, values in cols.items():
            pd.testing.assert_series_equal(t24[col], values.reindex(t24.index, fill_value=0).astype(t24[col].dtype),
                                           check_names=False, obj=f"{table}.{col}")
    a24 = tab["alter"].query("jahr == 2024").set_index(["bezirk_id", "geschlecht", "alter"])["einwohner"]
    from_reg = reg.groupby(["bezirk_id", "geschlecht", "alter"]).size().reindex(a24.index, fill_value=0)
    assert (a24 == from_reg).all()


def test_city_figures_are_calibrated(tab, y24):
    b = tab["bevoelkerung"].xs(2024, level="jahr").sum()
    s = tab["sozialleistungen"].xs(2024, level="jahr").sum()
    k = tab["kita"].xs(2024, level="jahr").sum()
    h = tab["haushalte"].xs(2024, level="jahr").sum()
    a = tab["alter"].query("jahr == 2024")
    pop = lambda lo, hi: a.loc[a["alter"].between(lo, hi - 1), "einwohner"].sum()  # noqa: E731
    al = tab["arbeitslose"].xs(2024, level="jahr").sum()
    assert 250_000 <= b["einwohner"] <= 300_000
    assert 0.18 <= s["sgb2_leistungsberechtigte"] / pop(0, 65) <= 0.25
    assert 0.25 <= s["sgb2_unter_15"] / pop(0, 15) <= 0.42
    assert 0.10 <= al["arbeitslose"] / pop(15, 65) <= 0.13
    assert 0.15 <= b["nichtdeutsch"] / b["einwohner"] <= 0.20
    assert 0.20 <= pop(65, 200) / b["einwohner"] <= 0.235
    assert 0.25 <= pop(80, 200) / pop(65, 200) <= 0.34
    assert 0.25 <= k["betreute_kinder_unter_3"] / k["kinder_unter_3"] <= 0.30
    assert 0.85 <= k["betreute_kinder_3_bis_unter_6"] / k["kinder_3_bis_unter_6"] <= 0.95
    assert 0.20 <= h["alleinerziehende_haushalte"] / h["haushalte_mit_kindern"] <= 0.30


def test_district_quotes_are_spread_and_right_skewed(y24):
    q = y24["quote"]
    assert q.min() <= 0.04 and 0.38 <= q.max() <= 0.60
    assert q.mean() > q.median()
    assert 0.45 <= y24["quote_15"].max() <= 0.75
    assert y24["anteil_65"].max() >= 0.27 and y24["anteil_65"].min() <= 0.16


def test_north_south_gradient(y24, north, tab):
    n = north.reindex(y24.index)
    ratio = (y24.loc[n, "sgb2"].sum() / y24.loc[n, "unter_65"].sum()) / (
        y24.loc[~n, "sgb2"].sum() / y24.loc[~n, "unter_65"].sum())
    assert ratio >= 1.8
    old = y24.groupby(n)[["ab_65", "einwohner"]].sum()
    assert old.loc[False, "ab_65"] / old.loc[False, "einwohner"] > old.loc[True, "ab_65"] / old.loc[True, "einwohner"]
    k = tab["kita"].xs(2024, level="jahr").groupby(n)[["betreute_kinder_unter_3", "kinder_unter_3"]].sum()
    u3 = k["betreute_kinder_unter_3"] / k["kinder_unter_3"]
    assert u3[True] < 0.22 and u3[False] > 0.32


def test_sgb2_quote_is_spatially_autocorrelated(y24, bezirke):
    w = Queen.from_dataframe(bezirke, use_index=False, silence_warnings=True)
    w.transform = "r"
    np.random.seed(0)
    m = Moran(y24["quote"].reindex(bezirke["bezirk_id"]).to_numpy(), w, permutations=999)
    assert m.I > 0.3 and m.p_sim < 0.01


def test_refugee_influx_2015_16(tab):
    b = tab["bevoelkerung"].groupby(level="jahr").sum(numeric_only=True)
    z = tab["bewegungen"].groupby(level="jahr")["zuzuege"].sum()
    assert b.loc[2016, "nichtdeutsch"] / b.loc[2015, "nichtdeutsch"] > 1.08
    assert min(z[2015], z[2016]) > 1.15 * z.loc[2018:2021].mean()
    s = tab["sozialleistungen"].groupby(level="jahr")["sgb2_leistungsberechtigte"].sum()
    assert s[2017] > 1.04 * s[2015]


def test_gemeinschaftsunterkunft_district_is_a_local_outlier(tab, reg, bezirke):
    gu = data.load("einrichtungen").query("art == 'Gemeinschaftsunterkunft'")
    assert len(gu) == 1
    bezirk = gu["bezirk_id"].iloc[0]
    residents = reg[reg["gemeinschaftsunterkunft"]]
    assert 300 <= len(residents) <= 400 and set(residents["bezirk_id"]) == {bezirk}
    assert (residents["staatsangehoerigkeit"] == "nichtdeutsch").mean() > 0.95
    assert (residents["sgb2"] | residents["asylblg"]).mean() > 0.9
    b = tab["bevoelkerung"].xs(2024, level="jahr")
    s = tab["sozialleistungen"].xs(2024, level="jahr")
    mindest = (s["sgb2_leistungsberechtigte"] + s["asylblg"]) / b["einwohner"]
    auslaender = b["nichtdeutsch"] / b["einwohner"]
    w = Queen.from_dataframe(bezirke, use_index=False, silence_warnings=True)
    i = int(np.flatnonzero(bezirke["bezirk_id"] == bezirk)[0])
    neighbours = bezirke["bezirk_id"].iloc[list(w.neighbors[i])]
    assert auslaender[bezirk] > auslaender[neighbours].max()
    for rate in (mindest, auslaender):
        assert rate[bezirk] > rate[neighbours].mean() + 0.08
    assert s["asylblg"].idxmax() == bezirk


def test_small_cells_exist_for_disclosure_control(tab):
    s = tab["sozialleistungen"].xs(2024, level="jahr")
    b = tab["bevoelkerung"].xs(2024, level="jahr")
    small = {col: frame[col].between(1, 2).sum() for frame, col in
             ((s, "sgb2_unter_3"), (s, "sgb2_3_bis_unter_6"), (b, "nichtdeutsch_65_plus"))}
    assert small["sgb2_unter_3"] >= 1 and small["nichtdeutsch_65_plus"] >= 1 and sum(small.values()) >= 5


def test_demographic_accounting_and_zensus_break(tab):
    b = tab["bevoelkerung"].groupby(level="jahr")["einwohner"].sum()
    f = tab["bewegungen"].groupby(level="jahr").sum()
    residual = (b - (b.shift(1) + f["geburten"] - f["sterbefaelle"] + f["zuzuege"] - f["fortzuege"])) / b
    assert residual.drop([2015, 2022]).abs().max() < 0.003
    assert -0.025 < residual[2022] < -0.008
    assert (f["umzuege_zu"] == f["umzuege_fort"]).all()
    basis = tab["bevoelkerung"].groupby(level="jahr")["zensus_basis"].unique()
    assert all(list(basis[j]) == [2011 if j < 2022 else 2022] for j in JAHRE)


def test_buergergeld_is_a_relabel_not_a_jump(tab):
    s = tab["sozialleistungen"]
    label = s.groupby(level="jahr")["leistungsbezeichnung"].unique()
    assert list(label[2022]) == ["Arbeitslosengeld II/Sozialgeld"] and list(label[2023]) == ["Bürgergeld"]
    total = s.groupby(level="jahr")["sgb2_leistungsberechtigte"].sum()
    assert abs(total[2023] / total[2022] - 1) < 0.04


def test_inner_city_district_has_the_highest_fluctuation(tab):
    f = tab["bewegungen"].xs(2024, level="jahr")
    pop = tab["bevoelkerung"].xs(2024, level="jahr")["einwohner"]
    fluct = (f["zuzuege"] + f["fortzuege"] + f["umzuege_zu"] + f["umzuege_fort"]) / pop * 1000
    assert fluct.idxmax().startswith("01") and fluct.max() > 2 * fluct.median()


def test_another_seed_keeps_calibration_and_patterns():
    """The calibration does not depend on the one committed city: a second seed gives the same patterns."""
    geo_ss, pop_ss, _ = np.random.SeedSequence(7).spawn(3)
    geo = geography.build(np.random.default_rng(geo_ss))
    tables = population.build(geo, np.random.default_rng(pop_ss))
    a = tables["bevoelkerung_alter"].query("jahr == 2024")
    s = tables["sozialleistungen"].query("jahr == 2024").set_index("bezirk_id")
    u65 = a[a["alter"] < 65].groupby("bezirk_id")["einwohner"].sum()
    q = s["sgb2_leistungsberechtigte"] / u65
    bezirke = geo["statistische_bezirke"].sort_values("bezirk_id").reset_index(drop=True)
    line = geo["autobahn"].geometry.union_all()
    north = pd.Series([p.y > line.interpolate(line.project(p)).y for p in bezirke.geometry.centroid],
                      index=bezirke["bezirk_id"])
    ratio = (s.loc[north, "sgb2_leistungsberechtigte"].sum() / u65[north].sum()) / (
        s.loc[~north, "sgb2_leistungsberechtigte"].sum() / u65[~north].sum())
    w = Queen.from_dataframe(bezirke, use_index=False, silence_warnings=True)
    w.transform = "r"
    np.random.seed(0)
    moran = Moran(q.reindex(bezirke["bezirk_id"]).to_numpy(), w, permutations=199)
    assert 0.18 <= s["sgb2_leistungsberechtigte"].sum() / u65.sum() <= 0.25
    assert q.min() <= 0.05 and 0.38 <= q.max() <= 0.65
    assert ratio >= 1.8 and moran.I > 0.3 and moran.p_sim < 0.01
    assert 0.20 <= (a["alter"] >= 65).dot(a["einwohner"]) / a["einwohner"].sum() <= 0.235
