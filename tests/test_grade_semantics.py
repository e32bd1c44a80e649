"""nbgrader's Bewertungsregeln gelten auch im Bewertungsbefehl (echte nbgrader-Läufe mit der Mini-Übung).

- Eine unveränderte Textantwort bekommt nbgrader's automatische 0 und den Kommentar „No response.“; Tabelle und
  Rückmeldung zeigen das deutsch („leer / unbearbeitet“, „Keine Antwort abgegeben.“).
- Eine Handbewertung aus dem Gradebook (Formgrader) übersteht eine Neubewertung und ist, wie nbgrader es macht,
  zur Durchsicht markiert.
- Mit Abgabetermin im Gradebook und einer Abzugsregel in der Kurskonfiguration (nbgrader's AssignLatePenalties)
  bekommt eine verspätete Abgabe den Abzug.
- Wächter: nbgrader's Standardlisten der Autograde-Schritte sind die, in die das Kit seine Schritte einsetzt.
- nbgrader's Fehlermeldungen erreichen Lehrende deutsch, mit Tipp.
"""
import csv
import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

import grading_variants as gv
from sozialraum.course import sandbox
from sozialraum.course.__main__ import main
from sozialraum.course.autograde import kit_preprocessors
from sozialraum.course.grade import BLANK_FLAG, PENDING, REVIEW_FLAG, explain_nbgrader, grade_cohort

A1 = "Aufgabe 1: Speichern Sie die Summe von 1, 2 und 3 als int in summe."
A2 = "Aufgabe 2: Schreiben Sie quote(zaehler, nenner), die den Anteil in …"
A3 = "Aufgabe 3: Was bedeutet eine Quote von 25 %? Antworten Sie in einem … (von Hand)"
DUE = "2026-06-01 12:00:00 UTC"
ON_TIME = datetime(2026, 5, 1, 9, 0, tzinfo=timezone.utc).timestamp()
LATE = datetime(2026, 7, 1, 9, 0, tzinfo=timezone.utc).timestamp()
LIMITS = sandbox.Limits(cell_timeout=15, notebook_timeout=60, memory_mb=1000)
ENV = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin"}


def table(path: Path) -> dict[str, dict]:
    rows = csv.DictReader(path.read_bytes().decode("utf-8-sig").splitlines(), delimiter=";")
    return {row["id"]: row for row in rows}


def feedback(course: Path, pid: str) -> str:
    return (course / "feedback" / pid / "mini" / "mini.html").read_text(encoding="utf-8")


def gradebook(course: Path):
    from nbgrader.api import Gradebook

    return Gradebook(f"sqlite:///{course / 'gradebook.db'}")


