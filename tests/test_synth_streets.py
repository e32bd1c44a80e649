"""Straßennetz: zusammenhängend, passt zu Stadt und Einrichtungen, Autobahn und Wasser nur an Brücken querbar."""

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import dijkstra

from sozialraum import data
from sozialraum.synth import streets

SNAP_MAX_M = 150  # jede Einrichtung liegt höchstens so weit von der nächsten Straße entfernt


@pytest.fixture(scope="module")
def netz():
    return data.load("strassen"), data.load("strassenknoten")


@pytest.fixture(scope="module")
def graph(netz):
    kanten, _ = netz
    g = nx.Graph()
    g.add_weighted_edges_from(zip(kanten["von_knoten_id"], kanten["nach_knoten_id"], kanten["laenge_m"]))
    return g


@pytest.fixture(scope="module")
def barrieren():
    lines = pd.concat([data.load("autobahn"), data.load("fluss")])
    return dict(zip(lines["name"], lines.geometry))


@pytest.fixture(scope="module")
def einrichtungen():
    return pd.concat([data.load("einrichtungen"), data.load("pflegedienste")], ignore_index=True)


def snap(kanten, points):
    """Nächste Kante je Punkt: (Zeile in kanten, Abstand, Lage auf der Kante in m ab von_knoten)."""
    tree = shapely.STRtree(kanten.geometry.to_numpy())
    (_, idx), dist = tree.query_nearest(np.asarray(points), return_distance=True, all_matches=False)
    along = shapely.line_locate_point(kanten.geometry.to_numpy()[idx], np.asarray(points))
    return idx, dist, along


def network_distances(kanten, pairs):
    """Fußwege zwischen den Punktpaaren: zur nächsten Straße, über das Netz, von der Straße zum Ziel (Meter)."""
    nodes = pd.Index(pd.unique(pd.concat([kanten["von_knoten_id"], kanten["nach_knoten_id"]])))
    u, v = nodes.get_indexer(kanten["von_knoten_id"]), nodes.get_indexer(kanten["nach_knoten_id"])
    w = kanten["laenge_m"].to_numpy()
    matrix = coo_matrix((np.r_[w, w], (np.r_[u, v], np.r_[v, u])), shape=(len(nodes),) * 2).tocsr()
    p, q = zip(*pairs)
    (ip, dp, ap), (iq, dq, aq) = snap(kanten, p), snap(kanten, q)
    reach = dijkstra(matrix, indices=np.r_[u[ip], v[ip]])  # von beiden Enden der Startkante
    n = len(pairs)
    out = []
    for k in range(n):
        if ip[k] == iq[k]:
            out.append(dp[k] + dq[k] + abs(ap[k] - aq[k]))
            continue
        starts = [(k, ap[k]), (n + k, w[ip[k]] - ap[k])]
        ends = [(u[iq[k]], aq[k]), (v[iq[k]], w[iq[k]] - aq[k])]
        out.append(dp[k] + dq[k] + min(a + reach[row, node] + b for row, a in starts for node, b in ends))
    return np.array(out)


def test_layers_keys_classes_and_lengths(netz):
    kanten, knoten = netz
    for gdf in netz:
        assert isinstance(gdf, gpd.GeoDataFrame) and gdf.crs.to_epsg() == 25832
    assert kanten["strasse_id"].is_unique and kanten["strasse_id"].str.fullmatch(r"S\d{5}").all()
    assert knoten["knoten_id"].is_unique and knoten["knoten_id"].str.fullmatch(r"K\d{5}").all()
    assert set(kanten["klasse"]) == set(streets.KLASSEN)
    assert (kanten.geom_type == "LineString").all() and kanten.is_valid.all()
    np.testing.assert_allclose(kanten["laenge_m"], kanten.length, atol=0.06)
    assert 600 < kanten["laenge_m"].sum() / 1000 < 2000  # Gelsenkirchen (105 km²): gut 900 km Straßen
    zu_fuss = kanten["klasse"] == "Fußweg"
    assert kanten.loc[~zu_fuss, "name"].notna().all() and kanten.loc[zu_fuss & kanten["bauwerk"].isna(), "name"].isna().all()
    assert kanten["name"].dropna().str.contains(r"(?:straße|weg|allee|ring|pfad|gasse|Straße)$|^Am ").all()


