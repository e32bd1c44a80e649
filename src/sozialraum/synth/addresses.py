"""Addresses (Hauskoordinaten): buildings along the streets, every household of the register in one of them.

`build(geo, strassen, register, typ, rng)` returns

- ``adressen``: one point per residential building with street name, house number, building type and dwellings,
- the register's new column ``adresse_id`` (one address per household, a Series aligned with the register),
- ``raster_100m``: the register counted on a 100 m grid like the Zensus grid (cells of EPSG:3035, stored in
  EPSG:25832).

Buildings stand `ABSTAND_M` behind the street, on both sides, every `FRONT_M` metres; how many households a building
holds follows the district type (high-rise estate, inner city, Zechensiedlung, single-family suburb ...); about
`LEERSTAND` of the dwellings stay empty, spread over all buildings, and a building left without a household is not
listed.  House numbers run along each street, odd on the left, even on the right.  The Gemeinschaftsunterkunft is
one building at its own point.
"""

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer

from sozialraum.synth import geography, streets

ABSTAND_M = 12.0  # distance of the building point from the street axis
FRONT_M = 12.0  # spacing of building sites along a street (terraced houses 6-8 m, detached houses 15-20 m)
LEERSTAND = 0.05  # share of empty dwellings
# building type -> range of dwellings (Wohnungen)
GEBAEUDE = {"Einfamilienhaus": (1, 1), "Zweifamilienhaus": (2, 2), "Mehrfamilienhaus": (3, 12),
            "großes Mehrfamilienhaus": (13, 40), "Hochhaus": (60, 160)}
# district type -> share of households per building type (order of GEBAEUDE)
WOHNEN = {
    "innenstadt": (0.0, 0.05, 0.55, 0.40, 0.0),
    "hochschulviertel": (0.0, 0.05, 0.60, 0.35, 0.0),
    "grosswohnsiedlung": (0.0, 0.0, 0.10, 0.30, 0.60),
    "arbeiterquartier": (0.10, 0.25, 0.55, 0.10, 0.0),
    "gemischt": (0.20, 0.15, 0.55, 0.10, 0.0),
    "familienquartier": (0.45, 0.20, 0.35, 0.0, 0.0),
    "einfamilienhausgebiet": (0.60, 0.20, 0.20, 0.0, 0.0),
}
# households that prefer a house of their own (they get the small buildings first)
FAMILIEN = ("Paar mit Kindern", "Paar ohne Kinder", "Alleinerziehend")
RASTER_M = 100
ETRS_LAEA = "EPSG:3035"


