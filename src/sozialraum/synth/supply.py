"""Capacities of Kitas and Grundschulen, sized to the population as a planning office would have done.

`size_facilities(geo, design, reg, rng)` returns the layer ``einrichtungen`` with ``plaetze_u3`` and ``plaetze_ue3``
of every Kita and ``plaetze`` (Züge × 4 Jahrgänge × 25) of every Grundschule:

- U3: each Stadtteil has a target Versorgungsquote around the city figure (lower where poverty is high, as in the
  Ruhr cities), its Kitas share the places; Ü3: close to one place per child, a little below in the north.
- Grundschulen: the Züge (also half Züge, e.g. 1,5-zügig = 6 classes) fit the children of 6 to under 10 in the catchment (area-weighted, as module 04 computes
  them); a few schools have one Zug too few (over capacity) or too many (under-used): the planning cases.

These replace the provisional capacities `geography` draws with the locations.  `pieces(geo)` is the area-weighted overlay of statistische Bezirke and Grundschulbezirke used here and for the
school tables.
"""

import geopandas as gpd
import numpy as np
import pandas as pd

U3_VERSORGUNG = 0.34  # U3 places / children under 3, city (NRW 2018/19 38.1 %, Dortmund 31.5 %)
U3_SPANNE = (0.18, 0.48)  # Stadtteile: no Ruhr Stadtteil reaches the 50 % of the best-supplied cities
UE3_VERSORGUNG = 0.98  # places 3 to school entry / children 3-<6
PLAETZE_JE_ZUG = 100  # 4 Jahrgänge × 25
ZUEGE = (1, 6)  # large schools run a Teilstandort
N_UEBERBELEGT, N_UNTERBELEGT = 3, 3  # planning cases


def pieces(geo):
    """Overlay of statistische Bezirke and Grundschulbezirke: bezirk_id, grundschulbezirk_id, einrichtung_id,
    anteil (share of the district's area)."""
    bezirke = geo["statistische_bezirke"][["bezirk_id", "geometry"]]
    schulen = geo["grundschulbezirke"][["grundschulbezirk_id", "einrichtung_id", "geometry"]]
    out = gpd.overlay(bezirke, schulen, how="intersection", keep_geom_type=True)
    out["anteil"] = out.area / out["bezirk_id"].map(bezirke.set_index("bezirk_id").area)
    out = out[out["anteil"] > 1e-6]
    out["anteil"] = out["anteil"] / out.groupby("bezirk_id")["anteil"].transform("sum")
    return pd.DataFrame(out.drop(columns="geometry")).sort_values(["bezirk_id", "grundschulbezirk_id"],
                                                                   ignore_index=True)


def _split(total, n, rng, lo, hi, step=1):
    """``total`` places on ``n`` Kitas, random shares, each a multiple of ``step`` between lo and hi."""
    share = rng.dirichlet(np.full(n, 6.0))
    return np.clip(np.round(total * share / step) * step, lo, hi).astype(int)


def size_facilities(geo, design, reg, rng):
    """Layer ``einrichtungen`` with Kita and Grundschule capacities set (a copy)."""
    ein = geo["einrichtungen"].copy()
    alter = reg["alter"].to_numpy()
    kids = pd.DataFrame({
        "u3": pd.Series(alter < 3).groupby(reg["bezirk_id"].to_numpy()).sum(),
        "ue3": pd.Series((alter >= 3) & (alter < 6)).groupby(reg["bezirk_id"].to_numpy()).sum(),
        "gs": pd.Series((alter >= 6) & (alter < 10)).groupby(reg["bezirk_id"].to_numpy()).sum(),
    }).reindex(design.index, fill_value=0)
    armut = design["armut"]
    teil = design.index.str[:4]
    per_teil = kids.groupby(teil).sum()
    armut_teil = (armut * kids["u3"]).groupby(teil).sum() / per_teil["u3"].clip(lower=1)

    kita = ein["art"] == "Kita"
    kita_teil = ein.loc[kita, "bezirk_id"].str[:4]
    q_u3 = U3_VERSORGUNG * np.exp(-0.13 * (armut_teil - armut_teil.mean()) + rng.normal(0, 0.1, len(armut_teil)))
    q_u3 = q_u3.clip(*U3_SPANNE)
    q_ue3 = UE3_VERSORGUNG * np.exp(-0.04 * (armut_teil - armut_teil.mean()) + rng.normal(0, 0.05, len(armut_teil)))
    for t, idx in kita_teil.groupby(kita_teil).groups.items():
        n = len(idx)
        ein.loc[idx, "plaetze_u3"] = _split(q_u3[t] * per_teil.loc[t, "u3"], n, rng, 4, 40)
        ein.loc[idx, "plaetze_ue3"] = _split(q_ue3[t] * per_teil.loc[t, "ue3"], n, rng, 20, 130, step=5)

    share = pieces(geo)
    share["gs"] = share["bezirk_id"].map(kids["gs"]) * share["anteil"]
    share["armut"] = share["bezirk_id"].map(armut)
    need = share.groupby("einrichtung_id")["gs"].sum()
    growth = (share["armut"] * share["gs"]).groupby(share["einrichtung_id"]).sum() / need  # the north grows
    # half Züge allowed (1,5-zügig = 6 classes); planned for 88-102 % occupancy
    zuege = np.clip(np.round(2 * need / PLAETZE_JE_ZUG / rng.uniform(0.88, 1.02, len(need))) / 2, *ZUEGE)
    big = growth[zuege >= 2.5].sort_values().index
    zuege[big[-N_UEBERBELEGT:]] -= 1  # growing north: the school has become too small
    zuege[growth.sort_values().index[:N_UNTERBELEGT]] += 0.5  # ageing south: fewer children than places
    schule = ein["art"] == "Grundschule"
    ein.loc[schule, "plaetze"] = ein.loc[schule, "einrichtung_id"].map(zuege * PLAETZE_JE_ZUG).to_numpy()
    for col in ["plaetze_u3", "plaetze_ue3", "plaetze"]:
        ein[col] = ein[col].astype("Int64")
    return ein
