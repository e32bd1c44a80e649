"""Abgaben einer Kursgruppe bewerten: einsammeln, abgeschottet und parallel autograden, Gradebook,
Rückmeldungen (HTML) und Notentabelle (Excel-CSV und XLSX).

    python -m sozialraum.course grade 02_indikatoren abgaben.zip --teilnehmende teilnehmende.csv

Ohne EINGABE werden die Abgaben aus submitted/ des Kurses genommen (JupyterHub: nach ``nbgrader collect``).
Wiederholte Aufrufe sind gefahrlos: unveränderte Abgaben werden nicht neu bewertet (Handbewertungen im
Formgrader bleiben erhalten), geänderte ersetzen nur die Ergebnisse dieser Person. Originale bleiben unverändert:
bewertet wird eine Kopie in einem temporären Ordner. Ein Kurs wird nie von zwei Läufen zugleich bewertet (Sperre),
Tabelle und Verzeichnis der Abgaben werden atomar geschrieben, Strg+C behält, was fertig ist.
"""
from __future__ import annotations

import argparse
import fcntl
import json
import shutil
import sys
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sozialraum.course import autograde, report, sandbox
from sozialraum.course.nbconfig import course_config, ensure_tools_on_path, find_course_root
from sozialraum.course.submissions import (TIMESTAMP_FORMAT, InputError, Participant, Submission, collect,
                                           read_roster)
from sozialraum.course.tasks import Part, graded_parts

REPO_ROOT = Path(__file__).resolve().parents[3]
STATUS_FLAGS = {"timeout": "Zeitüberschreitung", "crash": "Absturz", "memory": "Speicherlimit",
                "invalid": "ungültige Datei", "error": "Bewertungsfehler"}
TAMPERED_FLAG = "Manipulationsverdacht: von Hand prüfen"

# nbgrader's Fehlermeldungen (Ausschnitt des englischen Texts) -> was Lehrende tun können
NBGRADER_ERRORS = [
    ("database is locked", "Das Gradebook (gradebook.db) ist gerade von einem anderen Programm gesperrt, meist vom "
     "Formgrader oder einem zweiten nbgrader-Befehl. Tipp: dort das Speichern abwarten und den Befehl erneut aufrufen."),
    ("unable to open database file", "Das Gradebook (gradebook.db) lässt sich nicht öffnen. Tipp: Schreibrechte im "
     "Kursordner prüfen (der Befehl legt dort gradebook.db an)."),
    ("file is not a database", "Die Datei gradebook.db ist kein nbgrader-Gradebook (beschädigt?). Tipp: die Datei "
     "aus der Sicherung zurückholen; wurde noch nichts bewertet, die Datei löschen (sie wird neu angelegt)."),
    ("No assignment with ID", "Die Übung steht nicht im Gradebook. Tipp: den Namen wie den Ordner unter solutions/ "
     "schreiben; sonst `nbgrader generate_assignment ÜBUNG --force` im Kursordner ausführen."),
    ("No such assignment", "Die Übung steht nicht im Gradebook. Tipp: `nbgrader generate_assignment ÜBUNG --force` "
     "im Kursordner ausführen."),
    ("No notebooks found, did you forget", "Das Gradebook kennt kein Notebook dieser Übung – vermutlich wurde die "
     "Datei in solutions/ umbenannt. Tipp: `nbgrader generate_assignment ÜBUNG --force` ausführen, dann erneut bewerten."),
    ("No such notebook", "Das Notebook heißt im Gradebook anders als in solutions/ (umbenannt?). Tipp: "
     "`nbgrader generate_assignment ÜBUNG --force` ausführen, dann erneut bewerten."),
    ("No notebooks were matched", "nbgrader hat unter dem erwarteten Namen keine Abgabe gefunden. Tipp: der Befehl "
     "benennt Abgaben selbst richtig; bei eigenen nbgrader-Befehlen muss die Datei wie in solutions/ heißen."),
    ("No student with ID", "Die Person steht nicht im Gradebook. Tipp: den Bewertungsbefehl verwenden (er trägt "
     "Personen selbst ein) oder `nbgrader db student add ID`."),
    ("No such student", "Die Person steht nicht im Gradebook. Tipp: `nbgrader db student add ID`."),
    ("alembic", "nbgrader findet das Programm alembic nicht. Tipp: zuerst `source .venv/bin/activate`."),
]


