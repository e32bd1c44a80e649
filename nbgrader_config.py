"""nbgrader-Konfiguration des Sozialraum-Kits (Kurswurzel = Wurzel des Repositorys).

Quelle (mit Lösungen und verborgenen Tests): solutions/; Ausgabe für Teilnehmende: exercises/ (erzeugt mit
``python -m sozialraum.course build``). Die Bewertungsdatenbank gradebook.db wird nicht eingecheckt.
"""
from pathlib import Path

from sozialraum.course.autograde import kit_preprocessors
from sozialraum.course.feedback import feedback_config

c = get_config()  # noqa: F821 (von nbgrader bereitgestellt)

c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "exercises"

# Ein Kurs ohne JupyterHub hat keinen nbgrader-Austausch; der Formgrader warnt sonst bei jedem Start, der Ordner
# /usr/local/share/nbgrader/exchange fehle. Deshalb ein Austausch-Ordner im Kurs (`python3 kurs.py formgrader` legt
# ihn an) und eine Kurskennung. Auf dem Kurs-Hub setzen Sie beide Werte weiter unten neu (Trainerhandbuch, Abschnitt 3).
c.CourseDirectory.course_id = "sozialraum"
c.Exchange.root = str(Path(__file__).resolve().parent / "austausch")

# Geodaten laden und verschneiden dauert: 120 s pro Zelle (Validate und Autograde).
c.Execute.timeout = 120

# Ausgaben auf stderr (Warnungen von pandas/geopandas, Fortschrittsbalken) kosten keine Punkte:
# nbgrader wertet sonst jede stderr-Ausgabe einer Testzelle als Fehler. Fehler (Exceptions) zählen weiter.
c.IgnorePattern.enabled = True
c.IgnorePattern.pattern = r"[\s\S]"
# Der Validate-Knopf kennt IgnorePattern nicht: In Kernen, die nbgrader startet (Validate, Autograde), schreiben
# Warnungen deshalb auf stdout statt stderr. Sie bleiben sichtbar, gelten aber nicht als Fehlschlag.
c.Execute.extra_arguments = [
    "--IPKernelApp.exec_lines="
    "__import__('warnings').showwarning = lambda message, category, filename, lineno, file=None, line=None: "
    "print(__import__('warnings').formatwarning(message, category, filename, lineno, line), end='')"
]

# Bewerten (auch mit dem Autograde-Knopf des Formgraders oder `nbgrader autograde`): nbgrader's Schritte, nur der
# Kernel läuft abgeschottet (bubblewrap), Testzellen mit Wächter, bewertete Notebooks ohne aktive Inhalte.
c.Autograde.sanitize_preprocessors, c.Autograde.autograde_preprocessors = kit_preprocessors()
# Formgrader und Feedback zeigen HTML aus Abgaben nur bereinigt, JavaScript-Ausgaben gar nicht.
c.HTMLExporter.sanitize_html = True

# Gelöschte Testzellen werden beim Bewerten aus der Quelle wiederhergestellt (samt verborgenen Tests).
c.OverwriteCells.add_missing_cells = True
c.OverwriteCells.missing_cell_notification = (
    "Diese Zelle (id:{cell_id}) fehlte in der Abgabe und wurde von nbgrader wiederhergestellt.\n\n"
)

# Verborgene Tests nur in Testzellen zulassen (sonst bricht generate_assignment ab).
c.ClearHiddenTests.enforce_metadata = True

# Platzhalter in den Übungen (deutsch).
c.ClearSolutions.code_stub = {"python": "# IHR CODE HIER\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "IHRE ANTWORT HIER"

# Rückmeldungen (generate_feedback, auch im Formgrader): deutsche Vorlage mit Aufgabennamen, ohne verborgene Tests,
# Fehlermeldungen ohne Pfade dieses Rechners.
feedback_config(c)

# Validate-Knopf: deutsche Meldungen.
c.Validator.changed_warning = (
    "DER INHALT VON {num_changed} TESTZELLE(N) WURDE VERÄNDERT!\n"
    "Beim Bewerten werden die ursprünglichen Tests verwendet. Tipp: Laden Sie die Übung neu herunter "
    "und übertragen Sie nur Ihre Antworten.\n"
)
c.Validator.type_changed_warning = (
    "DER TYP VON {num_changed} ZELLE(N) WURDE VERÄNDERT!\n"
    "Beim Bewerten wird der ursprüngliche Zelltyp verwendet. Tipp: Stellen Sie den Zelltyp wieder her.\n"
)
c.Validator.failed_warning = (
    "DIE PRÜFUNG IST IN {num_failed} ZELLE(N) FEHLGESCHLAGEN! So abgegeben, erhalten Sie nicht alle Punkte.\n"
    "Tipp: Lesen Sie die Meldung unter der jeweiligen Zelle und korrigieren Sie Ihre Antwort.\n"
)
c.Validator.passed_warning = "DAS NOTEBOOK HAT {num_passed} ZELLE(N) BESTANDEN!\n"