def test_nodes_are_the_ends_of_the_edges(netz):
    kanten, knoten = netz
    lage = knoten.set_index("knoten_id").geometry
    coords = shapely.get_coordinates(kanten.geometry.to_numpy(), return_index=True)
    first = pd.DataFrame(coords[0]).groupby(coords[1]).first().to_numpy()
    last = pd.DataFrame(coords[0]).groupby(coords[1]).last().to_numpy()
    start = np.column_stack([lage.loc[kanten["von_knoten_id"]].x, lage.loc[kanten["von_knoten_id"]].y])
    end = np.column_stack([lage.loc[kanten["nach_knoten_id"]].x, lage.loc[kanten["nach_knoten_id"]].y])
    np.testing.assert_allclose(first, start, atol=0.01)
    np.testing.assert_allclose(last, end, atol=0.01)
    assert set(kanten["von_knoten_id"]) | set(kanten["nach_knoten_id"]) == set(knoten["knoten_id"])


def test_network_is_connected_and_inside_the_city(netz, graph):
    kanten, _ = netz
    assert nx.is_connected(graph)
    stadt = data.load("stadtgrenze").geometry.iloc[0]
    assert kanten.within(stadt.buffer(1.0)).all()


def test_barriers_are_crossed_only_at_bridges_and_underpasses(netz, barrieren):
    kanten, _ = netz
    for name, line in barrieren.items():
        crossing = kanten[kanten.intersects(line)]
        assert crossing["bauwerk"].notna().all(), f"{name}: Straße quert ohne Brücke oder Unterführung"
        assert (crossing["quert"] == name).all() and 3 <= len(crossing) <= 12, (name, len(crossing))
        assert (kanten["quert"] == name).sum() == len(crossing)
    assert set(kanten["bauwerk"].dropna()) <= {"Brücke", "Unterführung", "Fußgängerbrücke"}


def test_every_facility_snaps_to_the_network_on_its_own_side(netz, einrichtungen, barrieren):
    kanten, _ = netz
    idx, dist, _ = snap(kanten, einrichtungen.geometry)
    assert dist.max() < SNAP_MAX_M, einrichtungen["einrichtung_id"].iloc[int(np.argmax(dist))]
    lines = shapely.shortest_line(einrichtungen.geometry.to_numpy(), kanten.geometry.to_numpy()[idx])
    for name, barrier in barrieren.items():
        assert not shapely.intersects(lines, barrier).any(), f"Ein Zugang zur Straße quert {name}."


def test_streets_follow_the_stadtteil_boundaries(netz):
    kanten, _ = netz
    stadt = data.load("stadtgrenze").geometry.iloc[0]
    inner = data.load("stadtteile").boundary.union_all().difference(stadt.boundary.buffer(1))
    main = kanten[kanten["klasse"] == "Hauptverkehrsstraße"].buffer(1.0).union_all()
    assert inner.intersection(main).length / inner.length > 0.8


def detours(kanten, pairs):
    return network_distances(kanten, pairs) / np.array([p.distance(q) for p, q in pairs])


def test_walking_across_the_motorway_is_a_clear_detour(netz, einrichtungen, barrieren):
    """Paare von Einrichtungen beiderseits der A 47, Luftlinie höchstens 800 m: Umweg deutlich; Paare auf derselben
    Seite: kaum Umweg."""
    kanten, _ = netz
    autobahn = barrieren["A 47"]
    xs, ys = np.asarray(autobahn.coords).T
    pts = einrichtungen.drop_duplicates("geometry").geometry
    north = pts.y.to_numpy() > np.interp(pts.x, xs, ys)
    near = pts.distance(autobahn).to_numpy() < 400
    water = shapely.union_all(list(b for n, b in barrieren.items() if n != "A 47"))
    across, same = [], []
    for i in np.flatnonzero(near & north):
        d = pts.distance(pts.iloc[i]).to_numpy()
        south = np.flatnonzero(~north & near & (d < 800))
        if len(south):
            across.append((pts.iloc[i], pts.iloc[south[np.argmin(d[south])]]))
        other = np.flatnonzero(north & (d > 200) & (d < 800))
        other = [j for j in other if not shapely.LineString([pts.iloc[i], pts.iloc[j]]).intersects(water)]
        if other:
            same.append((pts.iloc[i], pts.iloc[other[0]]))
    assert len(across) >= 10 and len(same) >= 10
    factor_across, factor_same = detours(kanten, across), detours(kanten, same)
    assert np.median(factor_across) > 2.0, np.round(factor_across, 2)
    assert (factor_across > 1.5).mean() > 0.7
    assert np.median(factor_same) < 1.6, np.round(factor_same, 2)