def explain_nbgrader(error: object) -> str:
    """Deutsche Erklärung einer nbgrader-Fehlermeldung (mit dem Original in Klammern), sonst das Original."""
    text = str(error).strip()
    for fragment, german in NBGRADER_ERRORS:
        if fragment.casefold() in text.casefold():
            return f"{german} (nbgrader: {text[:200]})"
    return text


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("aufgabe", help="Name der Übung, z. B. 02_indikatoren (Ordner unter solutions/)")
    parser.add_argument("eingabe", nargs="?", type=Path,
                        help="Ordner oder ZIP-Datei mit den Abgaben (Nachname_Vorname_AUFGABE.ipynb oder ein "
                             "Ordner je Person); ohne Angabe: submitted/ des Kurses (nach nbgrader collect)")
    parser.add_argument("--teilnehmende", type=Path, metavar="CSV",
                        help="Teilnehmendenliste als Excel-CSV mit Semikolon: id;nachname;vorname;email")
    parser.add_argument("--parallel", type=int, default=2, metavar="N", help="gleichzeitige Bewertungen (2)")
    parser.add_argument("--kurs", type=Path, help="Kursordner mit nbgrader_config.py (Standard: dieser Kurs)")
    parser.add_argument("--zeit-zelle", type=int, default=120, metavar="S", help="Zeitlimit je Zelle (120 s)")
    parser.add_argument("--zeit-notebook", type=int, default=600, metavar="S",
                        help="Zeitlimit je Notebook (600 s)")
    parser.add_argument("--speicher", type=int, default=2000, metavar="MB", help="Speicherlimit je Abgabe (2000)")
    parser.add_argument("--neu", action="store_true", help="alle Abgaben neu bewerten, auch unveränderte")


def run(args: argparse.Namespace) -> int:
    course = (args.kurs or find_course()).resolve()
    limits = sandbox.Limits(cell_timeout=args.zeit_zelle, notebook_timeout=args.zeit_notebook,
                            memory_mb=args.speicher)
    try:
        outcome = grade_cohort(course, args.aufgabe, args.eingabe, roster_path=args.teilnehmende,
                               workers=args.parallel, limits=limits, force=args.neu)
    except (InputError, FileNotFoundError) as error:
        print(f"Fehler: {error}", file=sys.stderr)
        return 2
    except Interrupted as stop:
        print(stop.outcome.summary(), file=sys.stderr)
        print("\nAbgebrochen (Strg+C): die fertigen Bewertungen sind gespeichert; ein erneuter Aufruf bewertet "
              "nur den Rest.", file=sys.stderr)
        return 130
    except Exception as error:
        if not isinstance(error, _nbgrader_failures()):
            raise
        print(f"Fehler: {explain_nbgrader(error)}", file=sys.stderr)
        return 1
    print(outcome.summary())
    return 0


def _nbgrader_failures() -> tuple[type[BaseException], ...]:
    """Fehlerklassen von nbgrader und seinem Gradebook (erst bei Bedarf geladen: nbgrader zu importieren dauert)."""
    from nbgrader.api import MissingEntry
    from nbgrader.converters.base import NbGraderException
    from sqlalchemy.exc import SQLAlchemyError

    return (MissingEntry, NbGraderException, SQLAlchemyError, RuntimeError)


def find_course() -> Path:
    """Der nächste Ordner mit nbgrader_config.py ab dem aktuellen Verzeichnis, sonst dieses Repository."""
    try:
        return find_course_root()
    except FileNotFoundError:
        return REPO_ROOT


