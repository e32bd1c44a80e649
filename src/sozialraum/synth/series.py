"""District tables 2015-2024 (reference date 31.12.) from the 2024 register.

Population by sex and single-year age is projected backwards from the register: for each year t,
P(t-1, age-1) = P(t, age) + deaths - moves in + moves out (over the city boundary and within the city), and births
are the infants of P(t) corrected the same way (the very old, 90+, are carried back with 97 % per year).  Flows are drawn from age and district profiles whose city totals
follow a Ruhr-city history (refugee influx 2015/16, pandemic 2020, Ukraine 2022).  At 31.12.2021 the series
switches from the Zensus-2011 basis to the Zensus-2022 basis: earlier stocks are about 1.5 % higher.

Counts of sub-populations (SGB II, unemployed, ...) in years before 2024 are binomial draws on the year's population
group with the 2024 district rate times a city trend, so sub-populations never exceed their totals.  The 2024 rows
are exact aggregates of the register.  The Gemeinschaftsunterkunft is handled as an extra unit (its own occupancy
history) and added to its statistischer Bezirk at the end.
"""

import numpy as np
import pandas as pd

JAHRE = np.arange(2015, 2025)
N_AGE = 101
ZENSUS_JAHR = 2022  # first year on the Zensus-2022 basis
HOCHBETAGT = 90  # from this age on the stock is carried back, not projected
Y = {j: i for i, j in enumerate(JAHRE)}

# City-wide histories, index 0 = 2015 ... 9 = 2024
ZUZUG_RATE = np.array([6.3, 5.9, 5.0, 4.9, 4.8, 4.3, 4.5, 6.1, 5.1, 4.9]) / 100  # moves in / population
FORTZUG_RATE = np.array([4.3, 4.8, 4.9, 4.8, 4.7, 4.2, 4.4, 4.5, 4.7, 4.8]) / 100
FLUCHT_ANTEIL = np.array([0.40, 0.30, 0.08, 0.05, 0.04, 0.03, 0.04, 0.30, 0.10, 0.06])  # refugees among moves in
UMZUG_RATE = 0.075  # moves within the city / population
GU_BELEGUNG = np.array([1.0, 1.0, 0.75, 0.6, 0.55, 0.5, 0.5, 0.9, 0.95, 1.0])
TREND = {
    "nichtdeutsch": np.array([0.74, 0.84, 0.86, 0.88, 0.90, 0.91, 0.93, 0.98, 0.99, 1.0]),
    "nichtdeutsch_65": np.linspace(0.75, 1.0, 10),
    "deutsch_mh": np.linspace(0.88, 1.0, 10),
    "sgb2": np.array([0.98, 1.03, 1.08, 1.06, 1.03, 1.03, 1.01, 1.02, 1.01, 1.0]),
    "grundsicherung": np.linspace(0.80, 1.0, 10),
    "asylblg": np.array([6.0, 4.5, 2.2, 1.6, 1.4, 1.2, 1.1, 1.3, 1.1, 1.0]),
    "arbeitslos": np.array([1.12, 1.08, 1.02, 0.96, 0.92, 1.04, 1.0, 0.95, 0.98, 1.0]),
    "kita_u3": np.array([0.74, 0.77, 0.81, 0.84, 0.87, 0.86, 0.90, 0.94, 0.97, 1.0]),
    "kita_ue3": np.array([0.98, 0.98, 0.99, 0.99, 1.0, 0.99, 1.0, 1.0, 1.0, 1.0]),
    "alleinerziehend": np.linspace(0.96, 1.0, 10),
    "haushaltsgroesse": np.linspace(1.03, 1.0, 10),
}
# GU residents: asylum seekers first (AsylbLG), recognised refugees later (SGB II)
GU_TREND = {
    "sgb2": np.array([0.15, 0.5, 0.9, 1, 1, 1, 1, 0.8, 0.95, 1]),
    "asylblg": np.array([2.2, 1.8, 1.1, 1, 1, 1, 1, 1.3, 1.1, 1]),
}

