"""Abgaben einer Kursgruppe bewerten: einsammeln, abgeschottet und parallel autograden, Gradebook,
Rückmeldungen (HTML) und Notentabelle (Excel-CSV und XLSX).

    python -m sozialraum.course grade 02_indikatoren abgaben.zip --teilnehmende teilnehmende.csv

Ohne EINGABE werden die Abgaben aus submitted/ des Kurses genommen (JupyterHub: nach ``nbgrader collect``).
Wiederholte Aufrufe sind gefahrlos: unveränderte Abgaben werden nicht neu bewertet (Handbewertungen im
Formgrader bleiben erhalten), geänderte ersetzen nur die Ergebnisse dieser Person. Originale bleiben unverändert.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

from sozialraum.course import autograde, report
from sozialraum.course.nbconfig import course_config, ensure_tools_on_path, find_course_root
from sozialraum.course.submissions import (TIMESTAMP_FORMAT, InputError, Participant, Submission, collect,
                                           import_submission, read_roster)

REPO_ROOT = Path(__file__).resolve().parents[3]
STATUS_FLAGS = {"timeout": "Zeitüberschreitung", "crash": "Absturz", "memory": "Speicherlimit",
                "invalid": "ungültige Datei", "error": "Bewertungsfehler"}


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
    try:
        outcome = grade_cohort(course, args.aufgabe, args.eingabe, roster_path=args.teilnehmende,
                               workers=args.parallel, cell_timeout=args.zeit_zelle,
                               notebook_timeout=args.zeit_notebook, memory_mb=args.speicher, force=args.neu)
    except (InputError, FileNotFoundError) as error:
        print(f"Fehler: {error}", file=sys.stderr)
        return 2
    print(outcome.summary())
    return 0


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


def _mean(rows: list[dict]) -> str:
    handed_in = [row["summe"] for row in rows if "fehlt" not in row["hinweise"]]
    return report.german_number(round(sum(handed_in) / len(handed_in), 2)) if handed_in else "-"


def grade_cohort(course: Path, assignment: str, source: Path | None, *, roster_path: Path | None = None,
                 workers: int = 2, cell_timeout: int = 120, notebook_timeout: int = 600, memory_mb: int = 2000,
                 force: bool = False, progress: bool = True) -> Outcome:
    """Bewertet alle Abgaben einer Übung; siehe Moduldokumentation."""
    course = Path(course).resolve()
    notebooks = autograde.source_notebooks(course, assignment)
    if len(notebooks) != 1:
        raise InputError(f"Die Übung {assignment} hat {len(notebooks)} Notebooks; unterstützt wird genau eines.")
    notebook = notebooks[0]
    ensure_tools_on_path()  # nbgrader ruft beim Anlegen eines Gradebooks `alembic` auf
    roster = read_roster(roster_path) if roster_path else None
    out = course / "bewertung" / assignment
    out.mkdir(parents=True, exist_ok=True)
    manifest_path = out / "abgaben.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8")) if manifest_path.exists() else {}
    config = _course_config(course)

    with tempfile.TemporaryDirectory(prefix="sozialraum-eingang-") as scratch:
        submissions = collect(Path(source).resolve() if source else None, course, assignment, roster, Path(scratch))
        present = [s for s in submissions if s.path is not None]
        imported = {s.participant.id: import_submission(s, course, assignment, notebook.name) for s in present}
        todo = [s for s in present if force or manifest.get(s.participant.id, {}).get("sha256") != s.sha256]
        if progress:
            print(f"{len(present)} Abgaben gefunden, {len(todo)} zu bewerten "
                  f"({len(present) - len(todo)} unverändert).", flush=True)
        results = autograde.autograde_notebooks(
            course, assignment, {s.participant.id: imported[s.participant.id] for s in todo}, workers=workers,
            cell_timeout=cell_timeout, notebook_timeout=notebook_timeout, memory_mb=memory_mb,
            progress=progress, hide=[p for p in (source, Path(scratch)) if p]) if todo else {}
        _ensure_assignment(course, assignment, config)
        for submission in todo:
            result = results[submission.participant.id]
            _merge(config, course, assignment, notebook, submission, result, imported[submission.participant.id])
            manifest[submission.participant.id] = _manifest_entry(submission, result)
        for submission in present:  # Hinweise (doppelt, unbekannt) gelten für diesen Lauf
            manifest[submission.participant.id]["hinweise"] = submission.flags
            manifest[submission.participant.id].update(_person(submission.participant))
    manifest_path.write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")

    _feedback(config, course, assignment, notebook, manifest)
    missing = [s.participant for s in submissions if s.path is None and s.participant.id not in manifest]
    header, rows = _table(config, assignment, notebook, manifest, missing)
    csv_path, xlsx_path = out / "noten.csv", out / "noten.xlsx"
    report.write_csv(csv_path, header, [[row[h] for h in header] for row in rows])
    report.write_xlsx(xlsx_path, header, [[row[h] for h in header] for row in rows], f"Noten {assignment}")
    return Outcome(assignment, [_summary_row(row) for row in rows], len(todo), len(present) - len(todo),
                   csv_path, xlsx_path, course / "feedback", autograde.isolation().describe())


def _course_config(course: Path):
    """Die nbgrader-Konfiguration des Kurses, ergänzt um das Feedback ohne verborgene Tests."""
    from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
    from nbgrader.preprocessors import GetGrades
    from traitlets.config import Config

    from sozialraum.course.feedback import HideHiddenTests

    config = Config()
    if (course / "nbgrader_config.py").exists():
        config.merge(course_config(course))
    config.CourseDirectory.root = str(course)
    config.GenerateFeedback.preprocessors = [GetGrades, HideHiddenTests, CSSHTMLHeaderPreprocessor]
    return config


def _db_url(config) -> str:
    from nbgrader.coursedir import CourseDirectory

    return CourseDirectory(config=config).db_url


def _ensure_assignment(course: Path, assignment: str, config) -> None:
    """Trägt die Übung ins Kurs-Gradebook ein (generate_assignment mit Ausgabe in einen Wegwerf-Ordner)."""
    import subprocess

    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(_db_url(config)) as gradebook:
        try:
            gradebook.find_assignment(assignment)
            return
        except MissingEntry:
            pass
    with tempfile.TemporaryDirectory(prefix="sozialraum-release-") as release:
        done = subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", assignment, "--force",
                               f"--CourseDirectory.release_directory={release}"],
                              cwd=course, capture_output=True, text=True)
    if done.returncode != 0 or "ERROR" in done.stderr:
        raise RuntimeError(f"Die Übung {assignment} ließ sich nicht ins Gradebook eintragen:\n{done.stderr[-2000:]}")


def _merge(config, course: Path, assignment: str, notebook: Path, submission: Submission,
           result: autograde.GradeResult, imported: Path) -> None:
    """Schreibt das Ergebnis einer Person ins Kurs-Gradebook und nach autograded/ (ersetzt nur diese Person)."""
    from nbgrader.api import Gradebook, MissingEntry
    from sqlalchemy.exc import SAWarning

    warnings.simplefilter("ignore", SAWarning)  # nbgrader's add_submission warnt harmlos über autoflush
    person = submission.participant
    folder = course / "autograded" / person.id / assignment
    shutil.rmtree(folder, ignore_errors=True)
    with Gradebook(_db_url(config)) as gradebook:
        gradebook.update_or_create_student(person.id, first_name=person.first_name or None,
                                           last_name=person.last_name or None, email=person.email or None)
        try:
            gradebook.remove_submission(assignment, person.id)
        except MissingEntry:
            pass
        if result.status == "invalid":
            return  # keine Notebook-Datei: nichts für den Formgrader; die Tabelle führt die Person trotzdem
        gradebook.add_submission(assignment, person.id, timestamp=submission.modified)
        for grade_id in [*result.max_scores, *result.manual_max_scores]:
            grade = gradebook.find_grade(grade_id, notebook.stem, assignment, person.id)
            grade.auto_score = result.scores.get(grade_id)
            grade.needs_manual_grade = grade_id in result.manual_max_scores
        gradebook.db.commit()
    folder.mkdir(parents=True)
    shutil.copyfile(result.autograded_notebook or imported, folder / notebook.name)
    shutil.copyfile(imported.parent / "timestamp.txt", folder / "timestamp.txt")


def _manifest_entry(submission: Submission, result: autograde.GradeResult) -> dict:
    return {
        "datei": str(submission.path),
        "sha256": submission.sha256,
        "zeitpunkt": submission.modified.strftime(TIMESTAMP_FORMAT),
        "status": result.status,
        "meldung": result.message,
        "punkte_automatisch": result.scores,
        "testzellen": result.changed_cells,
    }


def _person(person: Participant) -> dict:
    return {"nachname": person.last_name, "vorname": person.first_name, "email": person.email}


def _flags(entry: dict) -> list[str]:
    flags = list(entry.get("hinweise", []))
    if entry["status"] in STATUS_FLAGS:
        flags.append(STATUS_FLAGS[entry["status"]])
    changes = entry.get("testzellen", {})
    if any(kind == "gelöscht" for kind in changes.values()):
        flags.append("Testzellen gelöscht")
    if any(kind != "gelöscht" for kind in changes.values()):
        flags.append("Testzellen verändert")
    return flags


def _feedback(config, course: Path, assignment: str, notebook: Path, manifest: dict) -> None:
    """HTML-Rückmeldung je Person (nbgrader generate_feedback, ohne verborgene Tests, deutsch)."""
    from nbgrader.converters import GenerateFeedback
    from nbgrader.converters.base import NbGraderException
    from nbgrader.coursedir import CourseDirectory

    config.HTMLExporter.template_name = "feedback"
    coursedir = CourseDirectory(config=config)
    coursedir.assignment_id = assignment
    try:
        GenerateFeedback(coursedir=coursedir, config=config).start()
    except NbGraderException as error:
        raise RuntimeError(f"nbgrader generate_feedback ist fehlgeschlagen: {error}") from error
    for pid, entry in manifest.items():
        page = course / "feedback" / pid / assignment / f"{notebook.stem}.html"
        name = " ".join(filter(None, [entry.get("vorname"), entry.get("nachname")]))
        if entry["status"] == "invalid":
            report.problem_page(page, assignment, name, entry["meldung"])
        elif page.exists():
            note = entry["meldung"]
            if entry.get("testzellen"):
                note += (" Testzellen wurden verändert oder gelöscht; bewertet wurde mit den ursprünglichen Tests.")
            report.germanize_feedback(page, note.strip())


def _table(config, assignment: str, notebook: Path, manifest: dict,
           missing: list[Participant]) -> tuple[list[str], list[dict]]:
    """Eine Zeile je Person: Punkte je Aufgabe (auch Handbewertung aus dem Formgrader), Summe, Hinweise."""
    from nbgrader.api import Gradebook, MissingEntry

    auto_max, manual_max = autograde.grade_cells(notebook)
    tasks = [*auto_max, *manual_max]
    maximum = float(sum(auto_max.values()) + sum(manual_max.values()))
    header = ["id", "nachname", "vorname", "email", *tasks, "summe", "max", "hinweise", "datei"]
    rows = []
    with Gradebook(_db_url(config)) as gradebook:
        for pid, entry in manifest.items():
            flags = _flags(entry)
            scores = {gid: float(entry["punkte_automatisch"].get(gid, 0.0)) for gid in auto_max}
            scores.update({gid: "" for gid in manual_max})
            try:
                submitted = gradebook.find_submission_notebook(notebook.stem, assignment, pid)
                for grade in submitted.grades:
                    if grade.name in manual_max and grade.score is not None and not grade.needs_manual_grade:
                        scores[grade.name] = float(grade.score)
                    elif grade.name in auto_max and grade.manual_score is not None:
                        scores[grade.name] = float(grade.score)  # im Formgrader überschrieben
                if any(grade.needs_manual_grade for grade in submitted.grades):
                    flags.append("manuelle Bewertung nötig")
            except MissingEntry:
                pass
            total = sum(value for value in scores.values() if value != "")
            rows.append({"id": pid, "nachname": entry.get("nachname", ""), "vorname": entry.get("vorname", ""),
                         "email": entry.get("email", ""), **scores, "summe": float(total), "max": maximum,
                         "hinweise": flags, "datei": Path(entry["datei"]).name})
    for person in missing:
        rows.append({"id": person.id, **{k: v for k, v in zip(["nachname", "vorname", "email"],
                                                              [person.last_name, person.first_name, person.email])},
                     **{gid: "" for gid in tasks}, "summe": 0.0, "max": maximum, "hinweise": ["fehlt"], "datei": ""})
    rows.sort(key=lambda row: (row["nachname"].casefold(), row["vorname"].casefold(), row["id"]))
    for row in rows:
        row["hinweise"] = "; ".join(row["hinweise"])
    return header, rows


def _summary_row(row: dict) -> dict:
    name = " ".join(filter(None, [row["vorname"], row["nachname"]])) or row["id"]
    return {"id": row["id"], "name": f"{name} ({row['id']})", "summe": row["summe"], "max": row["max"],
            "hinweise": [flag for flag in row["hinweise"].split("; ") if flag]}