@dataclass
class Outcome:
    assignment: str
    rows: list[dict]
    graded: int
    reused: int
    csv_path: Path
    xlsx_path: Path
    feedback_dir: Path
    isolation: str
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (Datei, Grund) nicht bewerteter Eingaben

    def summary(self) -> str:
        flagged = [row for row in self.rows if row["hinweise"]]
        lines = [
            "",
            f"Bewertung der Übung {self.assignment} abgeschlossen.",
            f"  Teilnehmende in der Tabelle: {len(self.rows)}",
            f"  neu bewertet: {self.graded}, unverändert übernommen: {self.reused}",
            f"  Punkte im Mittel: {_mean(self.rows)} von {report.german_number(self._maximum())}",
            f"  mit Hinweisen: {len(flagged)}",
        ]
        lines += [f"    - {row['name']}: {', '.join(row['hinweise'])}" for row in flagged]
        if self.skipped:
            lines.append(f"  nicht bewertete Dateien: {len(self.skipped)}")
            lines += [f"    - {name}: {reason}" for name, reason in self.skipped]
        lines += [
            f"Notentabelle: {self.csv_path}",
            f"              {self.xlsx_path}",
            f"Rückmeldungen (HTML): {self.feedback_dir}/<id>/{self.assignment}/",
            "Von Hand zu bewertende Antworten: im Formgrader bewerten (siehe docs/Trainerhandbuch.md), "
            "danach diesen Befehl erneut ausführen, um Tabelle und Rückmeldungen zu aktualisieren.",
            self.isolation,
        ]
        return "\n".join(lines)

    def _maximum(self) -> float:
        return self.rows[0]["max"] if self.rows else 0.0


class Interrupted(Exception):
    """Strg+C: die Tabelle mit dem, was fertig war, ist geschrieben."""

    def __init__(self, outcome: Outcome):
        super().__init__("abgebrochen")
        self.outcome = outcome


def _mean(rows: list[dict]) -> str:
    handed_in = [row["summe"] for row in rows if "fehlt" not in row["hinweise"]]
    return report.german_number(round(sum(handed_in) / len(handed_in), 2)) if handed_in else "-"


@contextmanager
def course_lock(course: Path):
    """Eine Bewertung je Kurs zur Zeit (Sperrdatei bewertung/.sperre, gelöst auch beim Absturz)."""
    folder = course / "bewertung"
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".sperre", "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise InputError("In diesem Kurs läuft gerade schon eine Bewertung. Tipp: warten, bis sie fertig ist, "
                             "und dann erneut aufrufen.") from None
        yield


def grade_cohort(course: Path, assignment: str, source: Path | None, *, roster_path: Path | None = None,
                 workers: int = 2, limits: sandbox.Limits | None = None, force: bool = False,
                 progress: bool = True) -> Outcome:
    """Bewertet alle Abgaben einer Übung; siehe Moduldokumentation."""
    course = Path(course).resolve()
    limits = limits or sandbox.Limits()
    notebooks = autograde.source_notebooks(course, assignment)
    if len(notebooks) != 1:
        raise InputError(f"Die Übung {assignment} hat {len(notebooks)} Notebooks; unterstützt wird genau eines.")
    notebook = notebooks[0]
    if not sandbox.available():
        raise InputError("Bewerten geht nur abgeschottet, und bubblewrap fehlt hier (oder dieses System erlaubt "
                         "keine Namensräume). Abgaben sind fremder Code: er liefe sonst mit Ihren Rechten. Tipp: "
                         "`sudo apt-get install bubblewrap`, oder in einer Linux-VM bzw. auf dem Kurs-Hub bewerten "
                         "(Trainerhandbuch, Abschnitt 10).")
    ensure_tools_on_path()  # Werkzeuge der Umgebung (alembic) auch ohne aktivierte Umgebung, falls nbgrader sie ruft
    roster = read_roster(roster_path) if roster_path else None
    with course_lock(course):
        return _grade_locked(course, assignment, notebook, source, roster, workers, limits, force, progress)


