"""Aufbau eines nbgrader-Quellnotebooks: Aufgaben (Lösungszelle + folgende Testzellen) und ihre Antwortvariablen."""
from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

from nbformat import NotebookNode

BEGIN_HIDDEN = "BEGIN HIDDEN TESTS"
END_HIDDEN = "END HIDDEN TESTS"


def meta(cell: NotebookNode) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def is_answer_cell(cell: NotebookNode) -> bool:
    """Automatisch bewertete Antwortzelle: Code, ``solution``, nicht selbst bewertet."""
    return cell.cell_type == "code" and meta(cell).get("solution", False) and not meta(cell).get("grade", False)


def is_test_cell(cell: NotebookNode) -> bool:
    """Automatisch bewertete Testzelle: Code, ``grade``, keine Lösung."""
    return cell.cell_type == "code" and meta(cell).get("grade", False) and not meta(cell).get("solution", False)


def split_hidden(source: str) -> tuple[str, str]:
    """(sichtbarer Teil, verborgener Teil) einer Testzelle."""
    visible, hidden, inside = [], [], False
    for line in source.split("\n"):
        if BEGIN_HIDDEN in line:
            inside = True
        elif END_HIDDEN in line:
            inside = False
        else:
            (hidden if inside else visible).append(line)
    return "\n".join(visible), "\n".join(hidden)


def assigned_names(source: str) -> list[str]:
    """Namen, die eine Zelle auf oberster Ebene zuweist oder per Index/Attribut ändert, in Reihenfolge."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    names = []
    for statement in tree.body:
        targets = []
        if isinstance(statement, ast.Assign):
            targets = statement.targets
        elif isinstance(statement, (ast.AnnAssign, ast.AugAssign)):
            targets = [statement.target]
        for target in targets:
            for node in ast.walk(target):
                if isinstance(node, ast.Name) and node.id not in names:
                    names.append(node.id)
    return names


def used_names(source: str) -> set[str]:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    return {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}


@dataclass
class Task:
    """Eine automatisch bewertete Aufgabe."""

    grade_id: str  # der Lösungszelle
    index: int  # Position der Lösungszelle im Notebook
    source: str
    markdown: str  # Text der Markdown-Zellen direkt davor
    tests: list[NotebookNode] = field(default_factory=list)

    @property
    def test_ids(self) -> list[str]:
        return [meta(cell)["grade_id"] for cell in self.tests]

    @property
    def answers(self) -> list[str]:
        """Die Antwortvariablen: von der Lösung zugewiesen und in den Tests verwendet."""
        used = set().union(*(used_names(cell.source) for cell in self.tests)) if self.tests else set()
        return [name for name in assigned_names(self.source) if name in used]


def tasks_of(nb: NotebookNode) -> list[Task]:
    """Alle Aufgaben eines Quellnotebooks, in Reihenfolge."""
    tasks: list[Task] = []
    markdown: list[str] = []
    current = None
    for index, cell in enumerate(nb.cells):
        if is_answer_cell(cell):
            current = Task(meta(cell)["grade_id"], index, cell.source, "\n".join(markdown))
            tasks.append(current)
        elif is_test_cell(cell) and current is not None:
            current.tests.append(cell)
        elif meta(cell).get("solution", False):
            current = None
        if cell.cell_type == "markdown":
            markdown.append(cell.source)
        else:
            markdown = []
    return tasks


# ---------------------------------------------------------------------------------------------------------------
# Bewertete Teile mit lesbarem Namen (Spalten der Notentabelle, Abschnitte der Rückmeldung)

TITLE_LENGTH = 72
POINTS_NOTE = re.compile(r"\s*\((?:[^()]*\bPunkte?\b[^()]*)\)\s*$")  # "(2 Punkte, Bewertung durch ...)"


@dataclass
class Part:
    """Ein bewerteter Teil: eine Aufgabe mit ihren Testzellen oder eine von Hand bewertete Antwort."""

    title: str  # "Aufgabe 1: Quote der Grundsicherung im Alter je Bezirk"
    grade_ids: list[str]  # die bewerteten Zellen (Testzellen bzw. die Antwortzelle selbst)
    points: float
    manual: bool
    answer: str = ""  # grade_id der Antwortzelle einer automatisch bewerteten Aufgabe


def readable_title(markdown: list[str], fallback: str) -> str:
    """Kurzname aus den Markdown-Zellen vor einer Aufgabe: die letzte Überschrift, sonst die erste Zeile; gekürzt.

    Beginnt die letzte Zelle mit fettem Aufgabennamen (``**Aufgabe 1:** ...``), gilt ihre erste Zeile.

    >>> readable_title(["## Aufgabe 2: Der Altenquotient der Stadt (2 Punkte)\\n\\nBerechnen Sie ..."], "x")
    'Aufgabe 2: Der Altenquotient der Stadt'
    >>> readable_title([], "test_grusi_quote_2024")
    'grusi quote 2024'
    """
    nearest = [line.strip() for line in (markdown[-1] if markdown else "").splitlines() if line.strip()]
    headings = [line.strip() for source in markdown for line in source.splitlines() if line.startswith("#")]
    if headings and not (nearest and nearest[0].startswith("**")):
        text = headings[-1]
    else:
        text = nearest[0] if nearest else ""
    text = re.sub(r"[#*`]|^>", "", text).strip()
    text = POINTS_NOTE.sub("", text).strip()
    if not text:
        text = re.sub(r"^(test|antwort)_", "", fallback).replace("_", " ").strip()
    if len(text) > TITLE_LENGTH:
        text = text[:TITLE_LENGTH].rsplit(" ", 1)[0].rstrip(",;:–- ") + " …"
    return text


def graded_parts(nb: NotebookNode) -> list[Part]:
    """Alle bewerteten Teile eines Quellnotebooks in Reihenfolge, benannt nach dem Text davor."""
    parts: list[Part] = []
    current: Part | None = None
    before: list[str] = []  # die gewöhnlichen Markdown-Zellen seit dem letzten bewerteten Teil
    for cell in nb.cells:
        info = meta(cell)
        grade_id = info.get("grade_id", "")
        if is_answer_cell(cell):
            current = Part(readable_title(before, grade_id), [], 0.0, manual=False, answer=grade_id)
            parts.append(current)
        elif is_test_cell(cell):
            if current is None:
                current = Part(readable_title([], grade_id), [], 0.0, manual=False)
                parts.append(current)
            current.grade_ids.append(grade_id)
            current.points += float(info.get("points", 0))
        elif info.get("grade") or info.get("task"):
            parts.append(Part(readable_title(before, grade_id), [grade_id], float(info.get("points", 0)), True))
            current = None
        if info.get("solution") or info.get("grade") or info.get("task"):
            before = []
        elif cell.cell_type == "markdown":
            before.append(cell.source)
    return [part for part in parts if part.grade_ids]
