"""Care planning inputs: Pflegequoten of the city (Kreis level) and the ambulant care services.

`quotas(bevoelkerung_alter)` returns the table ``pflegequoten``: per sex and age group the share of the population
in need of care (Pflegebedürftige nach SGB XI), split by the type of care.  The levels are fitted so that, on the
city's population of 31.12.2024, the broad age groups reproduce the Pflegequoten of Germany 2021 (DOMAIN.md: < 75
2.3 %, 75 to < 85 23.9 %, 85 to < 90 54.1 %, 90+ 81.6 %; women 27.1 / 60.6 / 86.4 %).  The split follows the
Pflegestatistik NRW 2021 by age group (IT.NRW: Pflegegeld, vollstationär, ambulant) and the 0.56 of 4.96 million
Pflegebedürftige in Germany with Pflegegrad 1 who use none of these (Destatis 2021).

`services(geo, bevoelkerung_alter, pflege, rng)` returns the point layer ``pflegedienste``: ambulant care services
whose capacities add up to about the ambulant demand of the city, located more often where many old people live.
The Pflegeheime exist already in the layer ``einrichtungen`` (art "Pflegeheim", ``plaetze``).
"""

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from sozialraum.synth import geography

JAHR = 2024
# Fine age groups (first age); the last is 95 and older
GROUPS = np.array([0, 15, 60, 65, 70, 75, 80, 85, 90, 95])
GROUP_END = np.append(GROUPS[1:] - 1, 100)
# Relative Pflegequote of the fine groups within their broad group (Pflegestatistik profile: steep from 60 on)
SHAPE = np.array([1.0, 0.75, 2.0, 2.9, 4.6, 1.0, 1.9, 1.0, 1.0, 1.15])
# broad group (first age, end) -> (quota all, quota women); None: same quota for men and women
TARGETS = {(0, 75): (0.023, None), (75, 85): (0.239, 0.271), (85, 90): (0.541, 0.606), (90, 101): (0.816, 0.864)}
# Pflegestatistik NRW 2021, Leistungsempfänger nach Altersgruppen: Pflegegeld, vollstationär, ambulant
NRW_2021 = {0: (186_907, 12_116, 27_223), 65: (41_295, 7_515, 11_392), 70: (55_547, 10_161, 16_604),
            75: (71_831, 15_475, 25_749), 80: (129_620, 34_654, 56_069), 85: (106_771, 41_147, 56_436),
            90: (51_404, 32_173, 32_323), 95: (11_879, 13_853, 9_269)}
PFLEGEGRAD1_OHNE_LEISTUNG = 0.56 / 4.96  # Germany 2021: Pflegegrad 1 without Pflegegeld, Heim or Dienst

KLIENTEN_JE_DIENST = (25, 180)  # Germany 2021: 1.05 million clients, about 15,400 services (about 70 each)
AUSLASTUNG = 0.93  # ambulant demand / capacity in the city
TRAEGER = ["Caritas-Sozialstation", "Diakoniestation", "AWO Pflegedienst", "DRK Sozialstation",
           "Ambulanter Pflegedienst", "Pflegedienst", "Häusliche Krankenpflege", "Pflegeteam"]
MOTIVE = ["Lebenswert", "Sonnenschein", "Herzenssache", "Hand in Hand", "Zuhause", "Kompass", "Lichtblick",
          "Glückauf", "Ruhrpott", "Vertrauen", "Rundum", "Mit Herz", "Füreinander", "Nachbarschaft", "Anker"]


def _population(bevoelkerung_alter):
    """City population 2024 by age (rows 0-100) and sex (columns m, w)."""
    year = bevoelkerung_alter[bevoelkerung_alter["jahr"] == JAHR]
    return year.groupby(["alter", "geschlecht"])["einwohner"].sum().unstack("geschlecht")[["m", "w"]]


def _split_shares():
    """Shares stationär, ambulant, Pflegegeld, Pflegegrad 1 ohne Leistung per fine age group."""
    out = []
    for lo in GROUPS:
        geld, stat, amb = NRW_2021[max(k for k in NRW_2021 if k <= lo)]
        served = np.array([stat, amb, geld], dtype=float)
        out.append(np.append(served / served.sum() * (1 - PFLEGEGRAD1_OHNE_LEISTUNG), PFLEGEGRAD1_OHNE_LEISTUNG))
    return np.array(out)


