"""Abgaben einsammeln: Ordner, ZIP-Datei oder nbgrader-Austausch; Teilnehmendenliste; Zuordnung; Import.

Die Originale werden nie verändert: sie werden nach ``submitted/<id>/<aufgabe>/`` kopiert (mit Prüfsumme).
"""
from __future__ import annotations

import csv
import hashlib
import os
import re
import shutil
import unicodedata
import zipfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

MAX_ZIP_BYTES = 500 * 1024 * 1024  # entpackt; schützt vor ZIP-Bomben
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S.%f"  # wie nbgrader's timestamp.txt


@dataclass
class Participant:
    id: str
    last_name: str = ""
    first_name: str = ""
    email: str = ""


@dataclass
class Submission:
    """Eine zugeordnete Abgabe (oder ein Platzhalter für eine fehlende)."""

    participant: Participant
    path: Path | None  # Original (nie verändert); None = fehlt
    modified: datetime | None = None
    flags: list[str] = field(default_factory=list)
    sha256: str = ""


class InputError(Exception):
    """Deutsche Meldung für Probleme mit Eingabe oder Teilnehmendenliste."""


def normalize(text: str) -> str:
    """'Müller-Lüdenscheidt, Jürgen' -> 'mueller_luedenscheidt_juergen' (für Vergleiche und nbgrader-IDs)."""
    text = unicodedata.normalize("NFC", text).strip().casefold()
    for umlaut, replacement in {"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"}.items():
        text = text.replace(umlaut, replacement)
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "_", text).strip("_")


def read_roster(path: Path) -> list[Participant]:
    """Teilnehmendenliste als Excel-CSV (Semikolon): id;nachname;vorname;email.

    Kodierungen: UTF-8 (mit/ohne BOM), UTF-16 (mit BOM, Excel „Unicode-Text“), Windows-1252, Mac Roman, cp850;
    die passende wird an typischen deutschen Zeichen erkannt, sonst bricht der Befehl mit einer Meldung ab.
    """
    text = unicodedata.normalize("NFC", decode_roster(path))
    lines = text.splitlines()
    if not lines:
        raise InputError(f"Die Teilnehmendenliste {path} ist leer. Tipp: Kopfzeile id;nachname;vorname;email.")
    delimiter = max([";", ",", "\t"], key=lambda sep: lines[0].count(sep))
    rows = list(csv.DictReader(lines, delimiter=delimiter))
    aliases = {"id": ["id", "kennung", "nutzername", "benutzername", "login"], "last_name": ["nachname", "name"],
               "first_name": ["vorname"], "email": ["email", "e_mail", "mail"]}
    header = {normalize(name or ""): name for name in (rows[0].keys() if rows else [])}
    columns = {key: next((header[a] for a in names if a in header), None) for key, names in aliases.items()}
    if not columns["id"] and not columns["last_name"]:
        raise InputError(f"In {path} fehlt eine Spalte 'id' oder 'nachname'. "
                         "Tipp: Kopfzeile id;nachname;vorname;email, getrennt durch Semikolon.")
    participants, seen = [], set()
    for row in rows:
        values = {key: (row.get(col) or "").strip() if col else "" for key, col in columns.items()}
        if not any(values.values()):
            continue
        pid = normalize(values["id"]) or normalize(f"{values['last_name']}_{values['first_name']}")
        if pid in seen:
            raise InputError(f"Die ID '{pid}' steht doppelt in {path}. Tipp: jede Person nur einmal eintragen.")
        seen.add(pid)
        participants.append(Participant(pid, values["last_name"], values["first_name"], values["email"]))
    return participants


GERMAN = set("äöüÄÖÜßéèáàçñ")
SUSPICIOUS = set("ÃÂ¤¦¨´¸¹²³¼½¾×÷þðÞÐ¿¡§¶µ√∫≈≠≤≥∂∑∏πΩ◊ﬁﬂ‡‰ˆ˜¯˘˙˚˛ˇ─│┌┐└┘├┤┬┴┼═║╔╗╚╝░▒▓█")


