"""Geografie der fiktiven Ruhrgebietsstadt Haldenbrück (synthetisch).

`build(rng)` erzeugt alle Geo-Layer in EPSG:25832:

- ``stadtgrenze``, ``stadtbezirke``, ``stadtteile``, ``statistische_bezirke``: verschachtelt und lückenlos,
- ``grundschulbezirke``: zweite Gliederung (Voronoi der Grundschulen), passt nicht in die statistischen Bezirke,
- ``einrichtungen``: Kitas, Schulen, Pflegeheime usw. als Punkte,
- ``autobahn`` (der "Sozialäquator") und ``fluss`` (Fluss und Kanal nördlich davon).

Vorgehen: Das Stadtgebiet wird in einige tausend kleine Baublöcke (Voronoi-Zellen) zerlegt. Jede Ebene entsteht
von oben nach unten, indem Blöcke eines Elternteils per Mehrquellen-Dijkstra auf dem Nachbarschaftsgraphen der
Blöcke an Keimpunkte verteilt werden. So ist jede Einheit zusammenhängend, und jede Ebene ist exakt die
Vereinigung ihrer Kinder. Kanten, die Autobahn, Fluss oder Kanal kreuzen, sind teurer: Grenzen folgen oft diesen
Linien, wie in echten Städten.
"""

from __future__ import annotations

import heapq

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import LineString, Point, Polygon

CRS = "EPSG:25832"
CITY_NAME = "Haldenbrück"
AGS = "05917000"
# Stadtmitte bei etwa 51,50° N / 7,15° O, zwischen Gelsenkirchen, Essen und Bochum
CENTRE = np.array([371600.0, 5707050.0])
GRID = 0.01  # Koordinaten auf 1 cm gerundet
N_BLOCKS = 2800
MOTORWAY_NAME = "A 47"
RIVER_NAME = "Kettelbach"
CANAL_NAME = "Zechenkanal"

COMPASS = ["Ost", "Nordost", "Nord", "Nordwest", "West", "Südwest", "Süd", "Südost"]
NAME_STEMS = [
    "Asel", "Bärling", "Bremke", "Eichling", "Fahrn", "Gerling", "Grothe", "Hambel", "Hesel", "Hilgen",
    "Hoppel", "Kattwin", "Klarholt", "Kornel", "Lansen", "Lüdding", "Mensing", "Nesel", "Pelken", "Quellen",
    "Rahm", "Rensing", "Rüpping", "Sandel", "Schell", "Sieker", "Tackel", "Uhlen", "Vöding", "Wittel",
    "Brinker", "Dörning", "Elsing", "Fleuten", "Gahlen", "Hengsten", "Jammer", "Kolken", "Lehmbrink", "Möllen",
    "Nottel", "Olpen", "Pöting", "Rodder", "Sümmer", "Trappen", "Vellwig", "Wemmer", "Zolling", "Ickel",
]
NAME_SUFFIXES = [
    "hausen", "dorf", "busch", "heide", "feld", "holz", "bruch", "beck", "hof", "scheid",
    "kamp", "horst", "loh", "hövel", "mark", "berg", "winkel", "rode", "siepen", "ort",
]
CENTRE_NAMES = ["Rathausviertel", "Hauptbahnhof", "Marktviertel", "Stadtgarten", "Musiktheater", "Kirchviertel",
                "Altmarkt", "Gerichtsviertel", "Theaterviertel", "Stadtbad", "Postviertel", "Museumsviertel"]
THEMED_NAMES = [
    "Zeche Mathilde", "Zeche Glückauf", "Zeche Gute Hoffnung", "Zeche Friedrich Wilhelm", "Zeche Nordlicht",
    "Zeche Karoline", "Zeche Vereinigte Helene", "Zeche Auguste Victoria II", "Zeche Graf Bismarck II",
    "Kolonie Eichenhof", "Kolonie Am Schacht", "Kolonie Lindenhof", "Kolonie Hüttenstraße", "Siedlung Rosenhügel",
    "Siedlung Am Bergmannsfeld", "Am Volkspark", "Am Stadtwald", "Schlosspark", "Halde Sandberg", "Hüttenwerk",
    "Im Busch", "Kirchheide", "Mühlenfeld", "Lerchenfeld", "Am Sportpark", "Gartenstadt", "Zechenpark",
    "Krankenhausviertel", "Am Wasserturm", "Dorfkern", "Am Friedhof", "Heidesiedlung", "Hellweg",
    "Zeche Konstantin III", "Kolonie Dreieck", "Siedlung Grüne Aue", "Am Hochbunker", "Gewerbepark",
    "Industriegebiet Schachtstraße", "Am Bahndamm", "Bergmannsglück", "Kokerei", "Am Mühlenbach", "Fuchsheide",
    "Rosenviertel", "Dichterviertel", "Professorenviertel", "Kreuzkirche", "Pferdebahn", "Alte Ziegelei",
]
HARBOUR_NAME = "Stadthafen"


