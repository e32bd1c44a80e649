"""Street network of the synthetic city: streets and footpaths along the block boundaries.

`build(geo, blocks, rng)` returns two layers (EPSG:25832):

- ``strassen``: one line per edge between two junctions, with street class, name, length and its end nodes,
- ``strassenknoten``: the junctions and dead ends.

How it is made: the boundaries of the Baublöcke (`geography`) become streets; where two Stadtteile meet the street
is a Hauptverkehrsstraße, where two statistische Bezirke meet a Sammelstraße, inside a Bezirk a Wohnstraße (so many
district boundaries follow streets, as in real cities).  The motorway, the river and the canal lie in a corridor of
`KORRIDOR_M` on each side in which no street runs; streets end at the corridor, a road (along the motorway) or a
footpath (along the water) runs on each edge of it, and only a few bridges and underpasses cross it.  Some blocks get
a footpath through them.  Streets are named along "strokes" (edges that continue each other with little bend).
"""

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import LineString

from sozialraum.synth import geography

KORRIDOR_M = 30.0  # half width of the corridor of motorway, river and canal
# barrier -> (road crossings, footbridges); the city is about 13 km wide
KREUZUNGEN = {"A 47": (6, 2), "Kettelbach": (7, 2), "Zechenkanal": (6, 1)}
FUSSWEG_ANTEIL = 0.12  # share of blocks with a footpath through them
KLASSEN = ["Hauptverkehrsstraße", "Sammelstraße", "Wohnstraße", "Fußweg"]
MAX_KNICK = 70.0  # degrees: an edge continues the street of another if it bends less (block corners bend about 60)

TREES = ["Eichen", "Buchen", "Linden", "Birken", "Ahorn", "Erlen", "Eschen", "Kastanien", "Ulmen", "Weiden",
         "Tannen", "Kiefern", "Holunder", "Hasel", "Akazien", "Pappel", "Eiben", "Platanen", "Robinien", "Lärchen"]
FLOWERS = ["Rosen", "Tulpen", "Nelken", "Veilchen", "Lilien", "Astern", "Dahlien", "Flieder", "Ginster", "Krokus",
           "Narzissen", "Primel", "Lavendel", "Mohn", "Kamillen", "Malven", "Iris", "Enzian", "Heide", "Efeu"]
BIRDS = ["Amsel", "Drossel", "Fink", "Lerchen", "Meisen", "Spatzen", "Schwalben", "Tauben", "Kranich", "Falken",
         "Sperber", "Eulen", "Raben", "Stieglitz", "Zeisig", "Kiebitz", "Reiher", "Dohlen", "Elster", "Star"]
WORK = ["Bergmann", "Hauer", "Steiger", "Knappen", "Schmiede", "Weber", "Müller", "Bäcker", "Schacht", "Stollen",
        "Flöz", "Zechen", "Kokerei", "Hütten", "Förder", "Gruben", "Kohlen", "Halden", "Glückauf", "Lampen"]
NATURE = ["Wiesen", "Feld", "Wald", "Bach", "Berg", "Moor", "Sand", "Stein", "Hügel", "Quellen", "Teich", "Brunnen",
          "Mühlen", "Garten", "Sonnen", "Mond", "Stern", "Regen", "Wind", "Nebel"]
PEOPLE = ["Goethe", "Schiller", "Lessing", "Heine", "Kant", "Fontane", "Brahms", "Händel", "Dürer", "Kepler",
          "Humboldt", "Liebig", "Röntgen", "Diesel", "Benz", "Stein", "Arndt", "Körner", "Uhland", "Storm",
          "Droste", "Freiligrath", "Grabbe", "Weerth", "Kolping", "Ketteler", "Harkort", "Krupp", "Stinnes", "Thyssen"]
SUFFIXES = ["straße", "weg", "allee", "ring", "pfad", "gasse"]
AM_SUFFIXES = ["hof", "feld", "hang", "park", "kamp", "busch", "grund", "bruch"]  # "Am Lindenhof"
PREFIXES = ["Alte", "Neue", "Obere", "Untere"]


