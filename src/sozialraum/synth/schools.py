"""Grundschulen 2015-2024: pupils and Übergänge to the secondary schools, per school and school year.

``jahr`` is the school year starting in August (2015 = Schuljahr 2015/16).  Pupils are the children of 6 to under
10 on 31.12. of the catchment (the district counts spread over the Grundschulbezirke by area share) who attend the
school (most; a few go to a Förderschule, a private school or another catchment); the Übergänge at the end of the
school year are the pupils of class 4 (the 9-year-olds).  The Gymnasium share follows the child poverty of the
catchment: about 85 % at some southern schools, 10-15 % in the north (the A40 fact); the rest goes mostly to the
Gesamtschule, less to Realschule and Hauptschule.
"""

import numpy as np
import pandas as pd

JAHRE = np.arange(2015, 2025)
BESUCH = 0.965  # children of the catchment attending its Grundschule
SCHULFORMEN = ["gymnasium", "gesamtschule", "realschule", "hauptschule", "sonstige"]


def _shares(kinderarmut, rng):
    """Transition shares (school, form) from the catchment's child poverty (share 0-1)."""
    z = (kinderarmut - 0.25) / 0.15
    gym = 1 / (1 + np.exp(-(-0.3 - 1.05 * z + rng.normal(0, 0.2, len(z)))))
    rest = 1 - gym
    hs = 0.04 + 0.04 * np.clip(z, 0, None)
    sonst = np.full(len(z), 0.04)
    rs = 0.28 - 0.05 * z
    ge = 1 - rs - hs - sonst
    other = np.column_stack([ge, rs, hs, sonst]).clip(0.01)
    other = other / other.sum(1, keepdims=True) * rest[:, None]
    return np.column_stack([gym, other])


def build(tables, pieces, rng):
    """Table ``grundschulen``: einrichtung_id, grundschulbezirk_id, jahr, schueler, uebergaenge, uebergaenge_<form>."""
    a = tables["bevoelkerung_alter"]
    kids = a[a["alter"].between(6, 9)].groupby(["bezirk_id", "jahr"])["einwohner"].sum()
    nine = a[a["alter"] == 9].groupby(["bezirk_id", "jahr"])["einwohner"].sum()
    s = tables["sozialleistungen"].set_index(["bezirk_id", "jahr"])
    u15 = a[a["alter"] < 15].groupby(["bezirk_id", "jahr"])["einwohner"].sum()
    school = pieces[["grundschulbezirk_id", "einrichtung_id"]].drop_duplicates().sort_values("grundschulbezirk_id")
    rows = []
    for j in JAHRE:
        w = pieces.assign(
            kinder=pieces["bezirk_id"].map(kids.xs(j, level="jahr")) * pieces["anteil"],
            klasse4=pieces["bezirk_id"].map(nine.xs(j, level="jahr")) * pieces["anteil"],
            arm=pieces["bezirk_id"].map(s["sgb2_unter_15"].xs(j, level="jahr")) * pieces["anteil"],
            u15=pieces["bezirk_id"].map(u15.xs(j, level="jahr")) * pieces["anteil"],
        ).groupby("grundschulbezirk_id")[["kinder", "klasse4", "arm", "u15"]].sum().loc[school["grundschulbezirk_id"]]
        schueler = rng.binomial(np.round(w["kinder"]).astype(int), BESUCH)
        leaving = np.minimum(rng.binomial(np.round(w["klasse4"]).astype(int), BESUCH), schueler)
        shares = _shares((w["arm"] / w["u15"]).to_numpy(), rng)
        forms = np.array([rng.multinomial(n, p) for n, p in zip(leaving, shares)])
        rows.append(pd.DataFrame({
            "einrichtung_id": school["einrichtung_id"].to_numpy(),
            "grundschulbezirk_id": school["grundschulbezirk_id"].to_numpy(),
            "jahr": j, "schueler": schueler, "uebergaenge": leaving,
            **{f"uebergaenge_{f}": forms[:, k] for k, f in enumerate(SCHULFORMEN)},
        }))
    return pd.concat(rows, ignore_index=True).sort_values(["grundschulbezirk_id", "jahr"], ignore_index=True)