def build(rng: np.random.Generator, blocks_out: list | None = None) -> dict[str, gpd.GeoDataFrame]:
    """Erzeuge alle Geo-Layer der Stadt aus dem Zufallsgenerator ``rng`` (gleicher Zustand, gleiche Stadt).

    ``blocks_out``: wenn eine Liste übergeben wird, erhält sie die Baublöcke (Polygone), aus denen alles entsteht
    (Grundlage des Straßennetzes, `streets`).
    """
    outline = _outline(rng)
    centre = CENTRE
    sub_centre_angle = rng.uniform(np.radians(60), np.radians(120))
    sub_centre = _ray_point(outline, centre, sub_centre_angle, 0.55)
    blocks, weights = _blocks(rng, outline, centre, sub_centre)
    if blocks_out is not None:
        blocks_out.extend(blocks)
    cx, cy = _coords(shapely.centroid(blocks))
    motorway = _motorway(rng, outline, centre, cx, cy, weights)
    river, canal = _waterways(rng, outline, motorway)
    edges = _adjacency(rng, blocks, cx, cy, [(motorway, 5.0), (river, 3.0), (canal, 3.0)])

    units = _hierarchy(rng, outline, centre, sub_centre, blocks, cx, cy, weights, edges)
    units = _name_units(rng, units, centre, canal)
    layers = _polygons(blocks, units)
    city_geom = layers["stadtbezirke"].geometry.union_all(grid_size=GRID)
    layers["stadtgrenze"] = gpd.GeoDataFrame(
        {"ags": [AGS], "name": [CITY_NAME], "flaeche_km2": [round(city_geom.area / 1e6, 3)]},
        geometry=[city_geom], crs=CRS,
    )
    north = _north_of(motorway)
    stadtteil = units["l2"].to_numpy()
    layers["einrichtungen"] = _facilities(rng, layers["statistische_bezirke"], blocks, weights, stadtteil, centre, north)
    layers["grundschulbezirke"] = _school_districts(layers["einrichtungen"], blocks, edges)
    layers["autobahn"] = gpd.GeoDataFrame(
        {"name": [MOTORWAY_NAME], "art": ["Autobahn"]}, geometry=[_round(motorway)], crs=CRS
    )
    layers["fluss"] = gpd.GeoDataFrame(
        {"name": [RIVER_NAME, CANAL_NAME], "art": ["Fluss", "Kanal"]},
        geometry=[_round(river), _round(canal)], crs=CRS,
    )
    order = ["stadtgrenze", "stadtbezirke", "stadtteile", "statistische_bezirke", "grundschulbezirke",
             "einrichtungen", "autobahn", "fluss"]
    return {name: layers[name] for name in order}


# --------------------------------------------------------------------------------------------- city outline, blocks
def _outline(rng: np.random.Generator) -> Polygon:
    """Organischer Umriss: Ellipse (breiter als hoch) mit zufälligen Oberwellen, Fläche 110-125 km²."""
    theta = np.linspace(0, 2 * np.pi, 360, endpoint=False)
    radius = np.ones_like(theta)
    for k in range(2, 40):
        radius += rng.normal(0, 0.18 / k**0.95) * np.cos(k * theta + rng.uniform(0, 2 * np.pi))
    radius = np.clip(radius, 0.55, None)
    aspect = rng.uniform(1.05, 1.2)
    xy = np.column_stack([aspect * radius * np.cos(theta), radius * np.sin(theta) / aspect])
    unit = Polygon(xy)
    scale = np.sqrt(rng.uniform(110e6, 125e6) / unit.area)
    # Das Zentrum liegt nördlich der Mitte des Stadtgebiets; der Süden ist weitläufiger (wie in Essen oder Bochum).
    offset = np.array([rng.uniform(-0.08, 0.08), rng.uniform(0.3, 0.38)]) * scale
    outline = Polygon(xy * scale - offset + CENTRE)
    return shapely.set_precision(outline, GRID)


def _ray_point(outline: Polygon, origin: np.ndarray, angle: float, fraction: float) -> np.ndarray:
    """Punkt auf dem Strahl vom Ursprung zum Stadtrand, ``fraction`` = Anteil des Wegs bis zum Rand."""
    far = origin + 40_000 * np.array([np.cos(angle), np.sin(angle)])
    hit = LineString([origin, far]).intersection(outline.exterior)
    distance = min(Point(origin).distance(p) for p in getattr(hit, "geoms", [hit]))
    return origin + fraction * distance * np.array([np.cos(angle), np.sin(angle)])


def _density(x: np.ndarray, y: np.ndarray, centre: np.ndarray, sub_centre: np.ndarray) -> np.ndarray:
    """Relative Siedlungsdichte: dicht im Zentrum, ein Nebenzentrum im Norden (wie Buer oder Wattenscheid)."""
    d_centre = (x - centre[0]) ** 2 + (y - centre[1]) ** 2
    d_sub = (x - sub_centre[0]) ** 2 + (y - sub_centre[1]) ** 2
    return 1.0 + 3.0 * np.exp(-d_centre / (2 * 2000.0**2)) + 1.5 * np.exp(-d_sub / (2 * 1200.0**2))


