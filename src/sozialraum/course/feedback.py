"""Feedback ohne verborgene Tests: ein nbgrader-Präprozessor für ``generate_feedback``.

nbgrader stellt beim Autograde die gesperrten Testzellen samt verborgenen Tests wieder her und zeigt sie im
HTML-Feedback an; Fehlermeldungen (Tracebacks) zitieren außerdem die Zeile mit der fehlgeschlagenen Zusicherung.
``HideHiddenTests`` entfernt deshalb in jeder Testzelle den Bereich zwischen ``### BEGIN HIDDEN TESTS`` und
``### END HIDDEN TESTS`` aus dem Quelltext und kürzt jeden Fehler in einer Testzelle auf ``Fehlertyp: Meldung``.
Textausgaben (stdout/stderr) von Testzellen entfallen im Feedback. Taucht der Text eines verborgenen Tests in
einer anderen Ausgabe auf (eine Abgabe hat ihn beim Bewerten mitgelesen und ausgegeben), wird er dort geschwärzt.
"""
from nbconvert.exporters.exporter import ResourcesDict
from nbformat.notebooknode import NotebookNode
from nbgrader import utils
from nbgrader.preprocessors import NbGraderPreprocessor

BEGIN_HIDDEN = "BEGIN HIDDEN TESTS"
END_HIDDEN = "END HIDDEN TESTS"
HIDDEN_NOTE = "# (Verborgene Tests sind im Feedback ausgeblendet.)"


def strip_hidden_tests(source: str) -> str:
    """Quelltext ohne verborgene Testbereiche; an ihrer Stelle steht ein kurzer Hinweis."""
    lines, hidden = [], False
    for line in source.split("\n"):
        if BEGIN_HIDDEN in line:
            hidden = True
            lines.append(line[: len(line) - len(line.lstrip())] + HIDDEN_NOTE)
        elif END_HIDDEN in line:
            hidden = False
        elif not hidden:
            lines.append(line)
    return "\n".join(lines)


REDACTED = "[verborgener Test]"
MIN_REDACT = 12  # kürzere Zeilen (z. B. "assert x") verraten nichts


def hidden_lines(source: str) -> list[str]:
    """Die nicht trivialen Zeilen der verborgenen Bereiche einer Testzelle."""
    lines, hidden = [], False
    for line in source.split("\n"):
        if BEGIN_HIDDEN in line:
            hidden = True
        elif END_HIDDEN in line:
            hidden = False
        elif hidden and len(line.strip()) >= MIN_REDACT:
            lines.append(line.strip())
    return lines


def redact(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    for marker in (f"### {BEGIN_HIDDEN}", f"### {END_HIDDEN}", BEGIN_HIDDEN, END_HIDDEN):
        text = text.replace(marker, "")
    return text


def short_error(output: NotebookNode) -> NotebookNode:
    """Fehlerausgabe nur mit Fehlertyp und Meldung, ohne Quelltextzeilen."""
    text = f"{output.ename}: {output.evalue}" if output.evalue else output.ename
    return NotebookNode(output_type="error", ename=output.ename, evalue=output.evalue, traceback=[text])


class HideHiddenTests(NbGraderPreprocessor):
    """Blendet verborgene Tests und Tracebacks von Testzellen im Feedback aus."""

    def preprocess(self, nb: NotebookNode, resources: ResourcesDict):
        self._secrets = sorted({line for cell in nb.cells if cell.cell_type == "code"
                                for line in hidden_lines(cell.source)}, key=len, reverse=True)
        nb, resources = super().preprocess(nb, resources)
        for cell in nb.cells:
            for output in cell.get("outputs", []):
                if "text" in output:
                    output.text = redact(output.text, self._secrets)
                if output.get("output_type") == "error":
                    output.evalue = redact(output.evalue, self._secrets)
                    output.traceback = [redact(line, self._secrets) for line in output.traceback]
                for mime, value in output.get("data", {}).items():
                    if isinstance(value, str) and mime.startswith("text/"):
                        output.data[mime] = redact(value, self._secrets)
        return nb, resources

    def preprocess_cell(self, cell: NotebookNode, resources: ResourcesDict, cell_index: int):
        if cell.cell_type != "code" or not (utils.is_grade(cell) or utils.is_locked(cell)) or utils.is_solution(cell):
            return cell, resources
        cell.source = strip_hidden_tests(cell.source)
        cell.outputs = [short_error(out) for out in cell.outputs if out.output_type == "error"]
        return cell, resources