def _barriers(geo):
    """(name, line) of motorway, river and canal."""
    out = [(geo["autobahn"]["name"].iloc[0], geo["autobahn"].geometry.iloc[0])]
    out += list(zip(geo["fluss"]["name"], geo["fluss"].geometry))
    return out


def _block_edges(blocks, city):
    """Unique boundary segments of the blocks (noded), without the city boundary."""
    lines = shapely.union_all(shapely.boundary(np.asarray(blocks)), grid_size=geography.GRID)
    edges = shapely.get_parts(shapely.line_merge(lines))
    on_city_boundary = shapely.dwithin(shapely.line_interpolate_point(edges, 0.5, normalized=True),
                                       city.boundary, 0.05)
    return edges[~on_city_boundary]


def _classify(edges, blocks, bezirke):
    """Street class from the districts on either side of each edge."""
    unit = gpd.sjoin(gpd.GeoDataFrame(geometry=shapely.point_on_surface(np.asarray(blocks)), crs=geography.CRS),
                     bezirke[["bezirk_id", "geometry"]], predicate="within")["bezirk_id"]
    unit = unit[~unit.index.duplicated()].reindex(range(len(blocks))).fillna("").to_numpy()
    tree = shapely.STRtree(np.asarray(blocks))
    mid = shapely.line_interpolate_point(edges, 0.5, normalized=True)
    a = shapely.line_interpolate_point(edges, 0.45, normalized=True)
    dx, dy = shapely.get_x(mid) - shapely.get_x(a), shapely.get_y(mid) - shapely.get_y(a)
    norm = np.hypot(dx, dy) + 1e-9
    sides = []
    for sign in (1, -1):
        pts = shapely.points(shapely.get_x(mid) - sign * dy / norm, shapely.get_y(mid) + sign * dx / norm)
        idx_pt, idx_block = tree.query(pts, predicate="within")
        side = np.full(len(edges), "", dtype=object)
        side[idx_pt] = unit[idx_block]
        sides.append(side)
    left, right = (pd.Series(s).astype(str) for s in sides)
    klasse = np.where(left.str[:4] != right.str[:4], KLASSEN[0], np.where(left != right, KLASSEN[1], KLASSEN[2]))
    return klasse


def _pick_crossings(rng, candidates, line, n):
    """``n`` crossing edges spread evenly along ``line`` (candidates: edges that cross it, with their class)."""
    pos = np.array([line.project(shapely.intersection(e, line).centroid) for e in candidates.geometry])
    lo, hi = pos.min(), pos.max()
    targets = lo + (hi - lo) * (np.arange(n) + 0.5 + rng.uniform(-0.25, 0.25, n)) / n
    rank = candidates["klasse"].map({KLASSEN[0]: 0.0, KLASSEN[1]: 150.0, KLASSEN[2]: 300.0}).to_numpy()
    chosen = []
    for t in targets:
        score = np.abs(pos - t) + rank
        score[chosen] = np.inf
        chosen.append(int(np.argmin(score)))
    return chosen


def _across(line, point):
    """Straight segment through ``point`` at right angles to ``line``, a little longer than the corridor is wide."""
    at = line.project(point)
    a, b = line.interpolate(at - 1.0), line.interpolate(at + 1.0)
    dx, dy = b.x - a.x, b.y - a.y
    scale = (KORRIDOR_M + 5.0) / np.hypot(dx, dy)
    return LineString([(point.x - dy * scale, point.y + dx * scale), (point.x + dy * scale, point.y - dx * scale)])


