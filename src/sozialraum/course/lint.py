"""Statische Prüfung einer Übung: Punkte, sichtbare und verborgene Tests, Aufgabentexte, Meldungen, Ausgabe.

Regeln für Autorinnen und Autoren von Übungen (solutions/NN_slug/NN_slug.ipynb):
- Jede Antwortzelle (nbgrader: "Autograded answer") hat danach mindestens eine Testzelle ("Autograder tests")
  mit Punkten > 0. Die Tests verwenden die Variablen, die die Lösung zuweist (das sind die Antworten).
- Die Markdown-Zelle direkt davor nennt jede Antwortvariable in Backticks (`name`) und ihren Typ
  (int, float, str, bool, list, dict, tuple, DataFrame, GeoDataFrame, Series).
- Jede Testzelle hat sichtbare Zusicherungen (für den Validate-Knopf) und verborgene zwischen
  ``### BEGIN HIDDEN TESTS`` und ``### END HIDDEN TESTS``.
- Jede Zusicherung hat eine deutsche Meldung mit Hinweis ("... Tipp: ..."); im verborgenen Teil ein fester Text
  (kein f-String), damit das Feedback keine Werte verrät.
- Die Ausgabe (exercises/) enthält keinen Lösungstext.
"""
from __future__ import annotations

import ast
import re

from nbformat import NotebookNode

from sozialraum.course.tasks import Task, meta, split_hidden, tasks_of

TYPE_WORDS = ("int", "float", "str", "bool", "list", "dict", "tuple", "DataFrame", "GeoDataFrame", "Series")
HINT_WORDS = ("Tipp", "Hinweis")
GERMAN_WORDS = {"der", "die", "das", "ist", "sind", "nicht", "kein", "keine", "soll", "sollte", "sollen", "sie",
                "ihre", "mit", "und", "oder", "als", "ein", "eine", "einen", "bitte", "stimmt", "hat", "haben",
                "wird", "werden", "zu", "für", "von", "den", "dem", "des", "auf", "aus", "im", "in", "noch"}
SOLUTION_MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")


def _asserts(source: str) -> list[ast.Assert]:
    try:
        return [n for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Assert)]
    except SyntaxError:
        return []


def _message_text(node: ast.expr | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value for v in node.values if isinstance(v, ast.Constant))
    return None


def message_problem(node: ast.expr | None, hidden: bool) -> str:
    """Was an einer Zusicherungsmeldung fehlt ("" wenn sie passt)."""
    text = _message_text(node)
    if text is None:
        return "hat keine Meldung (Text)"
    if hidden and not isinstance(node, ast.Constant):
        return "ist im verborgenen Teil kein fester Text (f-Strings könnten die Lösung im Feedback verraten)"
    words = set(re.findall(r"[a-zäöüß]+", text.lower()))
    if not (words & GERMAN_WORDS or re.search("[äöüßÄÖÜ]", text)):
        return f"ist nicht deutsch: {text[:60]!r}"
    if not any(hint in text for hint in HINT_WORDS):
        return f"enthält keinen Hinweis ('Tipp: ...'): {text[:60]!r}"
    return ""


def lint_task(task: Task) -> list[str]:
    problems = []
    name = task.grade_id
    if not task.tests:
        return [f"{name}: keine Testzelle nach der Antwortzelle"]
    if not task.answers:
        problems.append(f"{name}: die Tests verwenden keine Variable, die die Lösung zuweist")
    for answer in task.answers:
        if f"`{answer}`" not in task.markdown:
            problems.append(f"{name}: der Aufgabentext davor nennt die Variable `{answer}` nicht")
    if not any(re.search(rf"\b{word}\b", task.markdown) for word in TYPE_WORDS):
        problems.append(f"{name}: der Aufgabentext davor nennt keinen Typ ({', '.join(TYPE_WORDS)})")
    for cell in task.tests:
        test_id = meta(cell)["grade_id"]
        if not float(meta(cell).get("points", 0)) > 0:
            problems.append(f"{test_id}: Testzelle ohne Punkte")
        visible, hidden = split_hidden(cell.source)
        if not _asserts(visible):
            problems.append(f"{test_id}: keine sichtbare Zusicherung (assert) für den Validate-Knopf")
        if not _asserts(hidden):
            problems.append(f"{test_id}: keine verborgenen Zusicherungen (### BEGIN HIDDEN TESTS)")
        for part, is_hidden in ((visible, False), (hidden, True)):
            for statement in _asserts(part):
                problem = message_problem(statement.msg, is_hidden)
                if problem:
                    problems.append(f"{test_id}, Zeile {statement.lineno} ({'verborgen' if is_hidden else 'sichtbar'}):"
                                    f" Meldung {problem}")
    return problems


def solution_lines(source: NotebookNode) -> set[str]:
    """Nennenswerte Zeilen aus Lösungsbereichen (### BEGIN SOLUTION ... ### END SOLUTION)."""
    lines = set()
    for cell in source.cells:
        if not meta(cell).get("solution", False):
            continue
        inside = False
        for line in cell.source.split("\n"):
            if "BEGIN SOLUTION" in line:
                inside = True
            elif "END SOLUTION" in line:
                inside = False
            elif inside and len(line.strip()) >= 12 and not line.strip().startswith("#"):
                lines.add(line.strip())
    return lines


def lint_release(source: NotebookNode, release: NotebookNode) -> list[str]:
    problems = []
    text = "\n".join(cell.source for cell in release.cells)
    for marker in SOLUTION_MARKERS:
        if marker in text:
            problems.append(f"Ausgabe enthält {marker!r}")
    graded = "\n".join(cell.source for cell in release.cells if meta(cell).get("solution") or meta(cell).get("grade"))
    given = "\n".join(cell.source for cell in source.cells if not meta(cell).get("solution"))
    shown = {line.strip() for line in graded.split("\n")} - {line.strip() for line in given.split("\n")}
    for line in sorted(solution_lines(source) & shown):
        problems.append(f"Ausgabe enthält Lösungstext: {line[:60]!r}")
    if any(cell.get("outputs") for cell in release.cells if cell.cell_type == "code"):
        problems.append("Ausgabe enthält Zellausgaben")
    return problems


def lint(source: NotebookNode, release: NotebookNode) -> list[str]:
    """Alle Befunde (deutsch) für ein Quellnotebook und seine Ausgabe; leer, wenn alles passt."""
    tasks = tasks_of(source)
    problems = [] if tasks else ["keine automatisch bewertete Aufgabe gefunden"]
    for task in tasks:
        problems += lint_task(task)
    return problems + lint_release(source, release)
