"""Daten der synthetischen Ruhrgebietsstadt laden – aus jedem Arbeitsordner.

Die Datensätze liegen im Ordner ``datasets/`` des Kits (Datenkatalog: ``datasets/README.md``).
Ein Datensatz heißt wie seine Ebene in ``stadt.gpkg`` oder wie seine CSV-/Parquet-Datei ohne Endung.

Beispiele
---------
>>> from sozialraum import data
>>> data.list_datasets()                      # Übersicht: Name, Art, Datei, Zeilen
>>> bezirke = data.load("statistische_bezirke")   # GeoDataFrame in EPSG:25832
>>> bezirke["bezirk_id"].head()               # Schlüssel sind Text: "010101", ...
>>> data.raw_path("sgb2_export_2024.csv")     # Pfad zu einer Rohdatei in datasets/roh/
>>> data.read_german_csv(data.raw_path("sgb2_export_2024.csv"), pad={"Stat. Bezirk": 6})

Wo wird ``datasets/`` gesucht? In dieser Reihenfolge:

1. im Ordner aus der Umgebungsvariablen ``SOZIALRAUM_DATEN`` (falls gesetzt; er muss ``stadt.gpkg`` enthalten),
2. vom aktuellen Arbeitsordner aufwärts: der erste Ordner ``datasets/`` mit ``stadt.gpkg`` (so klappt es aus
   ``modules/``, ``exercises/NN_.../`` und aus den nbgrader-Ordnern ``submitted/`` und ``autograded/``),
3. im Repository, aus dem das Paket installiert ist (``pip install -e .``),
4. im Home-Verzeichnis: ``~/sozialraum-kit/datasets`` (z. B. auf einem Kurs-JupyterHub).

Schlüsselspalten (Name endet auf ``_id`` oder heißt ``ags``) kommen immer als Text zurück, mit führenden Nullen.
"""
from __future__ import annotations

import csv
import difflib
import io
import os
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pyarrow
import pyarrow.parquet as pq

# Der Speicherpool des Systems statt pyarrows eigenem: der eigene behält nach dem Lesen rund 40 MB je Kernel,
# das zählt bei Binders Speichergrenze.
pyarrow.set_memory_pool(pyarrow.system_memory_pool())

ENV_VAR = "SOZIALRAUM_DATEN"
GPKG = "stadt.gpkg"
RAW_DIR = "roh"
CRS = "EPSG:25832"
HUB_DIR = Path("~/sozialraum-kit/datasets")
REGENERATE_HINT = (
    "So erzeugen Sie die Daten neu: im Wurzelordner des Kits (dort, wo pyproject.toml liegt) "
    "`python -m sozialraum.synth` ausführen."
)

# Zeichen der amtlichen Statistik in einer Tabellenzelle
MISSING_SYMBOLS = (".", "x", "/", "...", "…")  # unbekannt/geheim, gesperrt, unsicher, kommt später
ZERO_SYMBOLS = ("-", "–")  # "nichts vorhanden" (genau null)