AGE = np.arange(N_AGE)
MOBILITAET = 0.35 + 2.2 * np.exp(-(((AGE - 26) / 7.5) ** 2)) + 0.35 * np.exp(-AGE / 4) + 0.2 * (AGE >= 85)
FLUCHT_ALTER = np.exp(-(((AGE - 24) / 10) ** 2)) + 0.45 * (AGE < 16)


def mortality(dep):
    """Death probabilities (unit, sex, age); sex 0 = m, 1 = w; higher where deprivation is high."""
    q = np.vstack([np.exp(-10.2 + 0.094 * AGE), np.exp(-10.8 + 0.097 * AGE)])
    q[:, 0] = 0.0035
    q = np.clip(q, 0.0001, 0.6)
    return np.clip(q[None] * np.exp(0.1 * dep)[:, None, None], 0, 0.6)


def _multinomial_flat(rng, total, weights):
    """Allocate `total` moves to the cells of `weights` (any shape)."""
    p = weights.ravel() / weights.sum()
    return rng.multinomial(int(total), p).reshape(weights.shape)


def _project_back(p24, design, rng):
    """Stocks P[year] (unit, sex, age) and flows per year for the regular population."""
    dep = design["armut"].to_numpy()
    centre = design["zentralitaet"].to_numpy()
    q = mortality(dep)
    mob = np.exp(0.35 * design["mobilitaet"].to_numpy())
    mob[np.argmax(centre)] *= 2.0  # inner-city district with the highest fluctuation
    exposure = np.exp(0.5 * dep + 0.5 * design["migration"].to_numpy() + 0.5 * centre)
    # within the city: young adults move to the centre and the Hochschulviertel, families to the family areas
    family_age = ((AGE < 18) | ((AGE >= 30) & (AGE < 50))).astype(float)
    young_age = ((AGE >= 18) & (AGE < 30)).astype(float)
    pull = np.exp(0.3 * design["familie"].to_numpy()[:, None] * family_age[None]
                  + 0.3 * design["singles"].to_numpy()[:, None] * young_age[None])

    stocks = {2024: p24}
    flows = {}
    p = p24
    for j in JAHRE[::-1]:
        i = Y[j]
        total = p.sum()
        deaths = rng.binomial(p, q)
        w_move = p * mob[:, None, None] * MOBILITAET[None, None, :]
        n_ref = ZUZUG_RATE[i] * total * FLUCHT_ANTEIL[i]
        zuzug = _multinomial_flat(rng, ZUZUG_RATE[i] * total - n_ref, w_move)
        zuzug += _multinomial_flat(rng, n_ref, np.maximum(p, 1) * exposure[:, None, None] * FLUCHT_ALTER[None, None, :])
        fortzug = _multinomial_flat(rng, FORTZUG_RATE[i] * total, w_move)
        umzug_rate = np.clip(UMZUG_RATE * mob[:, None, None] * MOBILITAET[None, None, :] / 1.1, 0, 0.5)
        umzug_fort = rng.binomial(p, umzug_rate)
        attract = p * umzug_rate * pull[:, None, :] + 1e-9  # same propensity in both directions, plus the pull
        umzug_zu = rng.multinomial(umzug_fort.sum(0), np.moveaxis(attract / attract.sum(0), 0, -1))
        umzug_zu = np.moveaxis(umzug_zu, -1, 0)
        net = -deaths + zuzug - fortzug + umzug_zu - umzug_fort
        births = np.maximum(p[:, :, 0] - net[:, :, 0], 0)
        flows[j] = {"geburten": births, "sterbefaelle": deaths, "zuzuege": zuzug, "fortzuege": fortzug,
                    "umzuege_zu": umzug_zu, "umzuege_fort": umzug_fort}
        if j == JAHRE[0]:
            break
        prev = np.zeros_like(p)
        prev[:, :, :-1] = np.maximum(p[:, :, 1:] - net[:, :, 1:], 0)
        # the very old cannot be projected backwards (the 100+ group is open): 90+ a year before = 97 % of today
        prev[:, :, HOCHBETAGT:] = rng.binomial(p[:, :, HOCHBETAGT:], 0.97)
        if j == ZENSUS_JAHR:
            # stocks before the rebase are on the Zensus-2011 basis: persons the register still counted
            excess = 0.011 * (1 + centre + 0.4 * np.clip(dep, 0, None))[:, None, None] * np.where(
                (AGE >= 18) & (AGE < 45), 1.6, np.where(AGE >= 65, 0.5, 1.0))[None, None, :]
            prev = prev + rng.binomial(prev, np.clip(excess, 0, 0.2))
        stocks[j - 1] = prev
        p = prev
    return stocks, flows