def decode_roster(path: Path) -> str:
    raw = path.read_bytes()
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    best, best_score = None, None
    for encoding in ("cp1252", "mac_roman", "cp850"):
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError:
            continue
        score = sum(ch in GERMAN for ch in text) - 3 * sum(ch in SUSPICIOUS or (ord(ch) < 32 and ch not in "\r\n\t")
                                                           for ch in text)
        if best_score is None or score > best_score:
            best, best_score = text, score
    if best is None or best_score < 0:
        raise InputError(f"Die Kodierung der Teilnehmendenliste {path} ist nicht erkennbar. Tipp: in Excel "
                         "„Speichern unter“ → „CSV UTF-8 (durch Trennzeichen getrennt)“ wählen.")
    return best


@dataclass
class Collected:
    """Ergebnis des Einsammelns: Abgaben und über jede Eingabedatei ein Satz (bewertet oder warum nicht)."""

    submissions: list[Submission]
    skipped: list[tuple[str, str]]  # (Datei, Grund), nicht bewertet
    listing: list[list[str]]  # [Datei, Ergebnis] für jede Datei der Eingabe


def collect(source: Path | None, course: Path, assignment: str, roster: list[Participant] | None,
            scratch: Path) -> Collected:
    """Findet alle Abgaben und ordnet sie zu; mit Liste erscheinen auch fehlende Abgaben (Flag 'fehlt').

    ``source`` None: nbgrader-Austausch (``submitted/`` des Kurses nach ``nbgrader collect``). Jede Datei der
    Eingabe wird bewertet oder mit Grund genannt; ZIP-Dateien (auch verschachtelte) werden entpackt.
    """
    skipped: list[tuple[str, str]] = []
    if source is None:
        candidates = _from_exchange(course / "submitted", assignment)
    elif source.is_file() and zipfile.is_zipfile(source):
        candidates = _from_folder(_unzip(source, scratch / "zip", source.name), scratch, skipped, source.name)
    elif source.is_dir():
        candidates = _from_folder(source, scratch, skipped, "")
    else:
        raise InputError(f"Eingabe {source} nicht gefunden (oder weder Ordner noch ZIP-Datei). "
                         "Tipp: den Ordner mit den heruntergeladenen Notebooks oder die ZIP-Datei angeben.")
    submissions, listing = _assign(candidates, assignment, roster)
    listing += [[name, f"nicht bewertet: {reason}"] for name, reason in skipped]
    return Collected(submissions, skipped, sorted(listing))


@dataclass
class _Candidate:
    path: Path
    folder: str  # Ordner der Datei unterhalb der Eingabe ("" = direkt in der Eingabe)
    modified: datetime
    alone: bool = False  # einziges Notebook in seinem Ordner (dann ist es wohl ein Ordner je Person)
    trusted_id: bool = False  # aus dem nbgrader-Austausch: der Ordnername ist die ID
    shown: str = ""  # Name in Meldungen (Pfad in der Eingabe)


def _from_exchange(submitted: Path, assignment: str) -> list[_Candidate]:
    if not submitted.is_dir():
        raise InputError(f"Kein Ordner {submitted}. Tipp: erst `nbgrader collect {assignment}` ausführen "
                         "oder einen Ordner bzw. eine ZIP-Datei mit Abgaben angeben.")
    found = []
    for folder in sorted(p for p in submitted.iterdir() if p.is_dir()):
        for notebook in sorted((folder / assignment).glob("*.ipynb")):
            stamp = folder / assignment / "timestamp.txt"
            modified = _read_timestamp(stamp) or datetime.fromtimestamp(notebook.stat().st_mtime)
            found.append(_Candidate(notebook, folder.name, modified, trusted_id=True,
                                    shown=f"{folder.name}/{assignment}/{notebook.name}"))
    return found