def _footpaths(rng, blocks, corridor):
    """Straight footpaths through some blocks, between the two farthest corners."""
    paths = []
    for i in rng.choice(len(blocks), size=int(FUSSWEG_ANTEIL * len(blocks)), replace=False):
        block = blocks[i]
        if block.intersects(corridor) or block.area < 20_000:
            continue
        ring = np.asarray(block.exterior.coords)[:-1]
        d = np.hypot(*(ring[:, None, :] - ring[None, :, :]).transpose(2, 0, 1))
        a, b = np.unravel_index(np.argmax(d), d.shape)
        path = LineString([ring[a], ring[b]])
        if block.buffer(0.05).contains(path):
            paths.append(path)
    return paths


def _lines(geoms, klasse, bauwerk=None, quert=None):
    geoms = list(geoms)
    n = len(geoms)
    return gpd.GeoDataFrame({"klasse": np.broadcast_to(klasse, n), "bauwerk": [bauwerk] * n, "quert": [quert] * n},
                            geometry=geoms, crs=geography.CRS)


def build(geo, blocks, rng):
    """Layers ``strassen`` and ``strassenknoten`` (see the module docstring)."""
    city = geo["stadtgrenze"].geometry.iloc[0]
    edges = _block_edges(blocks, city)
    streets = _lines(edges, _classify(edges, blocks, geo["statistische_bezirke"]))
    barriers = _barriers(geo)
    corridors = {name: line.buffer(KORRIDOR_M, cap_style="flat") for name, line in barriers}
    corridor = shapely.union_all(list(corridors.values()))
    pieces = []
    for name, line in barriers:
        crosses = streets[streets.intersects(line)]
        n_road, n_foot = KREUZUNGEN[name]
        chosen = crosses.iloc[_pick_crossings(rng, crosses, line, n_road + n_foot)]
        foot = set(rng.choice(len(chosen), size=n_foot, replace=False).tolist())
        for k, (_, row) in enumerate(chosen.iterrows()):
            part = _across(line, row.geometry.intersection(line).centroid).intersection(corridors[name])
            if k in foot:
                pieces.append(_lines([part], KLASSEN[3], "Fußgängerbrücke", name))
            else:
                kind = "Brücke" if name != "A 47" or rng.random() < 0.5 else "Unterführung"
                pieces.append(_lines([part], row["klasse"], kind, name))
        edge_roads = shapely.get_parts(corridors[name].boundary.intersection(city))
        pieces.append(_lines(edge_roads, KLASSEN[2] if name == "A 47" else KLASSEN[3]))
    streets = streets.set_geometry(streets.geometry.difference(corridor))
    pieces.append(_lines(_footpaths(rng, blocks, corridor.buffer(30)), KLASSEN[3]))
    source = pd.concat([streets, *pieces], ignore_index=True)
    source = source[~source.geometry.is_empty]
    return _network(source, rng)


def _network(source, rng):
    """Node all lines, carry the attributes over, keep the connected network, name the streets."""
    noded = shapely.get_parts(shapely.union_all(source.geometry.to_numpy(), grid_size=geography.GRID))
    noded = noded[shapely.length(noded) > 0.5]
    mid = shapely.line_interpolate_point(noded, 0.5, normalized=True)
    tree = shapely.STRtree(source.geometry.to_numpy())
    match = tree.query_nearest(mid, return_distance=False, all_matches=False)[1]
    attrs = source.iloc[match].reset_index(drop=True)
    coords = [np.asarray(g.coords) for g in noded]
    start = np.round([c[0] for c in coords], 2)
    end = np.round([c[-1] for c in coords], 2)
    keys, inverse = np.unique(np.vstack([start, end]), axis=0, return_inverse=True)
    u, v = inverse[: len(noded)], inverse[len(noded):]
    graph = nx.Graph()
    graph.add_edges_from(zip(u.tolist(), v.tolist()))
    main = max(nx.connected_components(graph), key=len)
    keep = np.isin(u, list(main)) & (u != v)
    edges = gpd.GeoDataFrame(attrs[keep].reset_index(drop=True), geometry=noded[keep], crs=geography.CRS)
    u, v = u[keep], v[keep]
    used = np.unique(np.concatenate([u, v]))
    node_ids = pd.Series([f"K{i + 1:05d}" for i in range(len(used))], index=used)
    edges["name"] = _street_names(edges, u, v, rng)
    order = ["strasse_id", "name", "klasse", "bauwerk", "quert", "von_knoten_id", "nach_knoten_id", "laenge_m"]
    edges = edges.assign(
        strasse_id=[f"S{i + 1:05d}" for i in range(len(edges))],
        von_knoten_id=node_ids.loc[u].to_numpy(),
        nach_knoten_id=node_ids.loc[v].to_numpy(),
        laenge_m=edges.geometry.length.round(1),
    )[order + ["geometry"]]
    knoten = gpd.GeoDataFrame({"knoten_id": node_ids.to_numpy()},
                              geometry=shapely.points(keys[used]), crs=geography.CRS)
    return {"strassen": edges, "strassenknoten": knoten}