def _age_mask(lo, hi):
    return (AGE >= lo) & (AGE < hi)


GROUPS = {
    "einwohner": _age_mask(0, N_AGE), "unter_3": _age_mask(0, 3), "3_bis_unter_6": _age_mask(3, 6),
    "6_bis_unter_15": _age_mask(6, 15), "15_bis_unter_18": _age_mask(15, 18), "18_bis_unter_65": _age_mask(18, 65),
    "unter_18": _age_mask(0, 18), "15_bis_unter_65": _age_mask(15, 65), "15_bis_unter_25": _age_mask(15, 25),
    "65_plus": _age_mask(65, N_AGE), "80_plus": _age_mask(80, N_AGE),
}
SGB2_GROUPS = ["unter_3", "3_bis_unter_6", "6_bis_unter_15", "15_bis_unter_18", "18_bis_unter_65"]
# count name -> (register flag, age from, age below, denominator group, trend)
RATES = {
    "nichtdeutsch_unter_18": ("nichtdeutsch", 0, 18, "unter_18", "nichtdeutsch"),
    "nichtdeutsch_18_bis_unter_65": ("nichtdeutsch", 18, 65, "18_bis_unter_65", "nichtdeutsch"),
    "nichtdeutsch_65_plus": ("nichtdeutsch", 65, N_AGE, "65_plus", "nichtdeutsch_65"),
    **{f"sgb2_{g}": ("sgb2", lo, hi, g, "sgb2")
       for g, (lo, hi) in zip(SGB2_GROUPS, [(0, 3), (3, 6), (6, 15), (15, 18), (18, 65)])},
    "grundsicherung_alter": ("grundsicherung_alter", 65, N_AGE, "65_plus", "grundsicherung"),
    "asylblg": ("asylblg", 0, N_AGE, "einwohner", "asylblg"),
    "arbeitslose": ("arbeitslos", 15, 65, "15_bis_unter_65", "arbeitslos"),
    "betreute_kinder_unter_3": ("kita_betreut", 0, 3, "unter_3", "kita_u3"),
    "betreute_kinder_3_bis_unter_6": ("kita_betreut", 3, 6, "3_bis_unter_6", "kita_ue3"),
}


def _register_units(reg, design):
    """Unit index per person: the district's position, or len(design) for residents of the GU."""
    pos = pd.Series(np.arange(len(design)), index=design.index)
    unit = pos.loc[reg["bezirk_id"]].to_numpy()
    return np.where(reg["gemeinschaftsunterkunft"].to_numpy(), len(design), unit)


def _count(unit, mask, n_units):
    return np.bincount(unit[mask], minlength=n_units)