def _looks_like_notebook(path: Path) -> bool:
    try:
        with open(path, "rb") as handle:
            head = handle.read(4096).decode("utf-8-sig", errors="ignore")
    except OSError:
        return False
    return head.lstrip().startswith("{") and ('"cells"' in head or '"nbformat"' in head)


def _from_folder(folder: Path, scratch: Path, skipped: list, prefix: str, depth: int = 0) -> list[_Candidate]:
    """Notebooks in ``folder`` (auch in ZIP-Dateien darin); alles andere kommt mit Grund nach ``skipped``."""
    notebooks: list[tuple[Path, str]] = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        relative = path.relative_to(folder)
        shown = unicodedata.normalize("NFC", "/".join(filter(None, [prefix, *relative.parts])))
        name = path.name.lower()
        if any(part.startswith((".", "__MACOSX")) for part in relative.parts) or name in ("thumbs.db",):
            skipped.append((shown, "versteckte Datei oder Sicherungskopie (z. B. .ipynb_checkpoints), ignoriert"))
        elif zipfile.is_zipfile(path) and depth < 3:
            inner = _unzip(path, scratch / f"zip{depth + 1}-{len(notebooks)}-{path.stem}", shown)
            notebooks += [(c.path, c.shown) for c in _from_folder(inner, scratch, skipped, shown, depth + 1)]
        elif name.endswith(".ipynb"):
            notebooks.append((path, shown))
        elif name.endswith((".ipynb.txt", ".ipynb.json", ".json", ".txt")) and _looks_like_notebook(path):
            notebooks.append((path, shown))
        else:
            kind = path.suffix or "ohne Endung"
            skipped.append((shown, f"keine Notebook-Datei ({kind}); Tipp: in JupyterLab „Download“ als .ipynb"))
    per_folder: dict[Path, int] = {}
    for notebook, _ in notebooks:
        per_folder[notebook.parent] = per_folder.get(notebook.parent, 0) + 1
    return [_Candidate(notebook, notebook.parent.name if notebook.parent != folder else "",
                       datetime.fromtimestamp(notebook.stat().st_mtime), alone=per_folder[notebook.parent] == 1,
                       shown=shown) for notebook, shown in notebooks]


def _unzip(archive: Path, target: Path, shown: str) -> Path:
    """Entpackt alles ohne Pfade außerhalb des Ziels, mit Größengrenze; Namen in NFC; Zeitstempel bleiben."""
    target.mkdir(parents=True, exist_ok=True)
    total = 0
    try:
        zipped = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as error:
        raise InputError(f"Die ZIP-Datei {shown} lässt sich nicht öffnen ({error}).") from error
    with zipped:
        for info in zipped.infolist():
            name = unicodedata.normalize("NFC", info.filename)
            parts = [p for p in Path(name).parts if p not in ("", ".", "..", "/")]
            if info.is_dir() or not parts:
                continue
            total += info.file_size
            if total > MAX_ZIP_BYTES:
                raise InputError(f"Die ZIP-Datei {shown} ist entpackt größer als {MAX_ZIP_BYTES // 2**20} MB. "
                                 "Tipp: nur die Notebooks einpacken.")
            destination = target.joinpath(*parts)
            destination.parent.mkdir(parents=True, exist_ok=True)
            with zipped.open(info) as source, open(destination, "wb") as sink:
                shutil.copyfileobj(source, sink)
            stamp = datetime(*info.date_time).timestamp()
            os.utime(destination, (stamp, stamp))
    return target


COPY_SUFFIX = re.compile(r"(\s*[-_ ]\s*(copy|kopie)\d*|\s*\(\d+\)|\s*-\s*kopie(\s*\(\d+\))?)+$", re.IGNORECASE)
COPY_PREFIX = re.compile(r"^(kopie von|copy of)\s+", re.IGNORECASE)