def _grade_locked(course, assignment, notebook, source, roster, workers, limits, force, progress) -> Outcome:
    out = course / "bewertung" / assignment
    out.mkdir(parents=True, exist_ok=True)
    manifest_path = out / "abgaben.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8")) if manifest_path.exists() else {}
    scratch = sandbox.run_folder("sozialraum-eingang-")
    interrupted = False
    try:
        found = collect(Path(source).resolve() if source else None, course, assignment, roster, scratch)
        submissions = found.submissions
        _adopt_roster_ids(manifest, submissions)
        present = [s for s in submissions if s.path is not None]
        staging = scratch / "abgaben"
        release = _release(course, assignment, notebook)
        todo, invalid = [], []
        for s in present:
            entry = manifest.get(s.participant.id, {})
            if not force and entry.get("sha256") == s.sha256 and entry.get("status") not in (None, "error"):
                continue
            problem = autograde.check_notebook(s.path, notebook)
            (invalid if problem else todo).append((s, problem))
        if progress:
            print(f"{len(present)} Abgaben gefunden, {len(todo) + len(invalid)} zu bewerten "
                  f"({len(present) - len(todo) - len(invalid)} unverändert).", flush=True)
        config = _grading_config(course, staging, limits)
        _ensure_assignment(course, assignment, config)
        for s, _ in todo:
            _stage(s, staging, assignment, notebook.name)
            _register_student(config, s.participant)
        for s, problem in invalid:
            _forget_submission(config, course, assignment, s.participant)
            manifest[s.participant.id] = _manifest_entry(s, "invalid", problem, {}, "")

        by_id = {s.participant.id: s for s, _ in todo}

        def finished(student: str, run: dict) -> None:
            s = by_id[student]
            autograded = course / "autograded" / student / assignment / notebook.name
            status, message = autograde.status_of(run, autograded if autograded.exists() else None, limits)
            if status == "error":
                message = f"nbgrader konnte das Notebook nicht bewerten: {explain_nbgrader(run.get('error') or '')}"
            changes = autograde.changed_test_cells(s.path, release) if status != "error" else {}
            manifest[student] = _manifest_entry(s, status, message, changes, run.get("tampered", ""))
            if run.get("feedback_error"):
                manifest[student]["feedback_fehler"] = run["feedback_error"]
            _write_manifest(manifest_path, manifest)

        try:
            autograde.run_autograde(config, assignment, [s.participant.id for s, _ in todo], workers=workers,
                                    feedback=True, progress=progress, on_result=finished)
        except KeyboardInterrupt:
            interrupted = True
        for s in present:  # Hinweise (doppelt, unbekannt) gelten für diesen Lauf; Namen gehen nie verloren
            if s.participant.id in manifest:
                manifest[s.participant.id]["hinweise"] = s.flags
                _keep_person(manifest[s.participant.id], s.participant)
        _write_manifest(manifest_path, manifest)
        graded_ids = [s.participant.id for s, _ in todo if s.participant.id in manifest]
        _feedback(config, course, assignment, notebook, manifest, regenerate=set(manifest) - set(graded_ids))
        missing = [s.participant for s in submissions if s.path is None and s.participant.id not in manifest]
        header, rows = _table(config, assignment, notebook, manifest, missing)
        csv_path, xlsx_path = out / "noten.csv", out / "noten.xlsx"
        report.write_csv(csv_path, header, [[row[h] for h in header] for row in rows])
        report.write_xlsx(xlsx_path, header, [[row[h] for h in header] for row in rows], f"Noten {assignment}")
        report.write_csv(out / "dateien.csv", ["datei", "ergebnis"], found.listing)
        outcome = Outcome(assignment, [_summary_row(row) for row in rows], len(graded_ids) + len(invalid),
                          len(present) - len(todo) - len(invalid), csv_path, xlsx_path, course / "feedback",
                          sandbox.describe(), found.skipped)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if interrupted:
        raise Interrupted(outcome)
    return outcome


def _grading_config(course: Path, staging: Path, limits: sandbox.Limits):
    """Konfiguration des Kurses + Bewertung aus dem temporären Eingang + deutsche Rückmeldung."""
    from sozialraum.course.feedback import feedback_config

    loaded = course_config(course) if (course / "nbgrader_config.py").exists() else {}
    config = autograde.grading_config(loaded, course, limits=limits, submitted=staging)
    feedback_config(config)
    config.HTMLExporter.sanitize_html = True
    return config


def _db_url(config) -> str:
    from nbgrader.coursedir import CourseDirectory

    return CourseDirectory(config=config).db_url