def _blocks(rng, outline, centre, sub_centre) -> tuple[np.ndarray, np.ndarray]:
    """Zerlege das Stadtgebiet in Baublöcke; kleinere Blöcke, wo die Dichte hoch ist. Gewicht = Einheiten-Bedarf."""
    minx, miny, maxx, maxy = outline.bounds
    points = np.empty((0, 2))
    while len(points) < N_BLOCKS:
        cand = rng.uniform([minx, miny], [maxx, maxy], size=(4 * N_BLOCKS, 2))
        inside = shapely.contains_xy(outline, cand[:, 0], cand[:, 1])
        rho = _density(cand[:, 0], cand[:, 1], centre, sub_centre) ** 0.6
        keep = inside & (rng.uniform(0, rho.max(), size=len(cand)) < rho)
        points = np.vstack([points, cand[keep]])
    points = points[:N_BLOCKS]
    cells = _voronoi(points, outline)
    # Ein Lloyd-Schritt macht die Blöcke gleichmäßiger, ohne das Dichtegefälle zu verlieren.
    cx, cy = _coords(shapely.centroid(cells))
    cells = _voronoi(np.column_stack([cx, cy]), outline)
    cells = shapely.set_precision(cells, GRID)
    parts = shapely.get_parts(cells)  # am Stadtrand zerschnittene Zellen werden eigene Blöcke
    parts = parts[shapely.area(parts) > 1.0]
    px, py = _coords(shapely.centroid(parts))
    weights = shapely.area(parts) * _density(px, py, centre, sub_centre) ** 0.6
    return parts, weights / weights.mean()


def _voronoi(points: np.ndarray, clip: Polygon) -> np.ndarray:
    cells = shapely.voronoi_polygons(shapely.multipoints(points), extend_to=clip.envelope.buffer(5000), ordered=True)
    return shapely.intersection(shapely.get_parts(cells), clip)


def _coords(points) -> tuple[np.ndarray, np.ndarray]:
    return shapely.get_x(points), shapely.get_y(points)


def _round(geom):
    return shapely.set_precision(geom, GRID)


# -------------------------------------------------------------------------------------------------------- lines
def _wave(rng, xs: np.ndarray, amplitudes: list[float], wavelengths: tuple[float, float]) -> np.ndarray:
    y = np.zeros_like(xs)
    for amp in amplitudes:
        length = rng.uniform(*wavelengths)
        y += amp * rng.uniform(0.5, 1.0) * np.sin(2 * np.pi * xs / length + rng.uniform(0, 2 * np.pi))
    return y


def _motorway(rng, outline, centre, cx, cy, weights) -> LineString:
    """Autobahn west-östlich, südlich des Zentrums, so dass knapp die Hälfte der Stadt nördlich liegt."""
    minx, _, maxx, _ = outline.bounds
    xs = np.linspace(minx - 1500, maxx + 1500, 40)
    shape = _wave(rng, xs, [350, 150], (9000, 16000)) + rng.uniform(-0.04, 0.04) * (xs - centre[0])
    offset_at = np.interp(cx, xs, shape)
    # Versatz so, dass ein Anteil ``target`` der (dichtegewichteten) Blöcke nördlich liegt
    target = rng.uniform(0.46, 0.50)
    rel = cy - offset_at
    order = np.argsort(rel)
    cum = np.cumsum(weights[order]) / weights.sum()
    base = rel[order][np.searchsorted(cum, 1 - target)]
    base = min(base, centre[1] - np.interp(centre[0], xs, shape) - 1000)  # Zentrum mindestens 1 km nördlich
    return LineString(np.column_stack([xs, shape + base]))


def _waterways(rng, outline, motorway: LineString) -> tuple[LineString, LineString]:
    """Fluss (mäandrierend, wie die Emscher) und Kanal (gestreckt) nördlich der Autobahn."""
    minx, _, maxx, maxy = outline.bounds
    motorway_top = motorway.bounds[3]
    base = motorway_top + rng.uniform(0.35, 0.45) * (maxy - motorway_top)
    xs = np.linspace(minx - 1200, maxx + 1200, 140)
    smooth = _wave(rng, xs, [300], (12000, 20000))
    river = base + smooth + _wave(rng, xs, [120, 60], (1200, 2500))
    xs_canal = np.linspace(minx - 1200, maxx + 1200, 30)
    canal = base + np.interp(xs_canal, xs, smooth) + rng.uniform(400, 550) + _wave(rng, xs_canal, [80], (5000, 9000))
    return LineString(np.column_stack([xs, river])), LineString(np.column_stack([xs_canal, canal]))


def _north_of(line: LineString):
    """Funktion (x, y) -> bool: liegt der Punkt nördlich der west-östlichen Linie?"""
    xs, ys = np.asarray(line.coords).T

    def north(x, y):
        return np.asarray(y) > np.interp(x, xs, ys)

    return north


# ----------------------------------------------------------------------------------------------------- hierarchy
def _adjacency(rng, blocks, cx, cy, barriers) -> list[list[tuple[float, int]]]:
    """Nachbarschaftsgraph der Blöcke (gemeinsame Kante > 1 m) mit verrauschten Distanzen als Kantengewicht."""
    tree = shapely.STRtree(blocks)
    left, right = tree.query(blocks, predicate="touches")
    keep = left < right
    left, right = left[keep], right[keep]
    shared = shapely.length(shapely.intersection(blocks[left], blocks[right]))
    keep = shared > 1.0
    left, right = left[keep], right[keep]
    order = np.lexsort((right, left))
    left, right = left[order], right[order]
    dist = np.hypot(cx[left] - cx[right], cy[left] - cy[right])
    cost = dist * np.exp(rng.normal(0, 0.3, size=len(dist)))
    segments = shapely.linestrings(np.stack([np.column_stack([cx[left], cy[left]]),
                                             np.column_stack([cx[right], cy[right]])], axis=1))
    for line, factor in barriers:
        cost = np.where(shapely.intersects(segments, line), cost * factor, cost)
    graph = [[] for _ in range(len(blocks))]
    for a, b, c in zip(left.tolist(), right.tolist(), cost.tolist()):
        graph[a].append((c, b))
        graph[b].append((c, a))
    return graph


