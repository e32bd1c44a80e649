"""Inputs of a cohort-component projection 2025-2035, as the statistics office hands them to the planners.

`build(bevoelkerung_alter, moves)` returns three tables (datasets/README.md, section "Prognosegrundlagen"), calibrated
on the years 2020-2024 (the usual five-year base period, "Stützzeitraum") of the same city:

- ``prognose_geburtenraten``: live births per woman by age of the mother (15-49) and Stadtbezirk,
- ``prognose_ueberlebensraten``: share of a cohort surviving the year, by Stadtbezirk, sex and age (a smoothed life
  table, its level fitted to the deaths of each Stadtbezirk),
- ``prognose_wanderungsraten``: moves into and out of each Stadtbezirk per person, by five-year age group.

All rates refer to the cohort at the start of the year: the persons aged ``alter - 1`` on 31.12. of the previous
year, for ``alter`` 0 the births of the year.  A projection step is therefore
``P(t, a) = P(t-1, a-1) * (ueberlebensrate(a) + zuzugsrate(a) - fortzugsrate(a))`` and
``P(t, 0) = births(t) * (...)`` with ``births(t) = sum over a of women(t-1, a) * geburtenrate(a)``.
"""

import numpy as np
import pandas as pd

from sozialraum.synth import series

STUETZJAHRE = np.arange(2020, 2025)
N_AGE = series.N_AGE
AGE = np.arange(N_AGE)
FERTILE = np.arange(15, 50)
# Age profile of fertility (women by age at the start of the year): peak at 31 (NRW 2022: mean age of mothers 31.5)
FERTILITY_SHAPE = np.exp(-0.5 * ((FERTILE - 31.0) / 5.6) ** 2)
FERTILITY_SHAPE = FERTILITY_SHAPE / FERTILITY_SHAPE.sum()
GROUP_WIDTH, OPEN_GROUP = 5, 90  # five-year age groups, the last one 90 and older
ZUZUG = ("zuzuege", "umzuege_zu")
FORTZUG = ("fortzuege", "umzuege_fort")


def age_group_start(alter):
    """First age of the five-year age group of ``alter`` (90 for the open group 90+)."""
    return np.minimum(np.asarray(alter) // GROUP_WIDTH * GROUP_WIDTH, OPEN_GROUP)


def stocks_by_group(bevoelkerung_alter):
    """Population (Stadtbezirk, sex, age) per year as arrays; returns (stadtbezirk ids, {jahr: array})."""
    frame = bevoelkerung_alter.assign(stadtbezirk_id=bevoelkerung_alter["bezirk_id"].str[:2])
    groups = sorted(frame["stadtbezirk_id"].unique())
    summed = frame.groupby(["jahr", "stadtbezirk_id", "geschlecht", "alter"])["einwohner"].sum()
    return groups, {int(j): s.to_numpy().reshape(len(groups), 2, N_AGE) for j, s in summed.groupby(level="jahr")}


def _by_group(arr, codes, n_groups):
    out = np.zeros((n_groups,) + arr.shape[1:], dtype=np.int64)
    np.add.at(out, codes, arr)
    return out


def start_cohort(stock_before, births):
    """The cohort at the start of the year by age at its end: P(t-1, a-1), births at 0, open group 100+."""
    out = np.zeros_like(stock_before)
    out[..., 1:] = stock_before[..., :-1]
    out[..., -1] += stock_before[..., -1]
    out[..., 0] = births
    return out


def build(bevoelkerung_alter, moves):
    """The three tables of projection inputs (dict name -> DataFrame), see the module docstring."""
    groups, stocks = stocks_by_group(bevoelkerung_alter)
    bezirk_ids = np.sort(bevoelkerung_alter["bezirk_id"].unique())
    codes = np.searchsorted(groups, pd.Series(bezirk_ids).str[:2].to_numpy())
    n = len(groups)
    flows = {j: {k: _by_group(v, codes, n) for k, v in moves[j].items()} for j in STUETZJAHRE}
    cohort = {j: start_cohort(stocks[j - 1], flows[j]["geburten"][:, :, 0]) for j in STUETZJAHRE}
    exposure = sum(cohort.values())
    deaths = sum(flows[j]["sterbefaelle"] for j in STUETZJAHRE)
    births = sum(flows[j]["geburten"][:, :, 0].sum(1) for j in STUETZJAHRE)
    mothers = sum(stocks[j - 1][:, 1, FERTILE] for j in STUETZJAHRE)
    boys = sum(flows[j]["geburten"][:, 0, 0].sum() for j in STUETZJAHRE) / births.sum()
    return {
        "prognose_geburtenraten": _fertility(groups, births, mothers, boys),
        "prognose_ueberlebensraten": _survival(groups, deaths, exposure),
        "prognose_wanderungsraten": _migration(groups, flows, exposure),
    }


def _fertility(groups, births, mothers, boys):
    """Common age profile, level (total fertility rate) per Stadtbezirk from the births of the base period."""
    tfr = births / (mothers * FERTILITY_SHAPE).sum(1)
    rates = tfr[:, None] * FERTILITY_SHAPE[None, :]
    return pd.DataFrame({
        "stadtbezirk_id": np.repeat(groups, len(FERTILE)),
        "alter_mutter": np.tile(FERTILE, len(groups)),
        "geburtenrate": rates.ravel().round(6),
        "anteil_jungen": round(float(boys), 4),
    })


def _survival(groups, deaths, exposure):
    """Gompertz mortality of the generator, scaled per Stadtbezirk and sex to the deaths of the base period."""
    q = series.mortality(np.zeros(1))[0]
    scale = deaths.sum(2) / (q[None] * exposure).sum(2)
    survival = 1 - np.clip(q[None] * scale[:, :, None], 0, 1)
    return pd.DataFrame({
        "stadtbezirk_id": np.repeat(groups, 2 * N_AGE),
        "geschlecht": np.tile(np.repeat(["m", "w"], N_AGE), len(groups)),
        "alter": np.tile(AGE, 2 * len(groups)),
        "ueberlebensrate": survival.ravel().round(6),
    })


def _migration(groups, flows, exposure):
    """Moves over the boundary of the Stadtbezirk's statistische Bezirke per person of the start cohort."""
    start = age_group_start(AGE)
    labels = np.unique(start)

    def rate(kinds):
        moves = sum(flows[j][k] for j in STUETZJAHRE for k in kinds).sum(1)  # (group, age)
        per_group = np.stack([moves[:, start == lo].sum(1) for lo in labels], 1)
        base = np.stack([exposure.sum(1)[:, start == lo].sum(1) for lo in labels], 1)
        return per_group / base

    return pd.DataFrame({
        "stadtbezirk_id": np.repeat(groups, len(labels)),
        "alter_von": np.tile(labels, len(groups)),
        "alter_bis": np.tile(np.where(labels == OPEN_GROUP, N_AGE - 1, labels + GROUP_WIDTH - 1), len(groups)),
        "zuzugsrate": rate(ZUZUG).ravel().round(6),
        "fortzugsrate": rate(FORTZUG).ravel().round(6),
    })