def _ensure_assignment(course: Path, assignment: str, config) -> None:
    """Trägt die Übung samt Notebooks ins Kurs-Gradebook ein (generate_assignment in einen Wegwerf-Ordner).

    Steht sie schon ohne Notebooks darin (z. B. nur mit Abgabetermin aus `nbgrader db assignment add`), trägt
    nbgrader die Notebooks nach; der Abgabetermin bleibt.
    """
    import tempfile

    from nbgrader.api import Gradebook, MissingEntry
    from nbgrader.converters import GenerateAssignment
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config import Config

    with Gradebook(_db_url(config)) as gradebook:
        try:
            if gradebook.find_assignment(assignment).notebooks:
                return
        except MissingEntry:
            pass
    with tempfile.TemporaryDirectory(prefix="sozialraum-release-") as release:
        local = Config()
        local.merge(config)
        local.CourseDirectory.release_directory = release
        coursedir = CourseDirectory(config=local)
        coursedir.assignment_id = assignment
        try:
            GenerateAssignment(coursedir=coursedir, config=local).start()
        except Exception as error:
            raise RuntimeError(f"Die Übung {assignment} ließ sich nicht ins Gradebook eintragen: "
                               f"{explain_nbgrader(error)}") from error


def _release(course: Path, assignment: str, notebook: Path) -> Path:
    """Die Ausgabe (exercises/), gegen die veränderte Testzellen erkannt werden; sonst die Quelle."""
    release = course / "exercises" / assignment / notebook.name
    return release if release.exists() else notebook


SECRET_MAX_BYTES = 1024  # nbgrader schreibt eine kurze Zufallskennung


def _stage(submission: Submission, staging: Path, assignment: str, notebook_name: str) -> None:
    """Kopie der Abgabe unter dem erwarteten Namen, mit Zeitstempel (das Original bleibt unberührt)."""
    folder = staging / submission.participant.id / assignment
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(submission.path, folder / notebook_name)
    secret = submission.path.parent / "submission_secret.txt"  # vom Hub (nbgrader collect); release_feedback braucht es
    if secret.is_file() and not secret.is_symlink() and secret.stat().st_size <= SECRET_MAX_BYTES:
        shutil.copyfile(secret, folder / secret.name)  # kein Link auf fremde Dateien, keine riesige Datei
    (folder / "timestamp.txt").write_text(submission.modified.strftime(TIMESTAMP_FORMAT), encoding="utf-8")


def _register_student(config, person: Participant) -> None:
    from nbgrader.api import Gradebook

    fields = {"first_name": person.first_name, "last_name": person.last_name, "email": person.email}
    with Gradebook(_db_url(config)) as gradebook:
        gradebook.update_or_create_student(person.id, **{k: v for k, v in fields.items() if v})


def _forget_submission(config, course: Path, assignment: str, person: Participant) -> None:
    """Ungültige neue Abgabe: frühere Bewertung dieser Person gilt nicht mehr (die Zeile bleibt)."""
    from nbgrader.api import Gradebook, MissingEntry

    _register_student(config, person)
    with Gradebook(_db_url(config)) as gradebook:
        try:
            gradebook.remove_submission(assignment, person.id)
        except MissingEntry:
            pass
    shutil.rmtree(course / "autograded" / person.id / assignment, ignore_errors=True)


def _adopt_roster_ids(manifest: dict, submissions: list[Submission]) -> None:
    """Erst ohne, dann mit Teilnehmendenliste: frühere Einträge (ID aus dem Namen) gehen in der Listen-ID auf."""
    from sozialraum.course.submissions import person_keys

    for s in submissions:
        for key in person_keys(s.participant):
            if key != s.participant.id and key in manifest and s.participant.id not in manifest:
                old = manifest.pop(key)
                old["sha256"] = ""  # unter der neuen ID neu bewerten
                manifest[s.participant.id] = old


def _keep_person(entry: dict, person: Participant) -> None:
    for key, value in (("nachname", person.last_name), ("vorname", person.first_name), ("email", person.email)):
        if value or key not in entry:
            entry[key] = value


def _manifest_entry(submission: Submission, status: str, message: str, changes: dict, tampered: str) -> dict:
    entry = {
        "datei": str(submission.path),
        "sha256": submission.sha256,
        "zeitpunkt": submission.modified.strftime(TIMESTAMP_FORMAT) if submission.modified else "",
        "status": status,
        "meldung": message,
        "testzellen": changes,
        "manipulation": tampered,
    }
    _keep_person(entry, submission.participant)
    return entry


