"""Kalibrierung der synthetischen Stadt: Kennzahlen aus datasets/ und Laufzeit des Bevölkerungsteils.

    .venv/bin/python benchmarks/synth_population.py [--seed 2024]

Liest die Tabellen mit ``sozialraum.data`` (also datasets/ oder den Ordner aus ``SOZIALRAUM_DATEN``) und gibt die
Kennzahlen aus, an denen die Daten kalibriert sind (DOMAIN.md, Abschnitte 3-4 und 7): Bevölkerung und Sozialdaten,
die Korrelationen der acht Kernindikatoren und den Anteil der ersten Hauptkomponente, die Spannen der
Einpersonenhaushalte, der Kita- und Schulplätze, die Schuleingangsuntersuchung und das Programm (wahre Wirkung und
Differenz der Differenzen). Danach wird der Bevölkerungsteil (``population.build``) für ``--seed`` einmal neu erzeugt
und die Zeit gemessen.
"""
import argparse
import time

import numpy as np
import pandas as pd
from esda import Moran
from libpysal.weights import Queen

from sozialraum import data
from sozialraum.synth import district_types, geography, population, programme, supply


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


def struktur():
    tables = {n: data.load(n) for n in ["bevoelkerung_alter", "bevoelkerung", "sozialleistungen", "arbeitslose",
                                        "haushalte"]}
    core = district_types.core_indicators(tables)
    r = core.corr()
    eigen = np.linalg.eigvalsh(r.to_numpy())[::-1]
    with pd.option_context("display.width", 200, "display.max_columns", 10):
        print("Korrelationen der acht Kernindikatoren (180 Bezirke, 2024):")
        print(r.rename(columns=lambda c: c[:12]).round(2))
    print(f"Erste Hauptkomponente: {eigen[0] / eigen.sum():.1%}, zweite {eigen[1] / eigen.sum():.1%}")
    ep = core["einpersonenhaushalte_anteil"]
    print(f"Einpersonenhaushalte: Bezirke {ep.min():.1%}-{ep.max():.1%}; Kinderarmut Schiefe "
          f"{core['kinderarmut'].skew():.2f}")


def versorgung():
    ein = data.load("einrichtungen")
    k = data.load("kita").query("jahr == 2024")
    kinder = k.groupby(k["bezirk_id"].str[:4])[["kinder_unter_3", "kinder_3_bis_unter_6"]].sum()
    kitas = ein[ein["art"] == "Kita"]
    plaetze = kitas.groupby(kitas["bezirk_id"].str[:4])[["plaetze_u3", "plaetze_ue3"]].sum()
    v = kinder.join(plaetze).fillna(0)
    u3, ue3 = v["plaetze_u3"] / v["kinder_unter_3"], v["plaetze_ue3"] / v["kinder_3_bis_unter_6"]
    print(f"U3-Versorgungsquote: Stadt {v['plaetze_u3'].sum() / v['kinder_unter_3'].sum():.1%}, Stadtteile "
          f"{u3.min():.1%}-{u3.max():.1%} ({(u3 > 0.5).sum()} über 50 %); Ü3 Stadtteile {ue3.min():.1%}-{ue3.max():.1%}")
    teile = supply.pieces({n: data.load(n) for n in ["statistische_bezirke", "grundschulbezirke"]})
    a = data.load("bevoelkerung_alter").query("jahr == 2024 and 6 <= alter < 10").groupby("bezirk_id")["einwohner"].sum()
    je_schule = (teile["bezirk_id"].map(a) * teile["anteil"]).groupby(teile["einrichtung_id"]).sum()
    je_platz = je_schule / ein.set_index("einrichtung_id").loc[je_schule.index, "plaetze"].astype(float)
    print(f"Grundschulen: {je_platz.min():.2f}-{je_platz.max():.2f} Kinder (6 bis unter 10) je Platz, "
          f"{(je_platz > 1.1).sum()} über 1,1, {(je_platz < 0.8).sum()} unter 0,8")
    gs = data.load("grundschulen").groupby("grundschulbezirk_id")[["uebergaenge_gymnasium", "uebergaenge"]].sum()
    gym = gs["uebergaenge_gymnasium"] / gs["uebergaenge"]
    print(f"Übergang aufs Gymnasium 2015-2024: Schulen {gym.min():.1%}-{gym.max():.1%}, Stadt "
          f"{gs['uebergaenge_gymnasium'].sum() / gs['uebergaenge'].sum():.1%}")
    seu = data.load("schuleingangsuntersuchung").groupby("jahr").sum(numeric_only=True)
    print("SEU Stadt (Sprachförderbedarf, Übergewicht, Kita unter 2 Jahren): "
          + "; ".join(f"{j}: {seu.loc[j, 'sprachfoerderbedarf'] / seu.loc[j, 'untersuchte_kinder']:.1%}, "
                      f"{seu.loc[j, 'uebergewicht'] / seu.loc[j, 'untersuchte_kinder']:.1%}, "
                      f"{seu.loc[j, 'kita_unter_2_jahre'] / seu.loc[j, 'untersuchte_kinder']:.1%}"
                      for j in (2015, 2019, 2021, 2024)))


def programm():
    f = data.load("foerderprogramm").set_index("stadtteil_id")["gefoerdert"]
    s = data.load("schuleingangsuntersuchung_stadtteile").set_index(["stadtteil_id", "jahr"])
    q = (s["sprachfoerderbedarf"] / s["untersuchte_kinder"]).unstack("jahr")
    pre, post = [2015, 2016, 2017, 2018], [2020, 2021, 2022, 2023, 2024]
    change = q[post].mean(axis=1) - q[pre].mean(axis=1)
    did = change[f].mean() - change[~f].mean()
    se = np.sqrt(change[f].var() / f.sum() + change[~f].var() / (~f).sum())
    ka = programme.kinderarmut_stadtteile({n: data.load(n) for n in ["bevoelkerung_alter", "sozialleistungen"]})
    rtm = (ka[post].mean(axis=1) - ka[2018])[f].mean()
    print(f"Programm: {f.sum()} geförderte Stadtteile ({', '.join(f[f].index)}); wahre Wirkung "
          f"{100 * programme.EFFECT:+.0f} Prozentpunkte Sprachförderbedarf ab {programme.WIRKUNG_AB}")
    print(f"  Differenz der Differenzen (Mittel 2015-2018 gegen 2020-2024, Stadtteile ungewichtet): "
          f"{100 * did:+.1f} Prozentpunkte (Standardfehler {100 * se:.1f})")
    print(f"  naiv vorher/nachher (Geförderte): {100 * change[f].mean():+.1f}; naiv gefördert gegen übrige "
          f"2020-2024: {100 * (q.loc[f, post].mean().mean() - q.loc[~f, post].mean().mean()):+.1f} Prozentpunkte")
    print(f"  Kinderarmut der Geförderten 2018 → Mittel 2020-2024: {100 * rtm:+.1f} Prozentpunkte "
          f"(Regression zur Mitte; das Programm wirkt nicht auf die Kinderarmut)")


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
    struktur()
    versorgung()
    programm()
    laufzeit(args.seed)