class DataError(Exception):
    """Oberklasse aller Fehler dieses Moduls; die Meldung beginnt mit einer deutschen Zeile."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class UnknownDatasetError(DataError, KeyError):
    """Einen Datensatz dieses Namens gibt es nicht."""


class DataMissingError(DataError, FileNotFoundError):
    """Der Ordner ``datasets/`` oder eine Datei darin fehlt."""


class DataDamagedError(DataError, ValueError):
    """Eine Datei ist vorhanden, lässt sich aber nicht lesen (beschädigt, leer, abgeschnitten)."""


class GermanCsvError(DataError, ValueError):
    """Eine deutsche CSV-Datei passt nicht zu den Leseoptionen (Kodierung, Trennzeichen)."""


def is_key(column: str) -> bool:
    """Ist ``column`` eine Schlüsselspalte (Name endet auf ``_id`` oder ist ``ags``)?

    >>> is_key("bezirk_id"), is_key("ags"), is_key("einwohner")
    (True, True, False)
    """
    return column.endswith("_id") or column == "ags"


def _candidates() -> list[Path]:
    """Die Orte, an denen ``datasets/`` gesucht wird, in der Reihenfolge der Suche (ohne ``SOZIALRAUM_DATEN``)."""
    cwd = Path.cwd().resolve()
    return [
        *(folder / "datasets" for folder in (cwd, *cwd.parents)),
        Path(__file__).resolve().parents[2] / "datasets",  # Repository des installierten Pakets
        HUB_DIR.expanduser(),
    ]


def datasets_dir() -> Path:
    """Gibt den Ordner ``datasets/`` zurück (Suchreihenfolge: siehe Modulbeschreibung).

    >>> data.datasets_dir()
    PosixPath('/home/jovyan/sozialraum-kit/datasets')
    """
    override = os.environ.get(ENV_VAR)
    if override:
        folder = Path(override).expanduser().resolve()
        for candidate in (folder, folder / "datasets"):
            if (candidate / GPKG).is_file():
                return candidate
        raise DataMissingError(
            f"Im Ordner aus {ENV_VAR}={override!r} liegt keine Datei {GPKG}.\n"
            f"Prüfen Sie den Pfad oder entfernen Sie die Variable. {REGENERATE_HINT}"
        )
    candidates = _candidates()
    for folder in candidates:
        if (folder / GPKG).is_file():
            return folder
    incomplete = [str(folder) for folder in candidates if folder.is_dir()]
    found = f"Ohne {GPKG} (unvollständig): {', '.join(incomplete)}\n" if incomplete else ""
    raise DataMissingError(
        f"Der Datenordner datasets/ (mit {GPKG}) wurde nicht gefunden.\n"
        f"Gesucht ab dem Arbeitsordner {Path.cwd()} aufwärts, im Kit des installierten Pakets "
        f"({candidates[-2]}) und im Home-Verzeichnis ({candidates[-1]}).\n{found}"
        f"Setzen Sie die Umgebungsvariable {ENV_VAR} auf den Ordner oder erzeugen Sie ihn neu. {REGENERATE_HINT}"
    )


def _table_files(folder: Path) -> dict[str, Path]:
    files = {}
    for suffix in (".csv", ".parquet"):
        for path in folder.glob(f"*{suffix}"):
            files[path.stem] = path
    return files


def _layers(folder: Path) -> list[str]:
    path = folder / GPKG
    try:
        return [str(name) for name in pyogrio.list_layers(path)[:, 0]]
    except Exception as err:
        raise _damaged(path, err) from err


def _damaged(path: Path, err: Exception) -> DataDamagedError:
    return DataDamagedError(
        f"Die Datei {path.name} ist beschädigt oder leer und lässt sich nicht lesen ({path}).\n"
        f"{REGENERATE_HINT}\nTechnische Ursache: {type(err).__name__}: {err}"
    )


def _names(folder: Path) -> dict[str, Path]:
    names = {layer: folder / GPKG for layer in _layers(folder)}
    names.update(_table_files(folder))
    return dict(sorted(names.items()))


def _is_geoparquet(path: Path) -> bool:
    """Ist die Parquet-Datei ein Geo-Layer (GeoParquet mit Geometriespalte)?"""
    return path.suffix == ".parquet" and b"geo" in (pq.read_schema(path).metadata or {})


def _row_count(name: str, path: Path) -> int:
    if path.suffix == ".gpkg":
        return int(pyogrio.read_info(path, layer=name)["features"])
    if path.suffix == ".parquet":
        return pq.ParquetFile(path).metadata.num_rows
    with path.open("rb") as handle:
        return max(sum(1 for _ in handle) - 1, 0)


def list_datasets() -> pd.DataFrame:
    """Listet alle Datensätze auf, die ``load`` kennt, alphabetisch.

    Spalten: ``name`` (für ``load``), ``art`` (Geodaten oder Tabelle), ``datei``, ``zeilen``.
    Was die Spalten der Datensätze bedeuten, steht im Datenkatalog ``datasets/README.md``.

    >>> data.list_datasets()
    >>> data.list_datasets()["name"].tolist()
    """
    folder = datasets_dir()
    kinds = {".gpkg": "Geodaten (Ebene)", ".csv": "Tabelle (CSV)", ".parquet": "Tabelle (Parquet)"}
    rows = []
    for name, path in _names(folder).items():
        try:
            count = _row_count(name, path)
            kind = "Geodaten (GeoParquet)" if _is_geoparquet(path) else kinds[path.suffix]
        except Exception as err:
            raise _damaged(path, err) from err
        rows.append({"name": name, "art": kind, "datei": path.name, "zeilen": count})
    return pd.DataFrame(rows)


def _unknown(name: str, valid: Iterable[str]) -> UnknownDatasetError:
    valid = list(valid)
    close = difflib.get_close_matches(str(name), valid, n=1)
    maybe = f" Meinten Sie {close[0]!r}?" if close else ""
    return UnknownDatasetError(
        f"Einen Datensatz {name!r} gibt es nicht.{maybe}\n"
        f"Gültige Namen: {', '.join(valid)}.\n"
        "Tipp: data.list_datasets() zeigt alle Datensätze; "
        "Rohdateien aus datasets/roh/ öffnen Sie mit data.raw_path()."
    )


def _keys_as_str(frame: pd.DataFrame) -> pd.DataFrame:
    for column in frame.columns:
        if is_key(str(column)) and not pd.api.types.is_string_dtype(frame[column]):
            frame[column] = frame[column].astype("str")
    return frame


def _read_csv(path: Path, columns: list[str] | None) -> pd.DataFrame:
    header = pd.read_csv(path, nrows=0, encoding="utf-8")
    keys = {column: "str" for column in header.columns if is_key(column)}
    return pd.read_csv(path, dtype=keys, encoding="utf-8", usecols=columns)


def _columns_of(path: Path, name: str) -> list[str]:
    """Spaltennamen ohne Geometrie, ohne die Datei ganz zu lesen."""
    if path.suffix == ".parquet":
        names = pq.read_schema(path).names
    elif path.suffix == ".gpkg":
        names = list(pyogrio.read_info(path, layer=name)["fields"])
    else:
        names = list(pd.read_csv(path, nrows=0, encoding="utf-8").columns)
    return [column for column in names if column != "geometry"]


def load(name: str, columns: list[str] | None = None) -> pd.DataFrame | gpd.GeoDataFrame:
    """Lädt einen Datensatz über seinen Namen; mit ``columns`` nur diese Spalten (spart bei großen Tabellen Speicher).

    Geodaten (Ebenen von ``stadt.gpkg`` und GeoParquet-Dateien wie ``strassen.parquet``) kommen als GeoDataFrame im
    Koordinatensystem EPSG:25832 (ETRS89/UTM 32N), Tabellen (CSV, Parquet) als DataFrame. Schlüsselspalten (``*_id``, ``ags``) sind Text mit führenden Nullen.

    >>> bezirke = data.load("statistische_bezirke")
    >>> bezirke.crs.to_epsg()
    25832
    >>> einrichtungen = data.load("einrichtungen")
    >>> einrichtungen[einrichtungen["art"] == "Kita"].head()
    >>> personen = data.load("melderegister", columns=["adresse_id", "alter"])
    """
    folder = datasets_dir()
    tables = _table_files(folder)
    path = tables.get(name)
    if path is None:
        layers = _layers(folder)
        if name not in layers:
            raise _unknown(name, sorted([*layers, *tables]))
        path = folder / GPKG
    if columns is not None:
        columns = list(columns)
        try:
            known = _columns_of(path, name)
        except Exception as err:
            raise _damaged(path, err) from err
        missing = [column for column in columns if column not in known]
        if missing:
            raise ValueError(f"Der Datensatz '{name}' hat keine Spalte {', '.join(map(repr, missing))}. "
                             f"Vorhanden sind: {', '.join(known)}.")
    try:
        if path.suffix == ".gpkg" or _is_geoparquet(path):
            if path.suffix == ".parquet":
                frame = gpd.read_parquet(path, columns=None if columns is None else [*columns, "geometry"])
            else:
                frame = gpd.read_file(path, layer=name, engine="pyogrio", columns=columns)
            frame = frame.set_crs(CRS) if frame.crs is None else frame.to_crs(CRS)
        elif path.suffix == ".parquet":
            frame = pd.read_parquet(path, columns=columns)
        else:
            frame = _read_csv(path, columns)
    except Exception as err:
        raise _damaged(path, err) from err
    return _keys_as_str(frame)


def list_raw() -> list[str]:
    """Listet die Rohdateien in ``datasets/roh/`` (Material für das Datenputzen in Modul 01).

    >>> data.list_raw()
    ['genesis_bevoelkerung_2015_2024.csv', 'kommunale_datenbank.sqlite', ...]
    """
    folder = datasets_dir() / RAW_DIR
    return sorted(path.name for path in folder.iterdir() if path.is_file()) if folder.is_dir() else []


def raw_path(filename: str) -> Path:
    """Pfad zu einer Rohdatei in ``datasets/roh/``; die Datei lesen Sie selbst (so lernen Sie die Leseoptionen).

    >>> pfad = data.raw_path("sgb2_export_2024.csv")
    >>> pd.read_csv(pfad, sep=";", encoding="cp1252", skiprows=4, skipfooter=8, engine="python")  # usw., Modul 01
    >>> import sqlite3
    >>> con = sqlite3.connect(data.raw_path("kommunale_datenbank.sqlite"))
    """
    path = datasets_dir() / RAW_DIR / filename
    if not path.is_file():
        available = list_raw()
        close = difflib.get_close_matches(filename, available, n=1)
        maybe = f" Meinten Sie {close[0]!r}?" if close else ""
        raise DataMissingError(
            f"Die Rohdatei {filename!r} gibt es in {path.parent} nicht.{maybe}\n"
            f"Vorhanden: {', '.join(available) or 'keine'}.\n{REGENERATE_HINT}"
        )
    return path


# ---------------------------------------------------------------------------------------------------------------
# Deutsche CSV-Exporte lesen

_NUMBER = re.compile(r"-?(\d{1,3}(\.\d{3})+|\d+)(,\d+)?")
_DATE = re.compile(r"\d{2}\.\d{2}\.\d{4}")
_MOJIBAKE = re.compile("Ã[\x80-\xbf€‚ƒ„…†‡ˆ‰Š‹ŒŽ‘’“”•–—˜™š›œžŸ]")  # UTF-8-Umlaute, als cp1252/latin-1 gelesen


def _decode(raw: bytes, encoding: str | None, path: Path) -> str:
    if encoding is None:
        try:
            return raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            return raw.decode("cp1252", errors="replace")
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as err:
        raise GermanCsvError(
            f"Die Datei {path.name} ist nicht in der Kodierung {encoding!r} gespeichert.\n"
            "Tipp: Excel- und Statistikamt-Exporte sind meist 'cp1252' (Windows); neuere Dateien oft 'utf-8'. "
            "Ohne Angabe (encoding=None) probiert read_german_csv beides."
        ) from err
    if encoding.lower().replace("-", "") not in ("utf8", "utf8sig") and _MOJIBAKE.search(text):
        raise GermanCsvError(
            f"Die Datei {path.name} sieht nach UTF-8 aus, wurde aber als {encoding!r} gelesen "
            "(Umlaute erscheinen als 'Ã¤', 'Ã¶' ...).\nTipp: encoding='utf-8' angeben oder encoding=None."
        )
    return text


def _table_block(rows: list[list[str]]) -> tuple[int, int]:
    """Erste und letzte Zeile der eigentlichen Tabelle: der erste zusammenhängende Block von Zeilen mit mindestens
    zwei gefüllten Feldern. Titelzeilen davor und Fußnoten danach haben höchstens ein gefülltes Feld."""
    filled = [sum(1 for field in row if field.strip()) >= 2 for row in rows]
    start = filled.index(True)
    end = start
    while end + 1 < len(rows) and filled[end + 1]:
        end += 1
    return start, end


def _fields_per_line(text: str, sep: str) -> int:
    """Wie viele Trennzeichen ``sep`` stehen in den meisten Zeilen (die Zeilen ohne ``sep`` nicht gezählt)?"""
    counts = Counter(line.count(sep) for line in text.splitlines() if sep in line)
    return max(counts, key=lambda n: (counts[n], n)) if counts else 0


def _check_separator(text: str, sep: str, path: Path) -> None:
    guess = max((";", ",", "\t", "|"), key=lambda candidate: _fields_per_line(text, candidate))
    if guess != sep and _fields_per_line(text, guess) > _fields_per_line(text, sep):
        raise GermanCsvError(
            f"Die Datei {path.name} ist offenbar nicht mit {sep!r} getrennt, sondern mit {guess!r}.\n"
            f"Tipp: sep={guess!r} angeben."
        )


def _convert(column: pd.Series, dash_is_zero: bool) -> pd.Series:
    values = column.str.strip()
    values = values.mask(values.isin(MISSING_SYMBOLS) | (values == ""))
    values = values.mask(values.isin(ZERO_SYMBOLS), "0" if dash_is_zero else None)
    present = values.dropna()
    if present.empty:
        return values
    if present.str.fullmatch(_NUMBER).all():
        return pd.to_numeric(values.str.replace(".", "", regex=False).str.replace(",", ".", regex=False))
    if present.str.fullmatch(_DATE).all():
        return pd.to_datetime(values, format="%d.%m.%Y")
    return values


def _unique(header: list[str]) -> list[str]:
    """Spaltennamen wie bei ``pd.read_csv``: leere heißen "Unnamed: 3", doppelte bekommen ".1", ".2" ..."""
    names, seen = [], Counter()
    for position, name in enumerate(header):
        name = name or f"Unnamed: {position}"
        names.append(f"{name}.{seen[name]}" if seen[name] else name)
        seen[name] += 1
    return names


def read_german_csv(
    path: str | os.PathLike,
    *,
    sep: str = ";",
    encoding: str | None = None,
    pad: Mapping[str, int] | None = None,
    keys: Iterable[str] = (),
    dash_is_zero: bool = True,
) -> pd.DataFrame:
    """Liest einen deutschen CSV-Export (Excel, Statistikamt, Fachverfahren) in ein sauberes DataFrame.

    Was die Funktion erledigt – genau das, was Modul 01 zuerst von Hand mit ``pd.read_csv`` zeigt:

    - Trennzeichen Semikolon (``sep``), Kodierung cp1252 oder UTF-8 (``encoding=None`` probiert UTF-8, dann cp1252),
    - Titelzeilen oben und Fußnoten unten (z. B. "Quelle: ...") werden übersprungen: Die Tabelle ist der erste Block
      von Zeilen mit mindestens zwei gefüllten Feldern,
    - Zahlen mit Dezimalkomma und Tausenderpunkt ("1.234,5" -> 1234.5); Datumsangaben "31.12.2024" -> Datum,
    - Zeichen der amtlichen Statistik: "." (unbekannt oder geheim), "x", "/", "..." -> fehlender Wert (NaN);
      "-" bzw. "–" (nichts vorhanden, genau null) -> 0 (mit ``dash_is_zero=False`` ebenfalls NaN).
      Eine Zelle, die nur aus "." besteht, ist also ein fehlender Wert, kein Tausenderpunkt.
    - Schlüssel bleiben Text: Spalten, deren Name auf ``_id`` endet oder ``ags`` heißt, und die in ``keys``
      oder ``pad`` genannten. ``pad={"Stat. Bezirk": 6}`` füllt verlorene führende Nullen wieder auf
      ("10203" -> "010203").

    >>> df = data.read_german_csv(data.raw_path("sgb2_export_2024.csv"), pad={"Stat. Bezirk": 6})
    >>> df = data.read_german_csv("export.csv", encoding="cp1252", keys=["Gemeindeschlüssel"])
    """
    path = Path(path)
    raw = path.read_bytes()
    text = _decode(raw, encoding, path)
    _check_separator(text, sep, path)
    rows = list(csv.reader(io.StringIO(text), delimiter=sep))
    if not any(sum(1 for field in row if field.strip()) >= 2 for row in rows):
        raise GermanCsvError(f"In {path.name} steht keine Tabelle (keine Zeile mit mindestens zwei Feldern).")
    start, end = _table_block(rows)
    header = _unique([field.strip() for field in rows[start]])
    body = [row + [""] * (len(header) - len(row)) for row in rows[start + 1 : end + 1]]
    frame = pd.DataFrame([row[: len(header)] for row in body], columns=header, dtype="str")
    empty = [column for column in header if column.startswith("Unnamed") and frame[column].str.strip().eq("").all()]
    frame = frame.drop(columns=empty)  # leere Spalten, z. B. aus einem Semikolon am Zeilenende
    header = list(frame.columns)
    pad = dict(pad or {})
    text_columns = set(keys) | set(pad)
    unknown = sorted(text_columns - set(header))
    if unknown:
        raise GermanCsvError(
            f"Die Spalte(n) {', '.join(map(repr, unknown))} gibt es in {path.name} nicht.\n"
            f"Vorhandene Spalten: {', '.join(map(repr, header))}."
        )
    for column in header:
        if is_key(column) or column in text_columns:
            values = frame[column].str.strip().mask(lambda s: s == "")
            frame[column] = values.str.zfill(pad[column]) if column in pad else values
        else:
            frame[column] = _convert(frame[column], dash_is_zero)
    return frame