def quotas(bevoelkerung_alter):
    """Table ``pflegequoten`` (see the module docstring)."""
    pop = _population(bevoelkerung_alter)
    group_of_age = np.searchsorted(GROUPS, pop.index.to_numpy(), side="right") - 1
    pop_groups = pop.groupby(group_of_age).sum().to_numpy()  # (fine group, sex)
    quote = np.zeros((len(GROUPS), 2))
    for (lo, hi), (total, women) in TARGETS.items():
        members = (GROUPS >= lo) & (GROUPS < hi)
        n_m, n_w = pop_groups[members, 0].sum(), pop_groups[members, 1].sum()
        men = total if women is None else (total * (n_m + n_w) - women * n_w) / n_m
        for sex, level in ((0, men), (1, total if women is None else women)):
            weight = pop_groups[members, sex]
            quote[members, sex] = SHAPE[members] * level * weight.sum() / (SHAPE[members] * weight).sum()
    shares = _split_shares()
    rows = []
    for sex, label in enumerate(["m", "w"]):
        for g, lo in enumerate(GROUPS):
            q = min(quote[g, sex], 0.97)
            rows.append({"geschlecht": label, "alter_von": int(lo), "alter_bis": int(GROUP_END[g]),
                         "pflegequote": q, "quote_stationaer": q * shares[g, 0], "quote_ambulant": q * shares[g, 1],
                         "quote_pflegegeld": q * shares[g, 2], "quote_ohne_leistung": q * shares[g, 3]})
    frame = pd.DataFrame(rows)
    cols = [c for c in frame.columns if c.startswith(("pflegequote", "quote_"))]
    frame[cols] = frame[cols].round(6)
    return frame


def demand(bevoelkerung_alter, pflege):
    """Expected Pflegebedürftige 2024 per statistischer Bezirk and care type (Einwohner × Quote)."""
    year = bevoelkerung_alter[bevoelkerung_alter["jahr"] == JAHR]
    start = GROUPS[np.searchsorted(GROUPS, year["alter"].to_numpy(), side="right") - 1]
    merged = year.assign(alter_von=start).merge(pflege, on=["geschlecht", "alter_von"])
    cols = ["quote_stationaer", "quote_ambulant", "quote_pflegegeld", "quote_ohne_leistung"]
    counts = merged[cols].mul(merged["einwohner"], axis=0).rename(columns=lambda c: c.removeprefix("quote_"))
    return counts.groupby(merged["bezirk_id"]).sum()


def services(geo, bevoelkerung_alter, pflege, rng):
    """Point layer ``pflegedienste``: ambulant care services with their capacity (clients)."""
    bezirke = geo["statistische_bezirke"].sort_values("bezirk_id").reset_index(drop=True)
    need = demand(bevoelkerung_alter, pflege)["ambulant"].reindex(bezirke["bezirk_id"]).to_numpy()
    total = need.sum() / AUSLASTUNG
    n = int(round(total / rng.uniform(65, 75)))
    size = rng.lognormal(0, 0.45, n)
    capacity = np.clip(np.round(total * size / size.sum() / 5) * 5, *KLIENTEN_JE_DIENST).astype(int)
    where = rng.choice(len(bezirke), size=n, p=need ** 2 / (need ** 2).sum())
    points = [_point_in(rng, bezirke.geometry.iloc[i]) for i in where]
    names, used = [], set()
    for i in where:
        name = f"{TRAEGER[int(rng.integers(len(TRAEGER)))]} {MOTIVE[int(rng.integers(len(MOTIVE)))]}"
        if name in used:
            name = f"{name} ({bezirke['name'].iloc[i]})"
        used.add(name)
        names.append(name)
    frame = gpd.GeoDataFrame({
        "einrichtung_id": [f"PD{k + 1:03d}" for k in range(n)],
        "art": "Ambulanter Pflegedienst",
        "name": names,
        "bezirk_id": bezirke["bezirk_id"].iloc[where].to_numpy(),
        "klienten_kapazitaet": capacity,
        "eroeffnung_jahr": rng.integers(1995, JAHR + 1, n),
    }, geometry=points, crs=geography.CRS)
    return frame.sort_values("einrichtung_id", ignore_index=True)


def _point_in(rng, polygon):
    """A random point at least 10 m inside ``polygon`` (rounded to 1 cm)."""
    inner = polygon.buffer(-10.0)
    inner = polygon if inner.is_empty else inner
    minx, miny, maxx, maxy = inner.bounds
    while True:
        p = shapely.set_precision(shapely.Point(rng.uniform(minx, maxx), rng.uniform(miny, maxy)), geography.GRID)
        if inner.contains(p):
            return p
