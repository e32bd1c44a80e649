"""Kalibrierung der synthetischen Bevölkerung: Kennzahlen aus datasets/ und Laufzeit des Bevölkerungsteils.

    .venv/bin/python benchmarks/synth_population.py [--seed 2024]

Liest die Tabellen mit ``sozialraum.data`` (also datasets/ oder den Ordner aus ``SOZIALRAUM_DATEN``) und gibt die
Kennzahlen aus, an denen die Daten kalibriert sind (DOMAIN.md, Abschnitte 3-4). Danach wird der Bevölkerungsteil
(``population.build``) für ``--seed`` einmal neu erzeugt und die Zeit gemessen.
"""
import argparse
import time

import numpy as np
import pandas as pd
from esda import Moran
from libpysal.weights import Queen

from sozialraum import data
from sozialraum.synth import geography, population


def kennzahlen():
    bezirke = data.load("statistische_bezirke").sort_values("bezirk_id").reset_index(drop=True)
    alter = data.load("bevoelkerung_alter").query("jahr == 2024")
    tab = {n: data.load(n).query("jahr == 2024").set_index("bezirk_id")
           for n in ["bevoelkerung", "sozialleistungen", "arbeitslose", "kita", "haushalte"]}
    b, s, al, k, h = (tab[n] for n in ["bevoelkerung", "sozialleistungen", "arbeitslose", "kita", "haushalte"])

    def pop(lo, hi):
        return alter[alter["alter"].between(lo, hi - 1)].groupby("bezirk_id")["einwohner"].sum()

    line = data.load("autobahn").geometry.union_all()
    nord = pd.Series([p.y > line.interpolate(line.project(p)).y for p in bezirke.geometry.centroid],
                     index=bezirke["bezirk_id"])

    def quote(zaehler, nenner, maske=slice(None)):
        return zaehler[maske].sum() / nenner[maske].sum()

    q = s["sgb2_leistungsberechtigte"] / pop(0, 65)
    w = Queen.from_dataframe(bezirke, use_index=False, silence_warnings=True)
    w.transform = "r"
    np.random.seed(0)
    moran = Moran(q.reindex(bezirke["bezirk_id"]).to_numpy(), w, permutations=999)
    sgb2, u65 = s["sgb2_leistungsberechtigte"], pop(0, 65)
    anteil65 = pop(65, 200) / pop(0, 200)
    auslaender = b["nichtdeutsch"] / b["einwohner"]
    print(f"Einwohner 31.12.2024: {b['einwohner'].sum():,}".replace(",", "."), f"in {len(b)} statistischen Bezirken")
    print(f"SGB-II-Quote Stadt {quote(sgb2, u65):.1%}; unter 15: {quote(s['sgb2_unter_15'], pop(0, 15)):.1%}; "
          f"unter 18: {quote(s['sgb2_unter_18'], pop(0, 18)):.1%}")
    print(f"SGB-II-Quote Bezirke: min {q.min():.1%}, Median {q.median():.1%}, max {q.max():.1%}, "
          f"Schiefe {q.skew():.2f}; unter 15 max {(s['sgb2_unter_15'] / pop(0, 15)).max():.1%}")
    print(f"Nord/Süd-Verhältnis der SGB-II-Quote: {quote(sgb2, u65, nord) / quote(sgb2, u65, ~nord):.2f}")
    print(f"Moran's I der SGB-II-Quote (Queen): {moran.I:.3f}, p_sim {moran.p_sim:.3f}")
    print(f"Anteil 65+: Stadt {quote(pop(65, 200), pop(0, 200)):.1%}, Norden {quote(pop(65, 200), pop(0, 200), nord):.1%}, "
          f"Süden {quote(pop(65, 200), pop(0, 200), ~nord):.1%}, Bezirke {anteil65.min():.1%}-{anteil65.max():.1%}; "
          f"80+ an 65+ {quote(pop(80, 200), pop(65, 200)):.1%}")
    print(f"Arbeitslosenrate (15 bis unter 65): {quote(al['arbeitslose'], pop(15, 65)):.1%}; "
          f"Langzeitanteil {quote(al['langzeitarbeitslose'], al['arbeitslose']):.1%}")
    print(f"Ausländeranteil: Stadt {quote(b['nichtdeutsch'], b['einwohner']):.1%}, Bezirke "
          f"{auslaender.min():.1%}-{auslaender.max():.1%}; Migrationshintergrund "
          f"{quote(b['migrationshintergrund'], b['einwohner']):.1%}")
    print(f"U3-Betreuungsquote: Stadt {quote(k['betreute_kinder_unter_3'], k['kinder_unter_3']):.1%}, Norden "
          f"{quote(k['betreute_kinder_unter_3'], k['kinder_unter_3'], nord):.1%}, Süden "
          f"{quote(k['betreute_kinder_unter_3'], k['kinder_unter_3'], ~nord):.1%}; Ü3 "
          f"{quote(k['betreute_kinder_3_bis_unter_6'], k['kinder_3_bis_unter_6']):.1%}")
    print(f"Alleinerziehende an Haushalten mit Kindern: "
          f"{quote(h['alleinerziehende_haushalte'], h['haushalte_mit_kindern']):.1%}")


def laufzeit(seed):
    geo_ss, pop_ss, _ = np.random.SeedSequence(seed).spawn(3)
    geo = geography.build(np.random.default_rng(geo_ss))
    start = time.perf_counter()
    tables = population.build(geo, np.random.default_rng(pop_ss))
    personen = f"{len(tables['melderegister']):,}".replace(",", ".")
    print(f"population.build (Seed {seed}): {time.perf_counter() - start:.1f} s, {personen} Personen")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=2024)
    args = parser.parse_args()
    kennzahlen()
    laufzeit(args.seed)