def base_stem(name: str) -> str:
    """Dateiname ohne Endungen und ohne Kopie-Zusätze: '00_start-Copy1.ipynb' -> '00_start'."""
    stem = unicodedata.normalize("NFC", name)
    for ending in (".txt", ".json", ".ipynb"):
        if stem.lower().endswith(ending):
            stem = stem[: -len(ending)]
    return COPY_PREFIX.sub("", COPY_SUFFIX.sub("", stem))


def _assign(candidates: list[_Candidate], assignment: str,
            roster: list[Participant] | None) -> tuple[list[Submission], list[list[str]]]:
    by_key: dict[str, Participant] = {}
    for person in roster or []:
        for key in person_keys(person):
            by_key.setdefault(key, person)
    grouped: dict[str, list[tuple[_Candidate, Participant, list[str]]]] = {}
    for candidate in candidates:
        label, flags = _label(candidate, assignment)
        person = by_key.get(label) or _by_prefix(label, by_key)
        if person is None:
            person = Participant(label or f"unbekannt_{len(grouped) + 1}")
            if roster is not None:
                flags.append("unbekannt")
        grouped.setdefault(person.id, []).append((candidate, person, flags))

    submissions, listing = [], []
    for entries in grouped.values():
        entries.sort(key=lambda entry: entry[0].modified)
        candidate, person, flags = entries[-1]  # die neueste Abgabe gilt
        if len(entries) > 1:
            flags = flags + [f"doppelte Abgabe ({len(entries)} Dateien, neueste gilt: {candidate.path.name})"]
        submissions.append(Submission(person, candidate.path, candidate.modified, flags, sha256(candidate.path)))
        listing.append([candidate.shown, f"bewertet als {person.id}"])
        listing += [[older.shown, f"nicht bewertet: ältere Abgabe von {person.id} (es gilt {candidate.shown})"]
                    for older, _, _ in entries[:-1]]
    present = {s.participant.id for s in submissions}
    submissions += [Submission(person, None, flags=["fehlt"]) for person in roster or [] if person.id not in present]
    return sorted(submissions, key=lambda s: (s.participant.last_name.casefold(), s.participant.id)), listing


def _label(candidate: _Candidate, assignment: str) -> tuple[str, list[str]]:
    """Wer hat abgegeben? Aus dem Dateinamen (Nachname_Vorname_AUFGABE) oder dem Ordner der Person."""
    if candidate.trusted_id:
        return candidate.folder, []
    token = rf"(^|_){re.escape(normalize(assignment))}(?=_|$)"  # der Aufgabenname als eigenes Wort
    stem = normalize(base_stem(candidate.path.name))  # "Datei (1)", "-Copy1", "Kopie" aus Downloads
    folder = normalize(re.sub(token, "_", normalize(candidate.folder)))
    if re.search(token, stem):
        return normalize(re.sub(token, "_", stem)) or folder, []
    if folder and candidate.alone:
        return folder, []
    return stem, ["Dateiname unerwartet"]


def _by_prefix(label: str, by_key: dict[str, Participant]) -> Participant | None:
    """'max_muster_12345_abgabe' (Lernplattform) -> Max Muster, wenn genau eine Person passt."""
    matches = {id(p): p for key, p in by_key.items() if label.startswith(key + "_")}
    return next(iter(matches.values())) if len(matches) == 1 else None


def person_keys(person: Participant) -> list[str]:
    keys = [person.id, normalize(f"{person.last_name}_{person.first_name}"),
            normalize(f"{person.first_name}_{person.last_name}")]
    if person.email:
        keys.append(normalize(person.email.split("@")[0]))
    return [key for key in keys if key]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _read_timestamp(path: Path) -> datetime | None:
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError:
        return None
    for pattern in (TIMESTAMP_FORMAT, "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M:%S.%f %Z", "%Y-%m-%d %H:%M:%S %Z"):
        try:
            return datetime.strptime(text, pattern)
        except ValueError:
            continue
    return None