def _grow(graph, members: np.ndarray, sources: list[int], head_start: list[float]) -> dict[int, int]:
    """Mehrquellen-Dijkstra innerhalb ``members``: Block -> Index der Quelle. Ergebnis ist zusammenhängend."""
    allowed = set(members.tolist())
    owner: dict[int, int] = {}
    heap = [(-head_start[i], node, i) for i, node in enumerate(sources)]
    heapq.heapify(heap)
    while heap:
        d, node, src = heapq.heappop(heap)
        if node in owner:
            continue
        owner[node] = src
        for cost, nxt in graph[node]:
            if nxt in allowed and nxt not in owner:
                heapq.heappush(heap, (d + cost, nxt, src))
    assert len(owner) == len(allowed), "Elterneinheit ist nicht zusammenhängend"
    return owner


def _kmeans_seeds(rng, members, cx, cy, weights, k: int) -> list[int]:
    """Gewichtetes k-means auf Blockschwerpunkten; Keime = nächstgelegene Blöcke der Clusterzentren."""
    pts = np.column_stack([cx[members], cy[members]])
    w = weights[members]
    centres = [pts[rng.choice(len(pts), p=w / w.sum())]]
    for _ in range(1, k):  # k-means++-Start
        d2 = np.min([((pts - c) ** 2).sum(1) for c in centres], axis=0) * w
        centres.append(pts[rng.choice(len(pts), p=d2 / d2.sum())])
    centres = np.array(centres)
    for _ in range(20):
        label = np.argmin(((pts[:, None, :] - centres[None]) ** 2).sum(2), axis=1)
        for j in range(k):
            if np.any(label == j):
                centres[j] = np.average(pts[label == j], axis=0, weights=w[label == j])
    seeds: list[int] = []
    for c in centres:
        d2 = ((pts - c) ** 2).sum(1)
        d2[np.isin(members, seeds)] = np.inf
        seeds.append(int(members[np.argmin(d2)]))
    return seeds


def _allocate(total: int, weights: np.ndarray, minimum: int) -> np.ndarray:
    """Verteile ``total`` Einheiten proportional zu ``weights`` (größte Reste), mindestens ``minimum`` je Teil."""
    counts = np.full(len(weights), minimum)
    share = weights / weights.sum() * total
    counts = np.maximum(counts, np.floor(share).astype(int))
    while counts.sum() < total:
        counts[np.argmax(share - counts)] += 1
    while counts.sum() > total:
        candidates = np.where(counts > minimum)[0]
        counts[candidates[np.argmin((share - counts)[candidates])]] -= 1
    return counts


def _hierarchy(rng, outline, centre, sub_centre, blocks, cx, cy, weights, graph) -> pd.DataFrame:
    """Ordne jeden Block einem Stadtbezirk, Stadtteil und statistischen Bezirk zu (Indizes, noch ohne Namen)."""
    all_blocks = np.arange(len(blocks))

    def nearest(p, members):
        return int(members[np.argmin((cx[members] - p[0]) ** 2 + (cy[members] - p[1]) ** 2)])

    # Stadtbezirke: Mitte im Zentrum, die übrigen im Ring; der nördlichste trägt das Nebenzentrum.
    n_outer = int(rng.integers(4, 7))
    sub_angle = np.arctan2(sub_centre[1] - centre[1], sub_centre[0] - centre[0])
    angles = sub_angle + 2 * np.pi * np.arange(n_outer) / n_outer + rng.normal(0, 0.12, n_outer)
    angles[0] = sub_angle
    points = [centre] + [sub_centre] + [_ray_point(outline, centre, a, 0.6) for a in angles[1:]]
    sources = [nearest(p, all_blocks) for p in points]
    # Vorsprünge der Keime so einstellen, dass alle Stadtbezirke ähnlich viel "Gewicht" (grob: Einwohner) tragen
    target = np.full(n_outer + 1, weights.sum() / (n_outer + 1))
    head_start = np.zeros(n_outer + 1)
    for _ in range(12):
        owner = _grow(graph, all_blocks, sources, head_start.tolist())
        level1 = np.array([owner[b] for b in all_blocks])
        load = np.bincount(level1, weights=weights, minlength=n_outer + 1)
        head_start += 500.0 * np.log(target / load)
        head_start -= head_start.min()
    # Nummerierung: 01 = Mitte, dann im Uhrzeigersinn ab Norden
    outer_angles = np.array([np.arctan2(p[1] - centre[1], p[0] - centre[0]) for p in points[1:]])
    clockwise = np.argsort((np.pi / 2 - outer_angles) % (2 * np.pi))
    relabel = np.empty(n_outer + 1, dtype=int)
    relabel[0] = 0
    relabel[1 + clockwise] = np.arange(1, n_outer + 1)
    level1 = relabel[level1]
    sub_centre_district = int(relabel[1])

    level2 = _split(rng, graph, level1, cx, cy, weights, int(rng.integers(34, 42)), 4, centre)
    level3 = _split(rng, graph, level2, cx, cy, weights, int(rng.integers(150, 181)), 2, centre)
    frame = pd.DataFrame({"l1": level1, "l2": level2, "l3": level3, "x": cx, "y": cy, "w": weights,
                          "area": shapely.area(blocks)})
    frame.attrs["sub_centre_district"] = sub_centre_district
    return frame