def _write_manifest(path: Path, manifest: dict) -> None:
    report.write_atomic(path, json.dumps(manifest, ensure_ascii=False, indent=1))


def _flags(entry: dict) -> list[str]:
    flags = list(entry.get("hinweise", []))
    if entry["status"] in STATUS_FLAGS:
        flags.append(STATUS_FLAGS[entry["status"]])
    if entry.get("manipulation"):
        flags.append(TAMPERED_FLAG)
    changes = entry.get("testzellen", {})
    if any(kind == "gelöscht" for kind in changes.values()):
        flags.append("Testzellen gelöscht")
    if any(kind != "gelöscht" for kind in changes.values()):
        flags.append("Testzellen verändert")
    if entry.get("feedback_fehler"):
        flags.append("Rückmeldung fehlgeschlagen")
    return flags


def _feedback(config, course: Path, assignment: str, notebook: Path, manifest: dict, regenerate: set[str]) -> None:
    """HTML-Rückmeldung je Person: nbgrader generate_feedback mit der deutschen Vorlage, ohne verborgene Tests.

    Neu erzeugt wird für ``regenerate`` (unverändert übernommene Abgaben: Handbewertungen können neu sein) und für
    jede Abgabe mit Hinweis zur Bewertung; die übrigen hat der Arbeitsprozess gleich nach dem Bewerten erzeugt.
    Ein Fehler betrifft nur die Rückmeldung dieser Person (Hinweis in der Tabelle).
    """
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config import Config

    from sozialraum.course.feedback import ReusableFeedback

    converters: dict[str, ReusableFeedback] = {}  # je Hinweis einer (Vorlagen einmal übersetzt), meist nur ""
    for pid, entry in manifest.items():
        page = course / "feedback" / pid / assignment / f"{notebook.stem}.html"
        name = " ".join(filter(None, [entry.get("vorname"), entry.get("nachname")]))
        try:
            if entry["status"] == "invalid":
                report.problem_page(page, assignment, name, entry["meldung"])
                continue
            note = _feedback_note(entry)
            if (pid in regenerate or note) and (course / "autograded" / pid / assignment / notebook.name).exists():
                if note not in converters:
                    local = Config()
                    local.merge(config)
                    local.GermanFeedback.note = note
                    converters[note] = ReusableFeedback(coursedir=CourseDirectory(config=local), config=local)
                converter = converters[note]
                converter.coursedir.assignment_id, converter.coursedir.student_id = assignment, pid
                converter.start()
        except Exception as error:  # noqa: BLE001 - eine kaputte Rückmeldung darf den Lauf nicht beenden
            entry["feedback_fehler"] = f"{type(error).__name__}: {error}"[:300]


def _feedback_note(entry: dict) -> str:
    """Hinweis zur Bewertung oben in der Rückmeldung (leer, wenn alles gewöhnlich lief)."""
    note = entry["meldung"] if entry["status"] != "ok" else ""
    if entry.get("testzellen"):
        note += " Testzellen wurden verändert oder gelöscht; bewertet wurde mit den ursprünglichen Tests."
    if entry.get("manipulation"):
        note += (" Die Testumgebung wurde verändert; betroffene Tests zählen nicht, die Lehrenden "
                 "prüfen die Abgabe von Hand.")
    return note.strip()


BLANK_FLAG = "leer / unbearbeitet"
PENDING = "von Hand zu bewerten"
REVIEW_FLAG = "Handbewertung prüfen (Abgabe neu bewertet)"


def _columns(notebook: Path) -> list[tuple[str, Part]]:
    """(Spaltenname, Teil) je bewertetem Teil: der Name der Aufgabe aus dem Notebook, eindeutig."""
    import nbformat

    columns, seen = [], set()
    for part in graded_parts(nbformat.read(notebook, as_version=4)):
        title = part.title + (" (von Hand)" if part.manual else "")
        name, number = title, 2
        while name in seen or name in FIXED_COLUMNS:
            name, number = f"{title} ({number})", number + 1
        seen.add(name)
        columns.append((name, part))
    return columns