def _directions(geoms, at_start):
    """Angle of the first (or, reversed, the last) segment of each line, pointing away from the node."""
    a, b = (0, 1) if at_start else (-1, -2)
    pa, pb = shapely.get_point(geoms, a), shapely.get_point(geoms, b)
    return np.arctan2(shapely.get_y(pb) - shapely.get_y(pa), shapely.get_x(pb) - shapely.get_x(pa))


def _street_names(edges, u, v, rng):
    """One name per stroke of edges of the same class (footpaths stay without a name)."""
    named = edges["klasse"].to_numpy() != KLASSEN[3]
    geoms = edges.geometry.to_numpy()
    d_start, d_end = _directions(geoms, True), _directions(geoms, False)
    at_node = {}
    for i in np.flatnonzero(named):
        at_node.setdefault(u[i], []).append((i, d_start[i]))
        at_node.setdefault(v[i], []).append((i, d_end[i]))
    parent = list(range(len(edges)))

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    cls = edges["klasse"].to_numpy()
    for incident in at_node.values():
        pairs = []
        for a in range(len(incident)):
            for b in range(a + 1, len(incident)):
                (i, da), (j, db) = incident[a], incident[b]
                bend = 180 - abs((np.degrees(da - db) + 180) % 360 - 180)
                if cls[i] == cls[j] and bend < MAX_KNICK:
                    pairs.append((bend, i, j))
        done = set()
        for _, i, j in sorted(pairs):
            if i not in done and j not in done:
                done.update((i, j))
                parent[find(i)] = find(j)
    roots = np.array([find(i) for i in range(len(edges))])
    main = cls == KLASSEN[0]
    by_root = {}
    for is_main in (True, False):
        strokes = pd.unique(roots[named & (main == is_main)])
        by_root.update(zip(strokes, _name_pool(rng, len(strokes), is_main)))
    return [by_root[r] if ok else None for r, ok in zip(roots, named)]


def _name_pool(rng, n, main):
    """``n`` different German street names (invented combinations, no real addresses).

    ``main``: names for Hauptverkehrsstraßen (after places: "Fahrnbuscher Straße"), otherwise for other streets.
    """
    if main:
        pool = [f"{stem}{suffix}er Straße" for stem in geography.NAME_STEMS for suffix in geography.NAME_SUFFIXES]
        pool = [p.replace("eer Straße", "er Straße") for p in pool]
        return list(rng.permutation(pool))[:n]
    stems = TREES + FLOWERS + BIRDS + WORK + NATURE + PEOPLE + geography.NAME_STEMS
    first = [f"{stem}{suffix}" for stem in stems for suffix in SUFFIXES]
    first += [f"Am {stem}{suffix}" for stem in stems for suffix in AM_SUFFIXES]
    rest = [f"{prefix} {name}" for prefix in PREFIXES for name in first if not name.startswith("Am ")]
    pool = list(rng.permutation(first)) + list(rng.permutation(rest))
    if n > len(pool):
        raise ValueError(f"Zu wenige Straßennamen: {n} gebraucht, {len(pool)} vorhanden.")
    return pool[:n]
