"""District types from practice: where they lie and what profile each has (generator knowledge, not a learners' table).

`assign(design, gdf, gu_bezirk, rng)` gives every statistischer Bezirk one of TYPES, placed where a Ruhr planner
expects it: the Innenstadt around the centre, a Hochschulviertel next to it south of the motorway, one 1970s
Großwohnsiedlung in the north, old Arbeiterquartiere and Zechensiedlungen north of the motorway, family suburbs and
Neubaugebiete at the edge, ageing single-family areas in the south and mixed areas in between.

`scores(types, design, gdf, rng)` turns the types into latent scores (one column per dimension of PROFILES), each
the type's profile plus a north-south term, smooth spatial noise and local noise of its own, so the indicators built
on them are related but do not collapse into one factor.  The Datenkatalog lists each district's type in its
teachers' section.
"""

import numpy as np
import pandas as pd
from libpysal.weights import Queen

TYPES = {
    "innenstadt": "Innenstadt und innerer Ring",
    "hochschulviertel": "Hochschulviertel",
    "grosswohnsiedlung": "Großwohnsiedlung der 1970er Jahre",
    "arbeiterquartier": "Arbeiterquartier / Zechensiedlung",
    "familienquartier": "Familienquartier am Stadtrand / Neubaugebiet",
    "einfamilienhausgebiet": "alterndes Einfamilienhausgebiet im Süden",
    "gemischt": "gemischtes Wohngebiet",
}
# Profile per type, in standard deviations of the district scores.  armut: income poverty of households of working
# age; migration: households of foreign origin; familie: couples with children; alterung: older households;
# singles: one-person households and flat shares of younger adults; mobilitaet: moves in and out;
# altersarmut: poverty in old age; arbeitsmarkt: unemployment beyond what SGB II explains.
DIMENSIONS = ["armut", "migration", "familie", "alterung", "singles", "mobilitaet", "altersarmut", "arbeitsmarkt"]
PROFILES = pd.DataFrame(
    {
        "innenstadt": [0.7, 1.0, -0.9, -0.7, 2.0, 1.6, 1.2, 0.6],
        "hochschulviertel": [-0.4, 0.3, -1.3, -1.3, 2.2, 1.7, -0.6, -0.8],
        "grosswohnsiedlung": [1.7, 1.5, 0.6, 0.3, 0.0, 0.5, 2.0, 0.3],
        "arbeiterquartier": [0.6, 0.6, 0.5, -0.1, -0.3, 0.0, 0.3, 0.2],
        "familienquartier": [-1.1, -0.7, 1.7, -1.1, -1.2, 0.4, -0.7, -0.3],
        "einfamilienhausgebiet": [-0.9, -1.0, -0.6, 1.1, -0.4, -0.8, -0.8, -0.2],
        "gemischt": [-0.3, -0.2, 0.0, 0.3, 0.2, 0.0, -0.1, 0.0],
    },
    index=DIMENSIONS,
).T
NOISE = {"smooth": 0.45, "local": 0.35}  # spread within a type (spatially smooth part, independent part)
NORD = {"armut": 0.45, "migration": 0.4, "altersarmut": 0.3, "alterung": -0.2}  # extra north-south gradient


def _neighbours_first(seed_pos, candidates, xy, k):
    """The k candidates nearest to the seed (by centroid), the seed included: a compact cluster."""
    dist = np.hypot(*(xy[candidates] - xy[seed_pos]).T)
    return candidates[np.argsort(dist)[:k]]