def submit(inbox: Path, name: str, text: str, when: float) -> None:
    (inbox / name).write_text(text, encoding="utf-8")
    os.utime(inbox / name, (when, when))


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Kurs mit Abgabetermin (nbgrader db assignment add) und Abzugsregel „zero“ in nbgrader_config.py."""
    base = tmp_path_factory.mktemp("regeln")
    course = gv.make_course(base / "kurs")
    with open(course / "nbgrader_config.py", "a", encoding="utf-8") as config:
        config.write('\n# verspätet abgegeben: 0 Punkte (nbgrader\'s LateSubmissionPlugin)\n'
                     'c.LateSubmissionPlugin.penalty_method = "zero"\n')
    subprocess.run([sys.executable, "-m", "nbgrader", "db", "assignment", "add", "mini", f"--duedate={DUE}"],
                   cwd=course, check=True, capture_output=True, env=ENV)
    release = gv.release_notebook(course)
    inbox = base / "eingang"
    inbox.mkdir()
    submit(inbox, "Alt_Anna_mini.ipynb", gv.untouched(release), ON_TIME)
    submit(inbox, "Berg_Bernd_mini.ipynb", gv.correct(release), ON_TIME)
    submit(inbox, "Spaet_Sina_mini.ipynb", gv.correct(release), LATE)
    failing = gv.answered(release, a1_loesung="import json\nsumme = json.loads('{')", a2_loesung=gv.WRONG_QUOTE)
    submit(inbox, "Cem_Can_mini.ipynb", gv.dumps(failing), ON_TIME)
    outcome = grade_cohort(course, "mini", inbox, workers=2, limits=LIMITS, progress=False)
    return {"course": course, "inbox": inbox, "release": release, "rows": table(outcome.csv_path),
            "outcome": outcome}


def test_untouched_manual_answer_gets_nbgraders_automatic_zero_shown_in_german(graded):
    course, row = graded["course"], graded["rows"]["alt_anna"]
    with gradebook(course) as gb:
        grade = gb.find_grade("a3_antwort", "mini", "mini", "alt_anna")
        assert (grade.auto_score, grade.manual_score, grade.needs_manual_grade) == (0.0, None, False)
        assert gb.find_comment("a3_antwort", "mini", "mini", "alt_anna").auto_comment == "No response."
    assert (row[A1], row[A2], row[A3], row["summe"]) == ("0", "0", "0", "0")
    assert row["hinweise"] == BLANK_FLAG  # nicht „von Hand zu bewerten“: es gibt nichts zu bewerten
    page = feedback(course, "alt_anna")
    assert "Keine Antwort abgegeben." in page and "No response." not in page
    assert "Ergebnis: 0 von 4 Punkten" in page


def test_answered_text_waits_for_the_trainer(graded):
    course, row = graded["course"], graded["rows"]["berg_bernd"]
    assert (row[A1], row[A2], row[A3], row["summe"], row["max"]) == ("1", "2", PENDING, "3", "4")
    assert row["hinweise"] == PENDING
    page = feedback(course, "berg_bernd")
    assert "Ergebnis: 3 von 4 Punkten" in page and "Textantworten werden noch von Hand bewertet" in page
    assert "wird noch von Hand bewertet (höchstens 1 Punkt)" in page
    for english in ("Score", "Test cell", "Student's answer", "Written response", "Comments:"):
        assert english not in page, english


def test_feedback_names_tasks_and_hides_the_machines_paths(graded):
    page = feedback(graded["course"], "cem_can")
    assert "Prüfung: Aufgabe 1: Speichern Sie die Summe" in page and "1 von 1 Punkt" not in page
    assert "Aufgabe 2: Schreiben Sie quote(zaehler, nenner)" in page and "0 von 2 Punkten" in page
    assert "Fehler in Ihrem Code (gekürzt auf Ihre Zeilen):" in page and "Zelle In [1], Zeile 2" in page
    assert "… gemeldet aus: json" in page and "JSONDecodeError" in page
    assert "Die Prüfung brach mit einem Fehler ab: NameError" in page  # Aufgabe 1: summe fehlt
    assert "Prüfung nicht bestanden: quote(1, 4) soll 25.0 sein." in page
    assert page.count("<body") == 1 and page.count("</html>") == 1
    for secret in (str(graded["course"]), sys.prefix, "site-packages", "python3.", str(Path.home()), "/tmp/"):
        assert secret not in page, secret


def test_late_submission_gets_the_course_penalty(graded):
    course, late, on_time = graded["course"], graded["rows"]["spaet_sina"], graded["rows"]["berg_bernd"]
    with gradebook(course) as gb:
        assert gb.find_submission("mini", "spaet_sina").total_seconds_late > 29 * 24 * 3600
        assert gb.find_submission_notebook("mini", "mini", "spaet_sina").late_submission_penalty == 3.0
        assert gb.find_submission("mini", "berg_bernd").total_seconds_late == 0
    assert (late[A1], late[A2], late["abzug"], late["summe"]) == ("1", "2", "3", "0")
    assert "verspätet" in late["hinweise"] and "verspätet" not in on_time["hinweise"]
    assert on_time["abzug"] == "0"
    assert "Abzug wegen verspäteter Abgabe: −3 Punkte" in feedback(course, "spaet_sina")


def test_manual_grade_survives_a_regrade_and_is_marked_for_review(graded):
    course, inbox = graded["course"], graded["inbox"]
    with gradebook(course) as gb:  # wie im Formgrader: Punkte und Kommentar eintragen
        grade = gb.find_grade("a3_antwort", "mini", "mini", "berg_bernd")
        grade.manual_score, grade.needs_manual_grade = 1.0, False
        gb.find_comment("a3_antwort", "mini", "mini", "berg_bernd").manual_comment = "Gut begründet."
        gb.db.commit()
    code = main(["grade", "mini", str(inbox), "--kurs", str(course), "--zeit-zelle", "15", "--zeit-notebook", "60",
                 "--speicher", "1000"])
    assert code == 0
    rows = table(course / "bewertung" / "mini" / "noten.csv")
    assert (rows["berg_bernd"][A3], rows["berg_bernd"]["summe"], rows["berg_bernd"]["hinweise"]) == ("1", "4", "")
    assert "Gut begründet." in feedback(course, "berg_bernd")  # Rückmeldung nach der Handbewertung neu erzeugt
    assert "Ergebnis: 4 von 4 Punkten" in feedback(course, "berg_bernd")

    text = (inbox / "Berg_Bernd_mini.ipynb").read_text(encoding="utf-8")  # neue Fassung derselben Antworten
    submit(inbox, "Berg_Bernd_mini.ipynb", text.replace("Ein Viertel", "Ein  Viertel"), ON_TIME + 60)
    code = main(["grade", "mini", str(inbox), "--kurs", str(course), "--zeit-zelle", "15", "--zeit-notebook", "60",
                 "--speicher", "1000"])
    assert code == 0
    with gradebook(course) as gb:
        grade = gb.find_grade("a3_antwort", "mini", "mini", "berg_bernd")
        assert (grade.manual_score, grade.needs_manual_grade) == (1.0, True)  # nbgrader: behalten, zur Durchsicht
    row = table(course / "bewertung" / "mini" / "noten.csv")["berg_bernd"]
    assert (row[A3], row["summe"]) == ("1", "4") and row["hinweise"] == REVIEW_FLAG
    assert "Gut begründet." in feedback(course, "berg_bernd")


def test_nbgraders_default_steps_are_the_ones_the_kit_extends():
    """Wächter: ändert nbgrader (Update) seine Standardlisten, muss das Kit bewusst angepasst werden."""
    from nbgrader.converters import Autograde

    names = lambda classes: [c.__name__ for c in classes]  # noqa: E731
    defaults = Autograde.class_traits()
    assert names(defaults["sanitize_preprocessors"].default()) == [
        "ClearOutput", "DeduplicateIds", "OverwriteKernelspec", "OverwriteCells", "CheckCellMetadata"]
    assert names(defaults["autograde_preprocessors"].default()) == [
        "Execute", "IgnorePattern", "ClearMetadataPreprocessor", "LimitOutput", "SaveAutoGrades",
        "AssignLatePenalties", "CheckCellMetadata"]
    sanitize, autograde = kit_preprocessors()
    assert names(sanitize) == ["ClearOutput", "DropCopiedTestCells", "DeduplicateIds", "OverwriteKernelspec",
                               "OverwriteCells", "CheckCellMetadata"]
    assert names(autograde) == [
        "SandboxedExecute", "IgnorePattern", "ClearMetadataPreprocessor", "LimitOutput", "TruncateOutputs",
        "SanitizeNotebook", "SaveAutoGrades", "AssignLatePenalties", "CheckCellMetadata"]


def test_nbgrader_failures_reach_the_trainer_in_german(tmp_path, capsys):
    locked = explain_nbgrader("(sqlite3.OperationalError) database is locked")
    assert locked.startswith("Das Gradebook (gradebook.db) ist gerade") and "Tipp:" in locked
    assert "database is locked" in locked  # das Original bleibt für die Suche im Netz
    assert explain_nbgrader("No assignment with ID 'x' exists in the database").startswith("Die Übung steht nicht")
    assert explain_nbgrader("etwas ganz anderes") == "etwas ganz anderes"

    course = gv.make_course(tmp_path / "kurs")  # das Gradebook ist keine SQLite-Datei: nbgrader scheitert
    (course / "gradebook.db").write_text("kein Gradebook", encoding="utf-8")
    inbox = tmp_path / "eingang"
    inbox.mkdir()
    (inbox / "Berg_Bernd_mini.ipynb").write_text(gv.correct(gv.release_notebook(course)), encoding="utf-8")
    assert main(["grade", "mini", str(inbox), "--kurs", str(course)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("Fehler: Die Datei gradebook.db ist kein nbgrader-Gradebook") and "Traceback" not in err
