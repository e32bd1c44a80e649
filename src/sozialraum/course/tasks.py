"""Aufbau eines nbgrader-Quellnotebooks: Aufgaben (Lösungszelle + folgende Testzellen) und ihre Antwortvariablen."""
from __future__ import annotations

import ast
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