def assign(design, gdf, gu_bezirk, rng):
    """Type of each district (Series indexed like ``design``)."""
    n = len(design)
    nord = design["nord_km"].to_numpy()
    zk = design["zentrum_km"].to_numpy()
    cent = gdf.geometry.centroid
    xy = np.column_stack([cent.x, cent.y])
    typ = np.full(n, "gemischt", dtype=object)
    free = np.ones(n, dtype=bool)

    inner = np.argsort(zk)[:10]
    typ[inner], free[inner] = "innenstadt", False
    south_mitte = np.flatnonzero(free & (nord < 0) & (zk < np.quantile(zk, 0.3)))
    uni = _neighbours_first(south_mitte[np.argmin(zk[south_mitte])], south_mitte, xy, 3)
    typ[uni], free[uni] = "hochschulviertel", False

    gu = np.flatnonzero(design.index == gu_bezirk)
    free_gws = free.copy()
    free_gws[gu] = False
    candidates = np.flatnonzero(free_gws & (nord > 1.0) & (zk > 2.5) & (zk < 5.5))
    gws = _neighbours_first(int(rng.choice(candidates)), candidates, xy, 4)
    typ[gws], free[gws] = "grosswohnsiedlung", False

    edge = _smooth(gdf, rng) + 1.5 * (zk - zk.mean()) / zk.std()
    edge[~free | (zk < np.quantile(zk, 0.5))] = -np.inf
    familie = np.argsort(-edge)[:26]
    typ[familie], free[familie] = "familienquartier", False

    typ[free & (nord > 0.3)] = "arbeiterquartier"
    typ[free & (nord < -1.2) & (zk > np.quantile(zk, 0.35))] = "einfamilienhausgebiet"
    return pd.Series(typ, index=design.index, name="typ")


def _smooth(gdf, rng, rounds=2):
    """Standard-normal field, averaged with its Queen neighbours, re-standardised."""
    w = Queen.from_dataframe(gdf, use_index=False, silence_warnings=True)
    w.transform = "r"
    z = rng.standard_normal(len(gdf))
    for _ in range(rounds):
        z = 0.4 * z + 0.6 * np.asarray(w.sparse @ z)
    return (z - z.mean()) / z.std()


def scores(types, design, gdf, rng):
    """Latent scores per district (DataFrame, one column per dimension, indexed like ``design``)."""
    nord = np.tanh(design["nord_km"].to_numpy() / 1.5)
    out = {}
    for dim in DIMENSIONS:
        base = PROFILES.loc[types.to_numpy(), dim].to_numpy()
        noise = NOISE["smooth"] * _smooth(gdf, rng) + NOISE["local"] * rng.standard_normal(len(types))
        out[dim] = base + NORD.get(dim, 0.0) * nord + noise
    return pd.DataFrame(out, index=design.index)


CORE_INDICATORS = ["sgb2_quote", "kinderarmut", "arbeitslosenrate", "auslaenderanteil", "grundsicherung_quote",
                   "anteil_65_plus", "einpersonenhaushalte_anteil", "alleinerziehende_anteil"]


def core_indicators(tables, jahr=2024):
    """The eight core indicators per district (shares 0-1) from the district tables of one year.

    SGB-II-Quote (/ 0-<65), Kinderarmut (SGB II < 15 / < 15), Arbeitslosenrate (/ 15-<65), Ausländeranteil,
    Grundsicherung im Alter (/ 65+), Anteil 65+, Einpersonenhaushalte (/ Haushalte), Alleinerziehende (/ Haushalte
    mit Kindern).  Used by the tests and the benchmark to show that the city is not one factor.
    """
    a = tables["bevoelkerung_alter"]
    a = a[a["jahr"] == jahr]

    def pop(lo, hi):
        return a[(a["alter"] >= lo) & (a["alter"] < hi)].groupby("bezirk_id")["einwohner"].sum()

    t = {n: tables[n][tables[n]["jahr"] == jahr].set_index("bezirk_id")
         for n in ["bevoelkerung", "sozialleistungen", "arbeitslose", "haushalte"]}
    s, h = t["sozialleistungen"], t["haushalte"]
    return pd.DataFrame({
        "sgb2_quote": s["sgb2_leistungsberechtigte"] / pop(0, 65),
        "kinderarmut": s["sgb2_unter_15"] / pop(0, 15),
        "arbeitslosenrate": t["arbeitslose"]["arbeitslose"] / pop(15, 65),
        "auslaenderanteil": t["bevoelkerung"]["nichtdeutsch"] / t["bevoelkerung"]["einwohner"],
        "grundsicherung_quote": s["grundsicherung_alter"] / pop(65, 200),
        "anteil_65_plus": pop(65, 200) / pop(0, 200),
        "einpersonenhaushalte_anteil": h["einpersonenhaushalte"] / h["haushalte"],
        "alleinerziehende_anteil": h["alleinerziehende_haushalte"] / h["haushalte_mit_kindern"],
    })[CORE_INDICATORS]
