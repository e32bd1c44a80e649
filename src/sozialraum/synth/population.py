"""Population of the synthetic city: design variables per statistischer Bezirk, the register and the tables.

`build(geo, rng)` returns the person-level `melderegister` (31.12.2024) and the district tables for 2015-2024
(see datasets/README.md, section "Bevölkerung und Sozialdaten").  The 2024 rows of every table are exact
aggregates of the register.
"""

import numpy as np
import pandas as pd
from libpysal.weights import Queen

from sozialraum.synth import register, series

EINWOHNER_ZIEL = 268_000  # Gelsenkirchen 267,930 (31.12.2024)
GU_BELEGUNG = 0.85  # occupancy of the Gemeinschaftsunterkunft in 2024


def _smooth_noise(gdf, rng, rounds=1):
    """Standard-normal field, averaged with its Queen neighbours `rounds` times, re-standardised."""
    w = Queen.from_dataframe(gdf, use_index=False, silence_warnings=True)
    w.transform = "r"
    z = rng.standard_normal(len(gdf))
    for _ in range(rounds):
        z = 0.4 * z + 0.6 * np.asarray(w.sparse @ z)
    return (z - z.mean()) / z.std()


def _standardise(x):
    return (x - x.mean()) / x.std()


def district_design(geo, rng):
    """Design variables per statistischer Bezirk (index bezirk_id).

    nord_km: signed distance of the centroid north of the motorway; zentrum_km: distance to the centroid of
    Stadtbezirk "01"; deprivation and alterung: standardised scores (north / centre / smooth noise);
    zentralitaet: 1 at the centre, 0 at the edge; einwohner_ziel: target population.
    """
    gdf = geo["statistische_bezirke"].sort_values("bezirk_id").reset_index(drop=True)
    cent = gdf.geometry.centroid
    line = geo["autobahn"].geometry.union_all()
    line_y = np.array([line.interpolate(line.project(p)).y for p in cent])
    nord_km = np.sign(cent.y.to_numpy() - line_y) * cent.distance(line).to_numpy() / 1000
    mitte = geo["statistische_bezirke"].loc[lambda g: g["stadtbezirk_id"] == "01"].geometry.union_all().centroid
    zentrum_km = cent.distance(mitte).to_numpy() / 1000
    zentralitaet = np.exp(-zentrum_km / (0.25 * zentrum_km.max()))
    nord = np.tanh(nord_km / 1.5)  # about 1 from 2-3 km north of the motorway, about -1 south of it
    flaeche = gdf.geometry.area.to_numpy() / 1e6

    local = rng.standard_normal(len(gdf))  # unsmoothed part: neighbours differ, Moran's I stays below 1
    deprivation = _standardise(1.3 * nord + 0.7 * zentralitaet + 0.7 * _smooth_noise(gdf, rng) + 0.45 * local)
    alterung = _standardise(-0.7 * nord - 0.5 * zentralitaet + 0.7 * _smooth_noise(gdf, rng))
    spread = np.exp(0.15 * deprivation + 0.25 * rng.standard_normal(len(gdf)))
    weight = (0.3 + np.sqrt(flaeche / flaeche.mean())) * (0.5 + zentralitaet) * spread
    einwohner = np.round(EINWOHNER_ZIEL * weight / weight.sum()).astype(int)
    return pd.DataFrame(
        {
            "nord_km": nord_km,
            "zentrum_km": zentrum_km,
            "flaeche_km2": flaeche,
            "zentralitaet": zentralitaet,
            "deprivation": deprivation,
            "alterung": alterung,
            "einwohner_ziel": einwohner,
        },
        index=pd.Index(gdf["bezirk_id"].astype(str), name="bezirk_id"),
    )


def build(geo, rng):
    """Register 2024 and district tables 2015-2024 as a dict name -> DataFrame."""
    design = district_design(geo, rng)
    ein = geo["einrichtungen"]
    gu = ein.loc[ein["art"] == "Gemeinschaftsunterkunft"].iloc[0]
    plaetze = gu.get("plaetze")
    gu_persons = int(round(GU_BELEGUNG * plaetze)) if pd.notna(plaetze) else 350
    gu_persons = int(np.clip(gu_persons, 300, 400))
    gu_start = int(gu["eroeffnung_jahr"]) if pd.notna(gu.get("eroeffnung_jahr")) else 2015
    reg = register.build_register(design, rng, str(gu["bezirk_id"]), gu_persons)
    tables = series.build_tables(reg, design, ein, gu_start, rng)
    return {"melderegister": reg, **tables}