def _register_counts(reg, unit, n_units):
    """Exact 2024 counts per unit from the register."""
    flags = {c: reg[c].to_numpy() for c in reg.columns if reg[c].dtype == bool}
    nd = flags["nichtdeutsch"] = reg["staatsangehoerigkeit"].to_numpy() == "nichtdeutsch"
    alter = reg["alter"].to_numpy()
    c = {name: _count(unit, flags[flag] & (alter >= lo) & (alter < hi), n_units)
         for name, (flag, lo, hi, _, _) in RATES.items()}
    c["deutsch_mit_migrationshintergrund"] = _count(unit, ~nd & flags["migrationshintergrund"], n_units)
    al = flags["arbeitslos"]
    c["langzeitarbeitslose"] = _count(unit, flags["langzeitarbeitslos"], n_units)
    c["arbeitslose_15_bis_unter_25"] = _count(unit, al & (alter < 25), n_units)
    c["arbeitslose_nichtdeutsch"] = _count(unit, al & nd, n_units)
    # households: counted once, at the first member
    first = ~reg["haushalt_id"].duplicated().to_numpy()
    hh = reg.assign(kind=(alter < 18)).groupby("haushalt_id", sort=False)
    has_kids = hh["kind"].transform("any").to_numpy()
    has_sgb2 = hh["sgb2"].transform("any").to_numpy()
    size = hh["alter"].transform("size").to_numpy()
    typ = reg["haushaltstyp"].to_numpy()
    c["haushalte"] = _count(unit, first, n_units)
    c["haushalte_mit_kindern"] = _count(unit, first & has_kids, n_units)
    c["alleinerziehende_haushalte"] = _count(unit, first & has_kids & (typ == "Alleinerziehend"), n_units)
    c["einpersonenhaushalte"] = _count(unit, first & (size == 1), n_units)
    c["einpersonenhaushalte_80_plus"] = _count(unit, first & (size == 1) & (alter >= 80), n_units)
    c["bedarfsgemeinschaften"] = _count(unit, first & has_sgb2, n_units)
    return c


def _age_sex(reg, unit, n_units):
    p = np.zeros((n_units, 2, N_AGE), dtype=np.int64)
    sex = (reg["geschlecht"].to_numpy() == "w").astype(int)
    np.add.at(p, (unit, sex, reg["alter"].to_numpy().astype(int)), 1)
    return p


def _binom(rng, n, p):
    return rng.binomial(np.maximum(n, 0), np.clip(np.nan_to_num(p), 0, 1))


def _ratio(a, b):
    return np.divide(a, b, out=np.zeros(len(a)), where=b > 0)


CHILD_SGB2 = ["sgb2_unter_3", "sgb2_3_bis_unter_6", "sgb2_6_bis_unter_15"]
KINDERARMUT_SCHWANKUNG = 0.08  # sd of the yearly Stadtteil factor on child SGB II before 2024 (log scale)
KINDERARMUT_WELLE = 0.2  # sd of a temporary rise 2017/18 in some Stadtteile (log scale, positive part)