def _split(rng, graph, parent, cx, cy, weights, total, minimum, centre) -> np.ndarray:
    """Teile jede Elterneinheit in Kinder; globale Kindnummern, innerhalb der Eltern von innen nach außen."""
    parents = np.unique(parent)
    counts = _allocate(total, np.array([weights[parent == p].sum() for p in parents]), minimum)
    child = np.empty(len(parent), dtype=int)
    next_id = 0
    for p, k in zip(parents, counts):
        members = np.where(parent == p)[0]
        seeds = _kmeans_seeds(rng, members, cx, cy, weights, int(k))
        # innen (nahe der Stadtmitte) zuerst, damit Nummern lesbar sind
        seeds.sort(key=lambda s: (cx[s] - centre[0]) ** 2 + (cy[s] - centre[1]) ** 2)
        owner = _grow(graph, members, seeds, [0.0] * len(seeds))
        for b in members:
            child[b] = next_id + owner[b]
        next_id += len(seeds)
    return child


# ---------------------------------------------------------------------------------------------------------- names
def _name_units(rng, units: pd.DataFrame, centre, canal: LineString) -> pd.DataFrame:
    """Vergib Schlüssel und deutsche Namen auf allen drei Ebenen."""
    stems = list(rng.permutation(NAME_STEMS))
    suffixes = list(NAME_SUFFIXES)

    def place_name() -> str:
        stem = stems.pop()
        return stem + suffixes[int(rng.integers(len(suffixes)))]

    themed = list(rng.permutation(THEMED_NAMES))
    centre_names = list(CENTRE_NAMES)
    sub_centre_district = units.attrs["sub_centre_district"]

    def centroid(mask):
        w = units.loc[mask, "w"]
        return np.array([np.average(units.loc[mask, "x"], weights=w), np.average(units.loc[mask, "y"], weights=w)])

    l1_names, l2_names, l3_names = {}, {}, {}
    l1_ids, l2_ids, l3_ids = {}, {}, {}
    used_directions: set[str] = set()
    for d in sorted(units["l1"].unique()):
        l1_ids[d] = f"{d + 1:02d}"
        mask1 = units["l1"] == d
        teile = list(dict.fromkeys(units.loc[mask1, "l2"]))
        for i, t in enumerate(teile):
            l2_ids[t] = f"{l1_ids[d]}{i + 1:02d}"
            if d == 0 and i == 0:
                l2_names[t] = "Altstadt"
            else:
                l2_names[t] = place_name()
        if d == 0:
            l1_names[d] = "Mitte"
        elif d == sub_centre_district:
            # Das Nebenzentrum war früher eine eigene Stadt: Stadtbezirk heißt nach seinem Kern-Stadtteil.
            core = min(teile, key=lambda t: _dist2(centroid(units["l2"] == t), centroid(mask1)))
            l1_names[d] = l2_names[core]
        else:
            c = centroid(mask1)
            angle = np.degrees(np.arctan2(c[1] - centre[1], c[0] - centre[0])) % 360
            direction = COMPASS[int(((angle + 22.5) % 360) // 45)]
            if direction in used_directions:
                direction = l2_names[teile[0]]
            used_directions.add(direction)
            l1_names[d] = direction

    canal_zone = canal.buffer(400)
    for t in sorted(units["l2"].unique()):
        mask2 = units["l2"] == t
        bezirke = list(dict.fromkeys(units.loc[mask2, "l3"]))
        c2 = centroid(mask2)
        radius = np.sqrt(units.loc[mask2, "area"].sum() / np.pi)
        used: set[str] = set()
        for i, b in enumerate(bezirke):
            l3_ids[b] = f"{l2_ids[t]}{i + 1:02d}"
            c3 = centroid(units["l3"] == b)
            if l2_names[t] == "Altstadt":
                l3_names[b] = centre_names.pop(0) if centre_names else f"Altstadt {i + 1}"
                continue
            if HARBOUR_NAME not in l3_names.values() and canal_zone.contains(Point(c3)) and rng.random() < 0.5:
                l3_names[b] = HARBOUR_NAME
                continue
            angle = np.degrees(np.arctan2(c3[1] - c2[1], c3[0] - c2[0])) % 360
            direction = COMPASS[int(((angle + 22.5) % 360) // 45)]
            if np.sqrt(_dist2(c3, c2)) < 0.3 * radius:
                direction = "Mitte"
            if len(bezirke) == 1:
                l3_names[b] = l2_names[t]
            elif direction not in used and (len(bezirke) <= 3 or not themed or rng.random() < 0.7):
                used.add(direction)
                l3_names[b] = f"{l2_names[t]}-{direction}"
            elif themed:
                l3_names[b] = themed.pop()
            else:
                l3_names[b] = f"{l2_names[t]} {i + 1}"
    units = units.copy()
    units["stadtbezirk_id"] = units["l1"].map(l1_ids)
    units["stadtteil_id"] = units["l2"].map(l2_ids)
    units["bezirk_id"] = units["l3"].map(l3_ids)
    units["stadtbezirk_name"] = units["l1"].map(l1_names)
    units["stadtteil_name"] = units["l2"].map(l2_names)
    units["bezirk_name"] = units["l3"].map(l3_names)
    return units


def _dist2(a, b) -> float:
    return float(((np.asarray(a) - np.asarray(b)) ** 2).sum())


def _polygons(blocks, units: pd.DataFrame) -> dict[str, gpd.GeoDataFrame]:
    """Vereinige die Blöcke zu statistischen Bezirken, diese zu Stadtteilen, diese zu Stadtbezirken."""
    rows = units.drop_duplicates("bezirk_id").sort_values("bezirk_id")
    geoms = [shapely.union_all(blocks[(units["bezirk_id"] == b).to_numpy()], grid_size=GRID) for b in rows["bezirk_id"]]
    bezirke = gpd.GeoDataFrame(
        {"bezirk_id": rows["bezirk_id"].to_numpy(), "stadtteil_id": rows["stadtteil_id"].to_numpy(),
         "stadtbezirk_id": rows["stadtbezirk_id"].to_numpy(), "name": rows["bezirk_name"].to_numpy()},
        geometry=geoms, crs=CRS,
    )
    teile = _dissolve(bezirke, "stadtteil_id", ["stadtbezirk_id"], units.set_index("stadtteil_id")["stadtteil_name"])
    stadtbezirke = _dissolve(teile, "stadtbezirk_id", [], units.set_index("stadtbezirk_id")["stadtbezirk_name"])
    layers = {"statistische_bezirke": bezirke, "stadtteile": teile, "stadtbezirke": stadtbezirke}
    for gdf in layers.values():
        gdf["flaeche_km2"] = (gdf.geometry.area / 1e6).round(3)
    return {name: gdf[[c for c in gdf.columns if c != "geometry"] + ["geometry"]] for name, gdf in layers.items()}


def _dissolve(children: gpd.GeoDataFrame, key: str, keep: list[str], names: pd.Series) -> gpd.GeoDataFrame:
    names = names[~names.index.duplicated()]
    ids = sorted(children[key].unique())
    geoms = [shapely.union_all(children.geometry[children[key] == i].to_numpy(), grid_size=GRID) for i in ids]
    first = children.drop_duplicates(key).set_index(key)
    data = {key: ids, **{c: [first.loc[i, c] for i in ids] for c in keep}, "name": [names[i] for i in ids]}
    return gpd.GeoDataFrame(data, geometry=geoms, crs=CRS)


# ---------------------------------------------------------------------------------------------------- facilities
KITA_CARRIERS = ["Städtische Kita", "Städtische Kita", "Ev. Kita", "Kath. Kita", "AWO-Kita", "DRK-Kita", "Kita",
                 "Elterninitiative"]
KITA_MOTIFS = ["Sonnenblume", "Regenbogen", "Pusteblume", "Kunterbunt", "Spatzennest", "Löwenzahn", "Arche Noah",
               "St. Marien", "St. Josef", "St. Barbara", "Zwergenland", "Villa Kunterbunt", "Wirbelwind", "Sternschnuppe",
               "Glühwürmchen", "Rappelkiste", "Schatzkiste", "Marienkäfer", "Abenteuerland", "Kleine Strolche",
               "Mäuseburg", "Purzelbaum", "Kinderland", "Gänseblümchen", "Traumland", "Farbklecks", "Wichtelhaus",
               "Am Park", "Am Wasserturm", "Sonnenschein", "Bullerbü", "Haldenzwerge", "Kleine Kumpel", "Glückauf"]
SCHOOL_NAMES = ["Grundschule am Park", "Erich-Kästner-Schule", "Astrid-Lindgren-Schule", "Brüder-Grimm-Schule",
                "Pestalozzischule", "Regenbogenschule", "Overbergschule", "Diesterwegschule", "Wilhelm-Busch-Schule",
                "Janusz-Korczak-Schule", "Goetheschule", "Schillerschule", "Grundschule an der Halde",
                "Grundschule am Kanal", "Kath. Grundschule St. Barbara", "Kath. Grundschule St. Ludgerus",
                "Ev. Grundschule Lutherschule", "Friedrich-Fröbel-Schule", "Lindenschule", "Eichendorffschule",
                "Grundschule Sonnenhügel", "Kunterbunt-Grundschule", "Waldschule", "Mosaikschule", "Heideschule",
                "Paul-Gerhardt-Schule", "Albert-Schweitzer-Schule", "Anne-Frank-Schule", "Gustav-Heinemann-Schule",
                "Grundschule an der Zeche"]
CARE_NAMES = ["AWO Seniorenzentrum", "Caritas-Altenheim St.", "Ev. Altenzentrum", "DRK Seniorenheim",
              "Seniorenresidenz", "Haus"]
CARE_MOTIFS = ["Abendsonne", "Lindenhof", "Am Stadtgarten", "Elisabeth", "Anna", "Barbara", "Am Mühlenbach",
               "Rosenhof", "Sonnenhof", "Eichenhain", "Bergmannsruh", "Am Park", "Vinzenz", "Martin", "Kastanienhof",
               "Am Wasserturm", "Heidegarten", "Ludgerus", "Birkenhof", "Am Schlosspark"]
MEETING_NAMES = ["Seniorenbegegnungsstätte", "AWO-Begegnungsstätte", "Stadtteilzentrum", "Nachbarschaftstreff",
                 "Begegnungszentrum"]
SURNAMES = ["Schmidt", "Kowalski", "Yilmaz", "Nowak", "Becker", "Schulte", "Wagner", "Kaya", "Hoffmann", "Wieczorek",
            "Brinkmann", "Demir", "Krüger", "Lehmann", "Schäfer", "Özdemir", "Meier", "Wojcik", "Hartmann",
            "Kamps", "Sommer", "Hüsken", "Brauer", "Aydin", "Kuhlmann", "Terhorst", "Nikolic", "Böhm", "Lange",
            "Haverkamp", "Pieper", "Sahin", "Kaminski", "Zimmermann", "Vogt", "Ahmadi", "Hasenkamp", "Stein",
            "Jankowski", "Wessel"]


def _facilities(rng, bezirke: gpd.GeoDataFrame, blocks, weights, stadtteil, centre, north) -> gpd.GeoDataFrame:
    """Einrichtungen als Punkte. Im Norden weniger Kita-Plätze je Kind und weniger Arztpraxen."""
    px, py = _coords(shapely.centroid(blocks))
    is_north = north(px, py)
    rows: list[dict] = []

    def sites(n: int, w: np.ndarray) -> np.ndarray:
        """``n`` Standorte: Anzahl je Stadtteil proportional zum Gewicht (wenig Zufall), Block darin zufällig."""
        per_area = _allocate(n, np.bincount(stadtteil, weights=w), 0)
        chosen = [rng.choice(np.where(stadtteil == t)[0], size=k, p=w[stadtteil == t] / w[stadtteil == t].sum())
                  for t, k in enumerate(per_area) if k]
        return np.concatenate(chosen)

    # Kitas
    n_kita = int(rng.integers(155, 176))
    # Im Norden leben mehr Kinder je Fläche; dort gibt es etwas mehr, aber kleinere Kitas mit wenigen U3-Plätzen.
    kita_w = weights * np.where(is_north, 1.3, 1.0)
    motifs = list(rng.permutation(KITA_MOTIFS))
    for b in sites(n_kita, kita_w):
        new = rng.random() < (0.15 if is_north[b] else 0.25)
        carrier = KITA_CARRIERS[int(rng.integers(len(KITA_CARRIERS)))]
        rows.append({
            "art": "Kita", "block": b, "name_stem": carrier, "motif": motifs.pop() if motifs else None,
            "plaetze_u3": int(rng.integers(8, 17) if is_north[b] else rng.integers(14, 26)),
            "plaetze_ue3": int(5 * rng.integers(8, 14)),
            "eroeffnung_jahr": int(rng.integers(2016, 2025) if new else rng.integers(1960, 2015)),
        })
    # Familienzentren: zertifizierte Kitas, bevorzugt im Norden
    fz_w = np.array([2.0 if is_north[r["block"]] else 1.0 for r in rows])
    for i in rng.choice(n_kita, size=int(rng.integers(22, 29)), replace=False, p=fz_w / fz_w.sum()):
        certified = max(int(rng.integers(2007, 2021)), rows[i]["eroeffnung_jahr"])  # nicht vor der Kita
        rows.append({"art": "Familienzentrum", "block": rows[i]["block"], "at_kita": int(i),
                     "eroeffnung_jahr": certified})
    # Grundschulen: gleichmäßig verteilt (gewichtetes k-means), damit Schulbezirke sinnvoll sind
    n_school = int(rng.integers(42, 49))
    all_blocks = np.arange(len(blocks))
    for b in _kmeans_seeds(rng, all_blocks, px, py, weights, n_school):
        rows.append({"art": "Grundschule", "block": b, "plaetze": int(100 * rng.integers(2, 4)),
                     "eroeffnung_jahr": int(rng.integers(1890, 1976))})
    # Pflegeheime: mehr im (älteren) Süden
    for b in sites(int(rng.integers(26, 34)), weights * np.where(is_north, 0.7, 1.4)):
        rows.append({"art": "Pflegeheim", "block": b, "plaetze": int(10 * rng.integers(6, 13)),
                     "eroeffnung_jahr": int(rng.integers(1965, 2013))})
    for b in sites(int(rng.integers(21, 29)), weights):
        rows.append({"art": "Begegnungsstaette", "block": b, "eroeffnung_jahr": int(rng.integers(1968, 2012))})
    d_centre = np.hypot(px - centre[0], py - centre[1])
    doctor_w = weights ** 1.5 * np.where(is_north, 0.65, 1.2) * np.exp(-d_centre / 6000)
    for b in sites(int(rng.integers(140, 161)), doctor_w):
        rows.append({"art": "Hausarztpraxis", "block": b, "eroeffnung_jahr": int(rng.integers(1978, 2024))})
    # Genau eine Gemeinschaftsunterkunft, eröffnet in der Fluchtbewegung 2015/16: in einem kleinen statistischen
    # Bezirk im Norden am Stadtrand (wenige Einwohner, daher springen dort die Quoten; Vorbild Essen-Schuir)
    centroids = bezirke.geometry.centroid
    far = np.hypot(centroids.x - centre[0], centroids.y - centre[1])
    outer_north = np.where(north(centroids.x, centroids.y) & (far > np.quantile(far, 0.6)))[0]
    smallest = outer_north[np.argsort(bezirke.geometry.area.to_numpy()[outer_north])[:3]]
    target = bezirke.geometry.iloc[int(rng.choice(smallest))]
    inside = np.where(shapely.covered_by(blocks, target))[0]
    rows.append({"art": "Gemeinschaftsunterkunft", "block": int(rng.choice(inside)),
                 "plaetze": int(10 * rng.integers(30, 41)), "eroeffnung_jahr": 2015})

    return _facility_frame(rng, rows, blocks, bezirke)


ART_CODES = {"Kita": "KT", "Familienzentrum": "FZ", "Grundschule": "GS", "Pflegeheim": "PH",
             "Begegnungsstaette": "BS", "Hausarztpraxis": "HA", "Gemeinschaftsunterkunft": "GU"}


def _facility_frame(rng, rows, blocks, bezirke: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    counters = {art: 0 for art in ART_CODES}
    points, records = [], []
    schools = list(rng.permutation(SCHOOL_NAMES))
    care = list(rng.permutation(CARE_MOTIFS))
    used_names: set[str] = set()
    kita_points = []
    bezirk_names = dict(zip(bezirke["bezirk_id"], bezirke["name"]))
    tree_index = shapely.STRtree(bezirke.geometry.to_numpy())

    def point_in(block: int) -> Point:
        inner = shapely.buffer(blocks[block], -15.0)
        if inner.is_empty:
            inner = blocks[block]
        minx, miny, maxx, maxy = inner.bounds
        while True:
            p = _round(Point(rng.uniform(minx, maxx), rng.uniform(miny, maxy)))
            if inner.contains(p):
                return p

    def unique(name: str, area: str) -> str:
        candidate, n = name, 1
        while candidate in used_names:
            candidate = f"{name} ({area})" if n == 1 else f"{name} ({area} {n})"
            n += 1
        used_names.add(candidate)
        return candidate

    for row in rows:
        art = row["art"]
        counters[art] += 1
        point = kita_points[row["at_kita"]] if art == "Familienzentrum" else point_in(row["block"])
        bezirk_id = bezirke["bezirk_id"].iloc[int(tree_index.query(point, predicate="within")[0])]
        area = bezirk_names[bezirk_id]
        if art == "Kita":
            kita_points.append(point)
            name = f"{row['name_stem']} {row['motif'] or area}"
        elif art == "Familienzentrum":
            name = f"Familienzentrum {records[row['at_kita']]['name']}"
        elif art == "Grundschule":
            name = schools.pop() if schools else f"Grundschule {area}"
        elif art == "Pflegeheim":
            carrier = CARE_NAMES[int(rng.integers(len(CARE_NAMES)))]
            motif = care.pop() if care else area
            name = f"{carrier} {motif}".replace("St. Am", "Am")
        elif art == "Begegnungsstaette":
            name = f"{MEETING_NAMES[int(rng.integers(len(MEETING_NAMES)))]} {area}"
        elif art == "Hausarztpraxis":
            a, b = rng.choice(len(SURNAMES), size=2, replace=False)
            name = (f"Gemeinschaftspraxis Dr. {SURNAMES[a]} & {SURNAMES[b]}" if rng.random() < 0.3
                    else f"Hausarztpraxis Dr. {SURNAMES[a]}")
        else:
            name = f"Gemeinschaftsunterkunft {area}"
        records.append({
            "einrichtung_id": f"{ART_CODES[art]}{counters[art]:03d}", "art": art, "name": unique(name, area),
            "bezirk_id": bezirk_id,
            "plaetze_u3": row.get("plaetze_u3"), "plaetze_ue3": row.get("plaetze_ue3"), "plaetze": row.get("plaetze"),
            "eroeffnung_jahr": row["eroeffnung_jahr"],
        })
        points.append(point)
    frame = gpd.GeoDataFrame(records, geometry=points, crs=CRS)
    for col in ["plaetze_u3", "plaetze_ue3", "plaetze", "eroeffnung_jahr"]:
        frame[col] = frame[col].astype("Int64")
    return frame


def _school_districts(einrichtungen: gpd.GeoDataFrame, blocks, graph) -> gpd.GeoDataFrame:
    """Grundschulbezirke: Blöcke gehen an die Schule mit dem kürzesten Weg (Autobahn und Wasser als Barrieren).

    Die Grenzen folgen Blockgrenzen, aber nicht den statistischen Bezirken: eine zweite, nicht verschachtelte Gliederung.
    """
    schools = einrichtungen[einrichtungen["art"] == "Grundschule"].reset_index(drop=True)
    tree = shapely.STRtree(blocks)
    sources = [int(tree.query(point, predicate="within")[0]) for point in schools.geometry]
    owner = _grow(graph, np.arange(len(blocks)), sources, [0.0] * len(sources))
    label = np.array([owner[b] for b in range(len(blocks))])
    cells = [shapely.union_all(blocks[label == i], grid_size=GRID) for i in range(len(schools))]
    frame = gpd.GeoDataFrame(
        {"grundschulbezirk_id": [f"GSB{i + 1:02d}" for i in range(len(schools))],
         "einrichtung_id": schools["einrichtung_id"], "name": "Schulbezirk " + schools["name"]},
        geometry=cells, crs=CRS,
    )
    frame["flaeche_km2"] = (frame.geometry.area / 1e6).round(3)
    return frame
