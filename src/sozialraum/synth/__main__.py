"""Erzeuge die synthetischen Daten der Stadt Haldenbrück: ``python -m sozialraum.synth [--seed 2024] [--out datasets]``.

Gleicher Seed, gleicher Inhalt. Geschrieben werden:

- ``stadt.gpkg``: alle Geo-Layer (EPSG:25832),
- je Tabelle ``NAME.csv`` (UTF-8, Komma, Punkt als Dezimalzeichen) oder, ab 50.000 Zeilen, ``NAME.parquet``,
- neue Geo-Layer (Pflegedienste, Straßennetz, Adressen, 100-m-Raster) als GeoParquet ``NAME.parquet`` (EPSG:25832),
- ``roh/``: unaufbereitete Exporte und die SQLite-Datenbank für die Lektion zur Datenbereinigung.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from sozialraum.synth import addresses, care, geography, population, projection_inputs, raw, streets

DEFAULT_SEED = 2024
PARQUET_MIN_ROWS = 50_000
GPKG_NAME = "stadt.gpkg"


def generate(seed: int, out_dir: Path, log=print) -> None:
    """Erzeuge alle Datensätze für ``seed`` nach ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    # neue Zufallsströme nur hinten anhängen: Die übrigen Daten bleiben dann gleich.
    geo_ss, pop_ss, raw_ss, care_ss, street_ss, address_ss = np.random.SeedSequence(seed).spawn(6)
    start = time.perf_counter()

    log(f"Erzeuge Geografie (Seed {seed}) ...")
    blocks = []  # Baublöcke, Grundlage des Straßennetzes
    geo = geography.build(np.random.default_rng(geo_ss), blocks)
    log(f"  {len(geo)} Layer  ({time.perf_counter() - start:.1f} s)")

    log("Erzeuge Bevölkerung, Melderegister und Tabellen ...")
    moves = {}  # Wanderungen nach Alter, Grundlage der Prognoseraten
    tables = population.build(geo, np.random.default_rng(pop_ss), moves)  # bemisst auch Kitas und Grundschulen
    tables.update(projection_inputs.build(tables["bevoelkerung_alter"], moves))
    tables["pflegequoten"] = care.quotas(tables["bevoelkerung_alter"])
    tables["pflegedienste"] = care.services(geo, tables["bevoelkerung_alter"], tables["pflegequoten"],
                                            np.random.default_rng(care_ss))
    tables.update(streets.build(geo, blocks, np.random.default_rng(street_ss)))
    typ = population.district_types_of(geo, np.random.default_rng(pop_ss))
    tables["adressen"], adresse_id, tables["raster_100m"] = addresses.build(
        geo, tables["strassen"], tables["melderegister"], typ, np.random.default_rng(address_ss))
    tables["melderegister"]["adresse_id"] = adresse_id.to_numpy()  # neue Spalte am Ende, die übrigen bleiben
    write_geopackage(geo, out_dir / GPKG_NAME)
    log(f"  {GPKG_NAME}: {len(geo)} Layer")
    for name, frame in tables.items():
        path = write_table(frame, out_dir, name)
        log(f"  {path.name}: {len(frame):,} Zeilen".replace(",", "."))
    log(f"  fertig ({time.perf_counter() - start:.1f} s)")

    log("Erzeuge Rohdaten-Exporte und kommunale Datenbank ...")
    raw.write(geo, tables, out_dir / "roh", np.random.default_rng(raw_ss))
    log(f"Fertig: alle Daten in {out_dir} (Gesamtzeit {time.perf_counter() - start:.1f} s)")


def write_geopackage(layers: dict[str, gpd.GeoDataFrame], path: Path) -> None:
    """Schreibe alle Layer in eine neue GeoPackage-Datei (eine vorhandene Datei wird ersetzt)."""
    path.unlink(missing_ok=True)
    for name, gdf in layers.items():
        gdf.to_file(path, layer=name, driver="GPKG", engine="pyogrio")


def write_table(frame: pd.DataFrame, out_dir: Path, name: str) -> Path:
    """Schreibe eine Tabelle als CSV oder (große Tabellen und Geo-Layer) als (Geo-)Parquet; gibt den Pfad zurück."""
    for suffix in (".csv", ".parquet"):  # eine Tabelle liegt nie in beiden Formaten vor
        (out_dir / f"{name}{suffix}").unlink(missing_ok=True)
    if len(frame) >= PARQUET_MIN_ROWS or isinstance(frame, gpd.GeoDataFrame):
        path = out_dir / f"{name}.parquet"
        frame.to_parquet(path, index=False)
    else:
        path = out_dir / f"{name}.csv"
        frame.to_csv(path, index=False, encoding="utf-8", lineterminator="\n")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sozialraum.synth",
        description="Erzeugt die synthetischen Daten der fiktiven Ruhrgebietsstadt Haldenbrück.",
        add_help=False,
    )
    parser.add_argument("-h", "--help", action="help", help="diese Hilfe zeigen und beenden")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"Zufalls-Seed (Standard: {DEFAULT_SEED})")
    parser.add_argument("--out", type=Path, default=Path("datasets"), help="Zielordner (Standard: datasets)")
    args = parser.parse_args(argv)
    if args.out.exists() and not args.out.is_dir():
        parser.error(f"--out {args.out} ist eine Datei. Bitte einen Ordner angeben, z. B. --out datasets.")
    generate(args.seed, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