def _year_counts(rng, pops, c24, pop24, i, gu, child_shock):
    """Counts of one year before 2024 from the year's population groups and the 2024 rates.

    ``child_shock``: factor per unit on the child SGB-II rates of this year (a Stadtteil's transient ups and downs:
    families moving in and out, a closed employer), so a single year's child poverty is a noisy measurement.
    """
    trend_gu = {k: np.where(gu, GU_TREND[k][i], 1.0) for k in GU_TREND}
    out = {}
    for name, (_, _, _, denom, trend) in RATES.items():
        factor = TREND[trend][i] * trend_gu.get(trend, 1.0) * (child_shock if name in CHILD_SGB2 else 1.0)
        out[name] = _binom(rng, pops[denom], _ratio(c24[name], pop24[denom]) * factor)
    nd = out["nichtdeutsch_unter_18"] + out["nichtdeutsch_18_bis_unter_65"] + out["nichtdeutsch_65_plus"]
    out["asylblg"] = np.minimum(out["asylblg"], nd)  # asylum seekers are foreign nationals
    deutsch24 = pop24["einwohner"] - sum(c24[k] for k in RATES if k.startswith("nichtdeutsch"))
    mh_rate = _ratio(c24["deutsch_mit_migrationshintergrund"], deutsch24) * TREND["deutsch_mh"][i]
    out["deutsch_mit_migrationshintergrund"] = _binom(rng, pops["einwohner"] - nd, mh_rate)
    al = out["arbeitslose"]
    out["langzeitarbeitslose"] = _binom(rng, al, _ratio(c24["langzeitarbeitslose"], c24["arbeitslose"]))
    out["arbeitslose_15_bis_unter_25"] = np.minimum(
        _binom(rng, al, _ratio(c24["arbeitslose_15_bis_unter_25"], c24["arbeitslose"])), pops["15_bis_unter_25"])
    out["arbeitslose_nichtdeutsch"] = np.minimum(
        _binom(rng, al, _ratio(c24["arbeitslose_nichtdeutsch"], c24["arbeitslose"])), nd)
    hh = np.round(c24["haushalte"] * _ratio(pops["einwohner"], pop24["einwohner"])
                  / TREND["haushaltsgroesse"][i]).astype(int)
    kids_shift = _ratio(_ratio(pops["unter_18"], pops["einwohner"]), _ratio(pop24["unter_18"], pop24["einwohner"]))
    out["haushalte"] = hh
    out["haushalte_mit_kindern"] = _binom(rng, hh, _ratio(c24["haushalte_mit_kindern"], c24["haushalte"]) * kids_shift)
    out["alleinerziehende_haushalte"] = _binom(
        rng, out["haushalte_mit_kindern"],
        _ratio(c24["alleinerziehende_haushalte"], c24["haushalte_mit_kindern"]) * TREND["alleinerziehend"][i])
    out["einpersonenhaushalte"] = _binom(rng, hh, _ratio(c24["einpersonenhaushalte"], c24["haushalte"]))
    out["einpersonenhaushalte_80_plus"] = np.minimum(
        _binom(rng, pops["80_plus"], _ratio(c24["einpersonenhaushalte_80_plus"], pop24["80_plus"])),
        out["einpersonenhaushalte"])
    sgb2 = sum(out[f"sgb2_{g}"] for g in SGB2_GROUPS)
    out["bedarfsgemeinschaften"] = np.minimum(
        _binom(rng, hh, _ratio(c24["bedarfsgemeinschaften"], c24["haushalte"]) * TREND["sgb2"][i]), sgb2)
    return out


def _groups(p):
    return {g: p[:, :, m].sum((1, 2)) for g, m in GROUPS.items()}


def _gu_stocks(p_gu24, gu_start, rng):
    """Residents of the GU per year (sex, age): the 2024 profile thinned by the occupancy of the year."""
    return {j: (rng.binomial(p_gu24, GU_BELEGUNG[Y[j]]) if j >= gu_start else np.zeros_like(p_gu24))
            if j < 2024 else p_gu24 for j in JAHRE}


def _gu_flows(gu_stocks, gu_start):
    """Moves of GU residents: turnover of a third per year plus the change in occupancy (over the city boundary)."""
    out = {}
    for j in JAHRE:
        now = gu_stocks[j]
        before = gu_stocks[j - 1] if j > JAHRE[0] else (now if gu_start < JAHRE[0] else np.zeros_like(now))
        turnover = np.round(now / 3).astype(int)
        zuzug = turnover + np.maximum(now - before, 0)
        out[j] = {"zuzuege": zuzug, "fortzuege": zuzug - (now - before)}
    return out


FLOW_COLUMNS = ["geburten", "sterbefaelle", "zuzuege", "fortzuege", "umzuege_zu", "umzuege_fort"]
FLOW_AGES = {"unter_18": _age_mask(0, 18), "30_bis_unter_50": _age_mask(30, 50)}


def _flow_rows(flows, gu_flows, n):
    """Flow counts per unit (regular units + GU) for one year."""
    out = {}
    for col in FLOW_COLUMNS:
        f = flows[col]
        total = f.sum(1) if f.ndim == 2 else f.sum((1, 2))
        g = gu_flows.get(col)
        out[col] = np.append(total, g.sum() if g is not None else 0)
        if col not in ("geburten", "sterbefaelle"):
            for label, m in FLOW_AGES.items():
                out[f"{col}_{label}"] = np.append(f[:, :, m].sum((1, 2)), g[:, m].sum() if g is not None else 0)
    return out