def _sites(strassen, city, corridor):
    """Candidate building sites left and right of every named street (not in the barrier corridor)."""
    named = strassen[strassen["name"].notna() & strassen["bauwerk"].isna()].reset_index(drop=True)
    geoms = named.geometry.to_numpy()
    length = shapely.length(geoms)
    n = (length // FRONT_M).astype(int)
    kante = np.repeat(np.arange(len(geoms)), n)
    rank = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
    along = (rank + 0.5) * length[kante] / n[kante]
    line = geoms[kante]
    a = shapely.line_interpolate_point(line, np.maximum(along - 1, 0))
    b = shapely.line_interpolate_point(line, np.minimum(along + 1, length[kante]))
    dx, dy = shapely.get_x(b) - shapely.get_x(a), shapely.get_y(b) - shapely.get_y(a)
    norm = np.hypot(dx, dy)
    mid = shapely.line_interpolate_point(line, along)
    side = np.repeat([[1], [-1]], len(kante), axis=1).ravel()  # 1 = left of the drawing direction
    sites = pd.DataFrame({
        "kante": np.tile(kante, 2), "along": np.tile(along, 2), "side": side,
        "x": np.tile(shapely.get_x(mid), 2) - side * np.tile(dy / norm, 2) * ABSTAND_M,
        "y": np.tile(shapely.get_y(mid), 2) + side * np.tile(dx / norm, 2) * ABSTAND_M,
    })
    pts = shapely.points(sites["x"], sites["y"])
    tree = shapely.STRtree(strassen.geometry.to_numpy())
    _, dist = tree.query_nearest(pts, return_distance=True, all_matches=False)
    ok = (dist > ABSTAND_M - 0.5) & shapely.contains(city, pts) & ~shapely.intersects(corridor, pts)
    return named, sites[ok].reset_index(drop=True)


def _sizes(rng, n_households, shares):
    """Buildings (type index, dwellings) for ``n_households`` households of one district."""
    kinds, dwellings = [], []
    for k, share in enumerate(shares):
        need = int(np.ceil(share * n_households / (1 - LEERSTAND)))
        lo, hi = list(GEBAEUDE.values())[k]
        while need > 0:
            d = int(rng.integers(lo, hi + 1))
            kinds.append(k)
            dwellings.append(d)
            need -= d
    return np.array(kinds, dtype=int), np.array(dwellings, dtype=int)


def _denser(shares, bezirk):
    """A tenth of the households move from the smallest building type in use to the next larger one."""
    small = np.flatnonzero(shares[:-1] > 0)
    if not len(small):
        raise ValueError(f"Bezirk {bezirk}: zu wenig Straßenfront für seine Haushalte, auch in Hochhäusern.")
    move = min(shares[small[0]], 0.1)
    shares = shares.copy()
    shares[small[0]] -= move
    shares[small[0] + 1] += move
    return np.round(shares, 9)


def build(geo, strassen, register, typ, rng):
    """Layers ``adressen`` and ``raster_100m`` and the register's column ``adresse_id`` (see the module docstring)."""
    city = geo["stadtgrenze"].geometry.iloc[0]
    corridor = shapely.union_all([line.buffer(streets.KORRIDOR_M + 5) for line in
                                  [*geo["autobahn"].geometry, *geo["fluss"].geometry]])
    named, sites = _sites(strassen, city, corridor)
    bezirke = geo["statistische_bezirke"]
    pts = gpd.GeoDataFrame(geometry=shapely.points(sites["x"], sites["y"]), crs=geography.CRS)
    sites["bezirk_id"] = gpd.sjoin(pts, bezirke[["bezirk_id", "geometry"]], predicate="within")["bezirk_id"]
    sites = sites.dropna(subset=["bezirk_id"])

    households = register.drop_duplicates("haushalt_id")[["haushalt_id", "bezirk_id", "haushaltstyp",
                                                          "gemeinschaftsunterkunft"]]
    regular = households[~households["gemeinschaftsunterkunft"]]
    chosen, address_of = [], {}
    for bezirk, hh in regular.groupby("bezirk_id", sort=True):
        free = sites.index[sites["bezirk_id"] == bezirk].to_numpy()
        shares = np.array(WOHNEN[typ[bezirk]])
        kinds, dwellings = _sizes(rng, len(hh), shares)
        while len(kinds) > len(free):  # too little street front: denser buildings
            shares = _denser(shares, bezirk)
            kinds, dwellings = _sizes(rng, len(hh), shares)
        spots = rng.choice(free, size=len(kinds), replace=False)
        # the empty dwellings spread over all buildings; then small buildings first and families first (with some
        # noise), so that houses hold families
        slots = rng.choice(np.repeat(np.arange(len(kinds)), dwellings), size=len(hh), replace=False)
        slots = slots[np.lexsort((rng.random(len(slots)), kinds[slots]))]
        family = hh["haushaltstyp"].isin(FAMILIEN).to_numpy()
        order = np.argsort(-(family * 0.6 + rng.random(len(hh))), kind="stable")
        building = np.empty(len(hh), dtype=int)
        building[order] = slots
        used, building = np.unique(building, return_inverse=True)  # a building without households is left out
        address_of.update(zip(hh["haushalt_id"], len(chosen) + building))
        chosen.extend(zip(spots[used], kinds[used], dwellings[used]))
    adressen, address_of = _numbered(named, sites, chosen, geo, households, address_of)
    adresse_id = register["haushalt_id"].map(address_of).rename("adresse_id")
    return adressen, adresse_id, grid(adressen, register.assign(adresse_id=adresse_id))


def _numbered(named, sites, chosen, geo, households, address_of):
    """The address layer with house numbers; the GU is added at its own point."""
    idx = np.array([c[0] for c in chosen])
    b = sites.loc[idx].reset_index(drop=True)
    b["gebaeudetyp"] = np.array(list(GEBAEUDE))[[c[1] for c in chosen]]
    b["wohnungen"] = [c[2] for c in chosen]
    ein = geo["einrichtungen"]
    gu = ein[ein["art"] == "Gemeinschaftsunterkunft"].iloc[0]
    tree = shapely.STRtree(named.geometry.to_numpy())
    k = int(tree.query_nearest(gu.geometry)[0])
    line = named.geometry.iloc[k]
    along = line.project(gu.geometry)
    ahead = line.interpolate(min(along + 1, line.length))
    here = line.interpolate(along)
    cross = (ahead.x - here.x) * (gu.geometry.y - here.y) - (ahead.y - here.y) * (gu.geometry.x - here.x)
    gu_hh = households.loc[households["gemeinschaftsunterkunft"], "haushalt_id"]
    b.loc[len(b)] = {"kante": k, "along": along, "side": 1 if cross > 0 else -1, "x": gu.geometry.x,
                     "y": gu.geometry.y, "bezirk_id": gu["bezirk_id"], "gebaeudetyp": "Gemeinschaftsunterkunft",
                     "wohnungen": 0}
    address_of.update(dict.fromkeys(gu_hh, len(b) - 1))
    b["strasse"] = named["name"].to_numpy()[b["kante"].to_numpy()]
    b["hausnummer"] = _house_numbers(named, b)
    b = b.sort_values(["bezirk_id", "strasse", "hausnummer"], kind="stable")
    new_id = np.empty(len(b), dtype=object)
    new_id[b.index.to_numpy()] = [f"A{i + 1:06d}" for i in range(len(b))]
    address_of = dict(zip(address_of, new_id[list(address_of.values())]))
    adressen = gpd.GeoDataFrame({
        "adresse_id": new_id[b.index.to_numpy()],
        "strasse": b["strasse"].to_numpy(),
        "hausnummer": b["hausnummer"].to_numpy(),
        "bezirk_id": b["bezirk_id"].to_numpy(),
        "stadtteil_id": b["bezirk_id"].str[:4].to_numpy(),
        "gebaeudetyp": b["gebaeudetyp"].to_numpy(),
        "wohnungen": b["wohnungen"].to_numpy().astype(int),
    }, geometry=shapely.set_precision(shapely.points(b["x"], b["y"]), geography.GRID), crs=geography.CRS)
    return adressen.reset_index(drop=True), address_of


def _street_positions(named):
    """Per edge: offset of its start along its street and whether it runs with the street's direction."""
    u, v = named["von_knoten_id"].to_numpy(), named["nach_knoten_id"].to_numpy()
    length = named["laenge_m"].to_numpy()
    offset, forward = np.zeros(len(named)), np.ones(len(named), dtype=bool)
    for edges in named.groupby("name").indices.values():
        adjacent = {}
        for i in edges:
            adjacent.setdefault(u[i], []).append((i, v[i]))
            adjacent.setdefault(v[i], []).append((i, u[i]))
        seen, total = set(), 0.0
        starts = sorted(adjacent, key=lambda node: (len(adjacent[node]) != 1, node))
        for start in starts:  # one walk per connected piece, from a dead end if there is one
            stack = [start]
            while stack:
                node = stack.pop()
                for i, other in adjacent[node]:
                    if i in seen:
                        continue
                    seen.add(i)
                    offset[i], forward[i] = total, u[i] == node
                    total += length[i]
                    stack.append(other)
    return offset, forward


def _house_numbers(named, b):
    """House numbers along each street: odd on the left, even on the right of the street's direction."""
    offset, forward = _street_positions(named)
    k = b["kante"].to_numpy()
    length = named["laenge_m"].to_numpy()[k]
    pos = offset[k] + np.where(forward[k], b["along"], length - b["along"])
    left = np.where(forward[k], b["side"] == 1, b["side"] == -1)
    frame = pd.DataFrame({"strasse": named["name"].to_numpy()[k], "pos": pos, "left": left})
    rank = frame.sort_values("pos").groupby(["strasse", "left"]).cumcount().reindex(frame.index).to_numpy() + 1
    return np.where(left, 2 * rank - 1, 2 * rank)


def _cells(corner):
    """The 100 m cells with these lower left corners (E, N in EPSG:3035) as polygons in EPSG:25832, corners to 1 cm
    (neighbouring cells share their corners exactly)."""
    to_utm = Transformer.from_crs(ETRS_LAEA, geography.CRS, always_xy=True)
    cells = shapely.box(corner[:, 0], corner[:, 1], corner[:, 0] + RASTER_M, corner[:, 1] + RASTER_M)
    return shapely.set_precision(shapely.transform(cells, lambda xy: np.column_stack(to_utm.transform(*xy.T))),
                                 geography.GRID)


def grid(adressen, register):
    """Register counted on 100 m cells of the EPSG:3035 grid (only cells with residents), like the Zensus grid."""
    to_laea = Transformer.from_crs(geography.CRS, ETRS_LAEA, always_xy=True)
    points = adressen.geometry.to_numpy()
    corner = np.floor(np.column_stack(to_laea.transform(shapely.get_x(points), shapely.get_y(points))) / RASTER_M)
    corner *= RASTER_M
    # a building within 1 cm of a cell edge: the stored (rounded) cell decides, so that a spatial join agrees
    outside = np.flatnonzero(~shapely.covers(_cells(corner), points))
    for step in [(-1, 0), (1, 0), (0, -1), (0, 1), (-1, -1), (-1, 1), (1, -1), (1, 1)]:
        moved = corner[outside] + np.array(step) * RASTER_M
        hit = shapely.covers(_cells(moved), points[outside])
        corner[outside[hit]] = moved[hit]
        outside = outside[~hit]
    cell = pd.Series([f"CRS3035RES100mN{n:.0f}E{e:.0f}" for e, n in corner], index=adressen["adresse_id"])
    person = register.assign(gitter_id=register["adresse_id"].map(cell).to_numpy())
    alter = person["alter"]
    counts = pd.DataFrame({
        "einwohner": 1,
        "einwohner_unter_18": alter < 18,
        "einwohner_65_plus": alter >= 65,
        "nichtdeutsch": person["staatsangehoerigkeit"] == "nichtdeutsch",
        "einwohner_unter_65": alter < 65,
        "sgb2_leistungsberechtigte": person["sgb2"],
    }).astype(int).groupby(person["gitter_id"]).sum().sort_index()
    north_east = counts.index.str.extract(r"N(\d+)E(\d+)").astype(float).to_numpy()
    return gpd.GeoDataFrame(counts.reset_index(), geometry=_cells(north_east[:, ::-1]), crs=geography.CRS)
