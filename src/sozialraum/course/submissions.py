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
    text = text.strip().casefold()
    for umlaut, replacement in {"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"}.items():
        text = text.replace(umlaut, replacement)
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "_", text).strip("_")


def read_roster(path: Path) -> list[Participant]:
    """Teilnehmendenliste als Excel-CSV (Semikolon; UTF-8 oder Windows-1252): id;nachname;vorname;email."""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("cp1252")
    lines = text.splitlines()
    if not lines:
        raise InputError(f"Die Teilnehmendenliste {path} ist leer. Tipp: Kopfzeile id;nachname;vorname;email.")
    delimiter = ";" if lines[0].count(";") >= lines[0].count(",") else ","
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


def collect(source: Path | None, course: Path, assignment: str, roster: list[Participant] | None,
            scratch: Path) -> list[Submission]:
    """Findet alle Abgaben und ordnet sie zu; mit Liste erscheinen auch fehlende Abgaben (Flag 'fehlt').

    ``source`` None: nbgrader-Austausch (``submitted/`` des Kurses nach ``nbgrader collect``).
    """
    if source is None:
        candidates = _from_exchange(course / "submitted", assignment)
    elif source.is_file() and zipfile.is_zipfile(source):
        candidates = _from_folder(_unzip(source, scratch), assignment)
    elif source.is_dir():
        candidates = _from_folder(source, assignment)
    else:
        raise InputError(f"Eingabe {source} nicht gefunden (oder weder Ordner noch ZIP-Datei). "
                         "Tipp: den Ordner mit den heruntergeladenen Notebooks oder die ZIP-Datei angeben.")
    return _assign(candidates, assignment, roster)


@dataclass
class _Candidate:
    path: Path
    folder: str  # Ordner der Datei unterhalb der Eingabe ("" = direkt in der Eingabe)
    modified: datetime
    alone: bool = False  # einziges Notebook in seinem Ordner (dann ist es wohl ein Ordner je Person)
    trusted_id: bool = False  # aus dem nbgrader-Austausch: der Ordnername ist die ID


def _from_exchange(submitted: Path, assignment: str) -> list[_Candidate]:
    if not submitted.is_dir():
        raise InputError(f"Kein Ordner {submitted}. Tipp: erst `nbgrader collect {assignment}` ausführen "
                         "oder einen Ordner bzw. eine ZIP-Datei mit Abgaben angeben.")
    found = []
    for folder in sorted(p for p in submitted.iterdir() if p.is_dir()):
        for notebook in sorted((folder / assignment).glob("*.ipynb")):
            stamp = folder / assignment / "timestamp.txt"
            modified = _read_timestamp(stamp) or datetime.fromtimestamp(notebook.stat().st_mtime)
            found.append(_Candidate(notebook, folder.name, modified, trusted_id=True))
    return found


def _from_folder(folder: Path, assignment: str) -> list[_Candidate]:
    notebooks = [p for p in sorted(folder.rglob("*.ipynb"))
                 if not any(part.startswith((".", "__MACOSX")) for part in p.relative_to(folder).parts)]
    per_folder: dict[Path, int] = {}
    for notebook in notebooks:  # .ipynb_checkpoints, versteckte Dateien und Mac-Reste sind schon weg
        per_folder[notebook.parent] = per_folder.get(notebook.parent, 0) + 1
    return [_Candidate(notebook, notebook.parent.name if notebook.parent != folder else "",
                       datetime.fromtimestamp(notebook.stat().st_mtime), alone=per_folder[notebook.parent] == 1)
            for notebook in notebooks]


def _unzip(archive: Path, target: Path) -> Path:
    """Entpackt nur .ipynb-Dateien, ohne Pfade außerhalb des Ziels, mit Größengrenze; Zeitstempel bleiben."""
    target = target / "zip"
    target.mkdir(parents=True, exist_ok=True)
    total = 0
    with zipfile.ZipFile(archive) as zipped:
        for info in zipped.infolist():
            parts = [p for p in Path(info.filename).parts if p not in ("", ".", "..", "/")]
            if info.is_dir() or not parts or not parts[-1].endswith(".ipynb"):
                continue
            total += info.file_size
            if total > MAX_ZIP_BYTES:
                raise InputError(f"Die ZIP-Datei {archive} ist entpackt größer als {MAX_ZIP_BYTES // 2**20} MB. "
                                 "Tipp: nur die Notebooks einpacken.")
            destination = target.joinpath(*parts)
            destination.parent.mkdir(parents=True, exist_ok=True)
            with zipped.open(info) as source, open(destination, "wb") as sink:
                shutil.copyfileobj(source, sink)
            stamp = datetime(*info.date_time).timestamp()
            os.utime(destination, (stamp, stamp))
    return target


def _assign(candidates: list[_Candidate], assignment: str, roster: list[Participant] | None) -> list[Submission]:
    by_key: dict[str, Participant] = {}
    for person in roster or []:
        for key in _keys(person):
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

    submissions = []
    for entries in grouped.values():
        entries.sort(key=lambda entry: entry[0].modified)
        candidate, person, flags = entries[-1]  # die neueste Abgabe gilt
        if len(entries) > 1:
            flags = flags + [f"doppelte Abgabe ({len(entries)} Dateien, neueste gilt: {candidate.path.name})"]
        submissions.append(Submission(person, candidate.path, candidate.modified, flags, sha256(candidate.path)))
    present = {s.participant.id for s in submissions}
    submissions += [Submission(person, None, flags=["fehlt"]) for person in roster or [] if person.id not in present]
    return sorted(submissions, key=lambda s: (s.participant.last_name.casefold(), s.participant.id))


def _label(candidate: _Candidate, assignment: str) -> tuple[str, list[str]]:
    """Wer hat abgegeben? Aus dem Dateinamen (Nachname_Vorname_AUFGABE) oder dem Ordner der Person."""
    if candidate.trusted_id:
        return candidate.folder, []
    token = rf"(^|_){re.escape(normalize(assignment))}(?=_|$)"  # der Aufgabenname als eigenes Wort
    stem = normalize(re.sub(r"\s*\(\d+\)$", "", candidate.path.stem))  # "Datei (1)" aus Downloads
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


def _keys(person: Participant) -> list[str]:
    keys = [person.id, normalize(f"{person.last_name}_{person.first_name}"),
            normalize(f"{person.first_name}_{person.last_name}")]
    if person.email:
        keys.append(normalize(person.email.split("@")[0]))
    return [key for key in keys if key]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def import_submission(submission: Submission, course: Path, assignment: str, notebook_name: str) -> Path:
    """Kopiert die Abgabe nach submitted/<id>/<aufgabe>/<notebook> (Original bleibt unverändert)."""
    folder = course / "submitted" / submission.participant.id / assignment
    target = folder / notebook_name
    if submission.path.resolve() != target.resolve():
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("*.ipynb"):
            old.unlink()
        shutil.copyfile(submission.path, target)
    stamp = folder / "timestamp.txt"
    if not stamp.exists() or submission.path.resolve() != target.resolve():
        stamp.write_text(submission.modified.strftime(TIMESTAMP_FORMAT), encoding="utf-8")
    return target


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