def _district_flows(flows, gu_flows, host):
    """Flows per year as arrays (district, sex, age); births get the age axis too (all at age 0)."""
    out = {}
    for j, year in flows.items():
        out[j] = {}
        for col in FLOW_COLUMNS:
            f = np.array(year[col], copy=True)
            if f.ndim == 2:
                f = np.concatenate([f[:, :, None], np.zeros(f.shape + (N_AGE - 1,), dtype=f.dtype)], axis=2)
            if col in gu_flows[j]:
                f[host] += gu_flows[j][col]
            out[j][col] = f
    return out


def _kita_places(ein, bezirk_ids):
    """Kita places per district (location) and year: Kitas opened in or before the year."""
    kitas = ein.loc[ein["art"] == "Kita"]
    jahr = kitas["eroeffnung_jahr"].fillna(0).to_numpy()
    idx = pd.Series(np.arange(len(bezirk_ids)), index=bezirk_ids).loc[kitas["bezirk_id"].astype(str)].to_numpy()
    places = {"plaetze_unter_3": kitas["plaetze_u3"], "plaetze_3_bis_unter_6": kitas["plaetze_ue3"]}
    return {
        j: {col: np.bincount(idx[jahr <= j], p.fillna(0).to_numpy()[jahr <= j], len(bezirk_ids))
            for col, p in places.items()}
        for j in JAHRE
    }


def _merge_gu(arr, host):
    """Add the GU unit (last row) to its host district and drop it."""
    arr = np.array(arr, copy=True)
    arr[host] += arr[-1]
    return arr[:-1]


