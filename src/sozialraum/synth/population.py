"""Population of the synthetic city: design variables per statistischer Bezirk, the register and the tables.

`build(geo, rng)` returns the person-level `melderegister` (31.12.2024) and the district tables for 2015-2024
(see datasets/README.md, section "Bevölkerung und Sozialdaten").  The 2024 rows of every table are exact
aggregates of the register.
"""

import numpy as np
import pandas as pd
from sozialraum.synth import district_types, programme, register, schools, series, seu, supply

EINWOHNER_ZIEL = 268_000  # Gelsenkirchen 267,930 (31.12.2024)
GU_BELEGUNG = 0.85  # occupancy of the Gemeinschaftsunterkunft in 2024


DENSITY = {"innenstadt": 1.3, "hochschulviertel": 1.2, "grosswohnsiedlung": 1.5, "familienquartier": 0.9,
           "einfamilienhausgebiet": 0.75}  # relative population per area; other types 1


def district_design(geo, rng, gu_bezirk):
    """Design variables per statistischer Bezirk (index bezirk_id).

    nord_km: signed distance of the centroid north of the motorway; zentrum_km: distance to the centroid of
    Stadtbezirk "01"; zentralitaet: 1 at the centre, 0 at the edge; typ: the district type
    (`district_types.TYPES`); one latent score per dimension of `district_types.DIMENSIONS`; einwohner_ziel:
    target population.
    """
    gdf = geo["statistische_bezirke"].sort_values("bezirk_id").reset_index(drop=True)
    cent = gdf.geometry.centroid
    line = geo["autobahn"].geometry.union_all()
    line_y = np.array([line.interpolate(line.project(p)).y for p in cent])
    nord_km = np.sign(cent.y.to_numpy() - line_y) * cent.distance(line).to_numpy() / 1000
    mitte = geo["statistische_bezirke"].loc[lambda g: g["stadtbezirk_id"] == "01"].geometry.union_all().centroid
    zentrum_km = cent.distance(mitte).to_numpy() / 1000
    flaeche = gdf.geometry.area.to_numpy() / 1e6
    design = pd.DataFrame(
        {
            "nord_km": nord_km,
            "zentrum_km": zentrum_km,
            "flaeche_km2": flaeche,
            "zentralitaet": np.exp(-zentrum_km / (0.25 * zentrum_km.max())),
        },
        index=pd.Index(gdf["bezirk_id"].astype(str), name="bezirk_id"),
    )
    design["typ"] = district_types.assign(design, gdf, gu_bezirk, rng)
    design = design.join(district_types.scores(design["typ"], design, gdf, rng))
    density = design["typ"].map(DENSITY).fillna(1.0).to_numpy()
    spread = np.exp(0.1 * design["armut"].to_numpy() + 0.25 * rng.standard_normal(len(gdf)))
    weight = (0.3 + np.sqrt(flaeche / flaeche.mean())) * (0.5 + design["zentralitaet"].to_numpy()) * spread * density
    design["einwohner_ziel"] = np.round(EINWOHNER_ZIEL * weight / weight.sum()).astype(int)
    return design


def district_types_of(geo, rng):
    """District type per bezirk_id, as `build` draws it with the same fresh ``rng`` (it is its first draw)."""
    ein = geo["einrichtungen"]
    gu = ein.loc[ein["art"] == "Gemeinschaftsunterkunft", "bezirk_id"].iloc[0]
    return district_design(geo, rng, str(gu))["typ"]


def build(geo, rng, moves=None):
    """Register 2024, district tables 2015-2024, Grundschulen, Schuleingangsuntersuchung and the programme
    (dict name -> DataFrame).  ``moves``: see `series.build_tables` (age-specific flows, filled if given).

    Sizes the Kitas and Grundschulen to the population: ``geo["einrichtungen"]`` is replaced by the layer with
    the capacities of `supply.size_facilities`.
    """
    ein = geo["einrichtungen"]
    gu = ein.loc[ein["art"] == "Gemeinschaftsunterkunft"].iloc[0]
    design = district_design(geo, rng, str(gu["bezirk_id"]))
    plaetze = gu.get("plaetze")
    gu_persons = int(round(GU_BELEGUNG * plaetze)) if pd.notna(plaetze) else 350
    gu_persons = int(np.clip(gu_persons, 300, 400))
    gu_start = int(gu["eroeffnung_jahr"]) if pd.notna(gu.get("eroeffnung_jahr")) else 2015
    reg = register.build_register(design, rng, str(gu["bezirk_id"]), gu_persons)
    geo["einrichtungen"] = ein = supply.size_facilities(geo, design, reg, rng)
    tables = series.build_tables(reg, design, ein, gu_start, rng, moves)
    foerderung = programme.select(tables, geo["stadtteile"])
    pieces = supply.pieces(geo)
    funded = set(foerderung.loc[foerderung["gefoerdert"], "stadtteil_id"])
    return {
        "melderegister": reg, **tables,
        "grundschulen": schools.build(tables, pieces, rng),
        **seu.build(tables, design, pieces, funded, rng),
        "foerderprogramm": foerderung,
    }