FIXED_COLUMNS = ("id", "nachname", "vorname", "email", "abzug", "summe", "max", "hinweise", "datei")


def _table(config, assignment: str, notebook: Path, manifest: dict,
           missing: list[Participant]) -> tuple[list[str], list[dict]]:
    """Eine Zeile je Person aus dem Kurs-Gradebook: Punkte je Aufgabe (auch Handbewertung), Summe, Hinweise.

    Eine Textantwort ohne Punkte steht als „von Hand zu bewerten“ da; eine unveränderte Antwort hat nbgrader's
    automatische 0. Eine Abgabe, in der keine Antwortzelle verändert wurde, heißt „leer / unbearbeitet“.
    """
    from nbgrader.api import Gradebook, MissingEntry
    from sqlalchemy.exc import SAWarning

    warnings.simplefilter("ignore", SAWarning)
    columns = _columns(notebook)
    maximum = float(sum(part.points for _, part in columns))
    header = ["id", "nachname", "vorname", "email", *(name for name, _ in columns), "abzug", "summe", "max",
              "hinweise", "datei"]
    rows = []
    with Gradebook(_db_url(config)) as gradebook:
        for pid, entry in manifest.items():
            flags = _flags(entry)
            scores: dict[str, float | str] = {name: ("" if part.manual else 0.0) for name, part in columns}
            penalty = 0.0
            if entry["status"] != "invalid":
                try:
                    submitted = gradebook.find_submission_notebook(notebook.stem, assignment, pid)
                except MissingEntry:
                    submitted = None
                if submitted is not None:
                    grades = {grade.name: grade for grade in submitted.grades}
                    for name, part in columns:
                        scores[name] = _part_score(part, grades)
                    penalty = float(submitted.late_submission_penalty or 0.0)
                    if submitted.comments and all(c.auto_comment == report.NO_RESPONSE for c in submitted.comments):
                        flags.append(BLANK_FLAG)
                    elif PENDING in scores.values():
                        flags.append(PENDING)
                    if any(g.needs_manual_grade and g.manual_score is not None for g in grades.values()):
                        flags.append(REVIEW_FLAG)
                    if penalty:
                        flags.append("verspätet")
            total = sum(value for value in scores.values() if not isinstance(value, str)) - penalty
            rows.append({"id": pid, "nachname": entry.get("nachname", ""), "vorname": entry.get("vorname", ""),
                         "email": entry.get("email", ""), **scores, "abzug": penalty,
                         "summe": round(float(max(total, 0.0)), 2), "max": maximum, "hinweise": flags,
                         "datei": Path(entry["datei"]).name})
    for person in missing:
        rows.append({"id": person.id, "nachname": person.last_name, "vorname": person.first_name,
                     "email": person.email, **{name: "" for name, _ in columns}, "abzug": 0.0, "summe": 0.0,
                     "max": maximum, "hinweise": ["fehlt"], "datei": ""})
    rows.sort(key=lambda row: (row["nachname"].casefold(), row["vorname"].casefold(), row["id"]))
    for row in rows:
        row["hinweise"] = "; ".join(row["hinweise"])
    return header, rows


def _part_score(part: Part, grades: dict) -> float | str:
    """Punkte eines Teils nach nbgrader (Handbewertung vor automatischer).

    Eine Textantwort ohne Punkte ist „von Hand zu bewerten“; eine Testzelle ohne Punkte (in der Abgabe gelöscht und
    nicht wiederhergestellt) zählt 0.
    """
    total = 0.0
    for grade_id in part.grade_ids:
        grade = grades.get(grade_id)
        if grade is None:
            continue
        if part.manual and grade.manual_score is None and grade.auto_score is None:
            return PENDING
        total += float(grade.score)
    return round(total, 2)


def _summary_row(row: dict) -> dict:
    name = " ".join(filter(None, [row["vorname"], row["nachname"]])) or row["id"]
    return {"id": row["id"], "name": f"{name} ({row['id']})", "summe": row["summe"], "max": row["max"],
            "hinweise": [flag for flag in row["hinweise"].split("; ") if flag]}