def build_tables(reg, design, ein, gu_start, rng, moves=None):
    """All district tables 2015-2024 as a dict name -> DataFrame (rows sorted by bezirk_id, jahr).

    ``moves``: if a dict is given, it receives the age-specific flows behind the table ``bewegungen``:
    ``moves[jahr][flow]`` is an array (statistischer Bezirk in ``design`` order, sex, age), the GU included in
    its district (the basis of the projection inputs, `projection_inputs`).
    """
    n = len(design)
    unit = _register_units(reg, design)
    host = int(np.flatnonzero(design.index == reg.loc[reg["gemeinschaftsunterkunft"], "bezirk_id"].iloc[0])[0])
    gu = np.arange(n + 1) == n
    p24 = _age_sex(reg, unit, n + 1)
    c24 = _register_counts(reg, unit, n + 1)
    pop24 = _groups(p24)
    stocks, flows = _project_back(p24[:n], design, rng)
    gu_stocks = _gu_stocks(p24[n], gu_start, rng)
    gu_flows = _gu_flows(gu_stocks, gu_start)
    if moves is not None:
        moves.update(_district_flows(flows, gu_flows, host))
    places = _kita_places(ein, design.index)
    teil = pd.Series(design.index.str[:4]).to_numpy()
    teil = np.append(teil, teil[host])  # the GU shares its Stadtteil's ups and downs
    codes = np.unique(teil, return_inverse=True)[1]
    log_shock = rng.normal(0, KINDERARMUT_SCHWANKUNG, (codes.max() + 1, len(JAHRE)))
    # 2017/18: recognised refugee families move from the AsylbLG into SGB II, in some Stadtteile for a while
    log_shock[:, [Y[2017], Y[2018]]] += np.clip(rng.normal(0, KINDERARMUT_WELLE, codes.max() + 1), 0, None)[:, None]
    shocks = np.exp(log_shock)[codes]

    age_frames, rows = [], []
    for j in JAHRE:
        p = np.concatenate([stocks[j], gu_stocks[j][None]])
        pops = _groups(p)
        counts = c24 if j == 2024 else _year_counts(rng, pops, c24, pop24, Y[j], gu, shocks[:, Y[j]])
        cols = {**{f"pop_{k}": v for k, v in pops.items()}, **counts, **_flow_rows(flows[j], gu_flows[j], n)}
        cols = {k: _merge_gu(v, host) for k, v in cols.items()}
        p = _merge_gu(p, host)
        cols["einwohner_maennlich"] = p[:, 0].sum(1)
        cols["einwohner_weiblich"] = p[:, 1].sum(1)
        rows.append(pd.DataFrame({"bezirk_id": design.index, "jahr": j, **cols, **places[j]}))
        age_frames.append(
            pd.DataFrame({
                "bezirk_id": np.repeat(design.index.to_numpy(), 2 * N_AGE),
                "jahr": np.int16(j),
                "geschlecht": np.tile(np.repeat(["m", "w"], N_AGE), n),
                "alter": np.tile(AGE, 2 * n).astype(np.int8),
                "einwohner": p.ravel().astype(np.int32),
            })
        )
    d = pd.concat(rows, ignore_index=True).sort_values(["bezirk_id", "jahr"], ignore_index=True)
    d = d.astype({c: "int64" for c in d.columns if c != "bezirk_id"})
    key = d[["bezirk_id", "jahr"]]
    nd = d["nichtdeutsch_unter_18"] + d["nichtdeutsch_18_bis_unter_65"] + d["nichtdeutsch_65_plus"]
    sgb2 = {f"sgb2_{g}": d[f"sgb2_{g}"] for g in SGB2_GROUPS}
    return {
        "bevoelkerung_alter": pd.concat(age_frames, ignore_index=True)
        .sort_values(["bezirk_id", "jahr", "geschlecht", "alter"], ignore_index=True),
        "bevoelkerung": key.assign(
            zensus_basis=np.where(d["jahr"] >= ZENSUS_JAHR, 2022, 2011),
            einwohner=d["pop_einwohner"],
            einwohner_maennlich=d["einwohner_maennlich"],
            einwohner_weiblich=d["einwohner_weiblich"],
            deutsch=d["pop_einwohner"] - nd,
            nichtdeutsch=nd,
            nichtdeutsch_unter_18=d["nichtdeutsch_unter_18"],
            nichtdeutsch_18_bis_unter_65=d["nichtdeutsch_18_bis_unter_65"],
            nichtdeutsch_65_plus=d["nichtdeutsch_65_plus"],
            migrationshintergrund=nd + d["deutsch_mit_migrationshintergrund"],
        ),
        "haushalte": key.assign(**{c: d[c] for c in [
            "haushalte", "haushalte_mit_kindern", "alleinerziehende_haushalte", "einpersonenhaushalte",
            "einpersonenhaushalte_80_plus"]}),
        "sozialleistungen": key.assign(
            leistungsbezeichnung=np.where(d["jahr"] >= 2023, "Bürgergeld", "Arbeitslosengeld II/Sozialgeld"),
            sgb2_leistungsberechtigte=sum(sgb2.values()),
            **sgb2,
            sgb2_unter_15=sgb2["sgb2_unter_3"] + sgb2["sgb2_3_bis_unter_6"] + sgb2["sgb2_6_bis_unter_15"],
            sgb2_unter_18=sgb2["sgb2_unter_3"] + sgb2["sgb2_3_bis_unter_6"] + sgb2["sgb2_6_bis_unter_15"]
            + sgb2["sgb2_15_bis_unter_18"],
            bedarfsgemeinschaften=d["bedarfsgemeinschaften"],
            grundsicherung_alter=d["grundsicherung_alter"],
            asylblg=d["asylblg"],
        ),
        "arbeitslose": key.assign(**{c: d[c] for c in [
            "arbeitslose", "langzeitarbeitslose", "arbeitslose_15_bis_unter_25", "arbeitslose_nichtdeutsch"]}),
        "bewegungen": key.assign(**{c: d[c] for c in FLOW_COLUMNS}, **{
            f"{c}_{a}": d[f"{c}_{a}"] for c in FLOW_COLUMNS[2:] for a in FLOW_AGES}),
        "kita": key.assign(
            kinder_unter_3=d["pop_unter_3"],
            kinder_3_bis_unter_6=d["pop_3_bis_unter_6"],
            betreute_kinder_unter_3=d["betreute_kinder_unter_3"],
            betreute_kinder_3_bis_unter_6=d["betreute_kinder_3_bis_unter_6"],
            plaetze_unter_3=d["plaetze_unter_3"],
            plaetze_3_bis_unter_6=d["plaetze_3_bis_unter_6"],
        ),
    }
