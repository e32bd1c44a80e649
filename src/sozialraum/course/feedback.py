"""Deutsche Rückmeldung ohne verborgene Tests: nbgrader-Präprozessoren und -Vorlage für ``generate_feedback``.

nbgrader stellt beim Autograde die gesperrten Testzellen samt verborgenen Tests wieder her und zeigt sie im
HTML-Feedback an; Fehlermeldungen (Tracebacks) zitieren außerdem die Zeile mit der fehlgeschlagenen Zusicherung.
``HideHiddenTests`` entfernt deshalb in jeder Testzelle den Bereich zwischen ``### BEGIN HIDDEN TESTS`` und
``### END HIDDEN TESTS`` aus dem Quelltext und kürzt jeden Fehler in einer Testzelle auf ``Fehlertyp: Meldung``.
Textausgaben (stdout/stderr) von Testzellen entfallen im Feedback. Taucht der Text eines verborgenen Tests in
einer anderen Ausgabe auf (eine Abgabe hat ihn beim Bewerten mitgelesen und ausgegeben), wird er dort geschwärzt.

``GermanFeedback`` bereitet die deutsche Vorlage ``templates/rueckmeldung`` vor: Aufgabennamen aus der Quelle statt
„Test cell“, Punkte als „9 von 20 Punkten“, nbgrader's Kommentar „No response.“ auf Deutsch, Fehlermeldungen ohne
Pfade des Rechners. ``feedback_config`` trägt beides in eine nbgrader-Konfiguration ein (Kurs und Bewertungsbefehl).
``ReusableFeedback`` ist nbgrader's ``GenerateFeedback`` für viele Personen nacheinander (Bewertungsprozesse).
"""
import os
import re
from pathlib import Path

import nbformat
from nbconvert.exporters import Exporter
from nbconvert.exporters.exporter import ResourcesDict
from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
from nbconvert.writers import FilesWriter
from nbformat.notebooknode import NotebookNode
from nbgrader import utils
from nbgrader.converters import GenerateFeedback
from nbgrader.preprocessors import GetGrades, NbGraderPreprocessor
from traitlets import Instance, Unicode

from sozialraum.course.report import NO_RESPONSE, german_number, points_text
from sozialraum.course.tasks import graded_parts, readable_title

TEMPLATES = Path(__file__).parent / "templates"
TEMPLATE_NAME = "rueckmeldung"

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


# ---------------------------------------------------------------------------------------------------------------
# Deutsche Rückmeldung

NO_RESPONSE_DE = "Keine Antwort abgegeben."
PLACEHOLDER = ("Noch nicht bearbeitet: In der Zelle steht noch der Platzhalter `raise NotImplementedError()`. "
               "Tipp: ihn durch Ihren Code ersetzen.")
ANSI = re.compile(r"\x1b\[[0-9;]*m")
OWN_FRAME = re.compile(r"^Cell In\[(\d+)\], line (\d+)")
FRAME_FILE = re.compile(r"File (/\S+?):\d+")
ABSOLUTE_PATH = re.compile(r"(?<![\w.])/(?:[^\s/'\"]+/)+([^\s/'\"]*)")
KIT_FAILURES = ("Zeitüberschreitung", "Absturz")  # Fehler, die das Kit selbst einträgt (schon deutsch)


def hide_paths(text: str) -> str:
    """Absolute Pfade (Kurs, Umgebung, Home-Ordner) auf ihren letzten Teil kürzen: ``…/datasets``."""
    return ABSOLUTE_PATH.sub(lambda match: "…/" + match.group(1), text)


def library_of(frame: str) -> str:
    """Paket einer Traceback-Zeile außerhalb des Notebooks (``pandas``, ``json``), sonst ``""``."""
    match = FRAME_FILE.search(frame)
    if not match:
        return ""
    parts = Path(match.group(1)).parts
    for index in range(len(parts) - 2, -1, -1):
        if parts[index] in ("site-packages", "dist-packages") or re.fullmatch(r"python3(\.\d+)?", parts[index]):
            return Path(parts[index + 1]).stem
    return Path(parts[-1]).stem


def german_error(output: NotebookNode, test_cell: bool) -> NotebookNode:
    """Fehlerausgabe für Teilnehmende: nur die eigenen Zeilen, deutsch eingerahmt, ohne Pfade."""
    message = hide_paths(f"{output.ename}: {output.evalue}" if output.evalue else output.ename)
    if output.ename in KIT_FAILURES or output.ename.startswith("Manipulation"):
        lines = [hide_paths(output.evalue or output.ename)]
    elif output.ename == "NotImplementedError" and not test_cell:
        lines = [PLACEHOLDER]
    elif test_cell:
        lines = [("Prüfung nicht bestanden: " + hide_paths(output.evalue)) if output.ename == "AssertionError"
                 and output.evalue else f"Die Prüfung brach mit einem Fehler ab: {message}"]
    else:
        frames = [ANSI.sub("", entry) for entry in output.get("traceback", [])]
        own = [OWN_FRAME.sub(r"Zelle In [\1], Zeile \2", frame).rstrip() for frame in frames
               if OWN_FRAME.match(frame)]
        libraries = sorted({name for name in map(library_of, frames) if name})
        lines = ["Fehler in Ihrem Code (gekürzt auf Ihre Zeilen):", *own]
        if libraries:
            lines.append("… gemeldet aus: " + ", ".join(libraries))
        lines.append(message)
    return NotebookNode(output_type="error", ename=output.ename, evalue=hide_paths(output.evalue or ""),
                        traceback=lines)


class GermanFeedback(NbGraderPreprocessor):
    """Bereitet die Vorlage ``rueckmeldung`` vor (nach ``GetGrades`` und ``HideHiddenTests``)."""

    note = Unicode("", help="Hinweis zur Bewertung oben in der Rückmeldung (z. B. veränderte Testzellen)").tag(
        config=True)

    def preprocess(self, nb: NotebookNode, resources: ResourcesDict):
        info = resources["nbgrader"]
        labels, answers = self._labels(nb, info)
        open_ids = self._ungraded(info)
        contents, pending = [], False
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            grade_id = meta.get("grade_id", "")
            test = utils.is_grade(cell) and not utils.is_solution(cell) and cell.cell_type == "code"
            for index, output in enumerate(cell.get("outputs", [])):
                if output.get("output_type") == "error":
                    cell.outputs[index] = german_error(output, test)
                elif output.get("output_type") == "stream":  # z. B. Warnungen mit dem Pfad der Bibliothek
                    output.text = hide_paths(output.text)
            if not (utils.is_grade(cell) or utils.is_solution(cell) or utils.is_task(cell)):
                continue
            title = labels.get(grade_id) or answers.get(grade_id) or readable_title([], grade_id)
            entry = {"anker": grade_id, "kommentar": self._comment(meta.get("comment"))}
            if utils.is_grade(cell) or utils.is_task(cell):
                score, points = meta.get("score"), float(meta.get("points") or 0)
                if grade_id in open_ids:
                    pending = True
                    unit = "Punkt" if points == 1 else "Punkte"
                    entry["punkte"] = f"wird noch von Hand bewertet (höchstens {german_number(points)} {unit})"
                else:
                    entry["punkte"] = points_text(score, points)
                entry["label"] = f"Prüfung: {title}" if test else f"Ihre Antwort: {title}"
                contents.append({"anker": grade_id, "titel": title, "punkte": entry["punkte"]})
            else:
                entry["label"] = f"Ihre Antwort: {title}"
            cell.metadata["rueckmeldung"] = entry
        late = float(info.get("late_penalty") or 0)
        resources["rueckmeldung"] = {
            "gesamt": points_text(info.get("score", 0), info.get("max_score", 0)),
            "offen": "Textantworten werden noch von Hand bewertet" if pending else "",
            "abzug": f"−{german_number(late)} Punkte" if late else "",
            "hinweis": self.note,
            "inhalt": contents,
        }
        return nb, resources

    def _labels(self, nb: NotebookNode, info: dict) -> tuple[dict[str, str], dict[str, str]]:
        """(grade_id der bewerteten Zellen -> Name, grade_id der Antwortzellen -> Name) aus der Quelle."""
        parts = graded_parts(self._source(info) or nb)
        labels, answers = {}, {}
        for part in parts:
            answers[part.answer] = part.title
            for number, grade_id in enumerate(part.grade_ids, start=1):
                many = len(part.grade_ids) > 1
                labels[grade_id] = part.title + (f" (Prüfung {number} von {len(part.grade_ids)})" if many else "")
        return labels, answers

    @staticmethod
    def _ungraded(info: dict) -> set[str]:
        """Zellen ohne Punkte im Gradebook (weder automatisch noch von Hand): noch von Hand zu bewerten."""
        from nbgrader.api import Gradebook, MissingEntry

        with Gradebook(info["db_url"]) as gradebook:
            try:
                notebook = gradebook.find_submission_notebook(info["notebook"], info["assignment"], info["student"])
            except MissingEntry:
                return set()
            return {g.name for g in notebook.grades if g.manual_score is None and g.auto_score is None}

    def _source(self, info: dict) -> NotebookNode | None:
        from nbgrader.coursedir import CourseDirectory

        coursedir = CourseDirectory(config=self.config)
        folder = Path(coursedir.format_path(coursedir.source_directory, ".", info["assignment"]))
        path = folder / f"{info['notebook']}.ipynb"
        return nbformat.read(path, as_version=4) if path.exists() else None

    @staticmethod
    def _comment(comment) -> str:
        if not comment:
            return ""
        return NO_RESPONSE_DE if comment.strip() == NO_RESPONSE else comment


def feedback_config(config) -> None:
    """Rückmeldung deutsch und ohne verborgene Tests: Präprozessoren und Vorlage in ``config`` (traitlets) eintragen.

    Gilt nur für ``GenerateFeedback`` (der Formgrader zeigt Abgaben weiter mit seiner eigenen Vorlage).
    """
    config.GenerateFeedback.preprocessors = [GetGrades, HideHiddenTests, GermanFeedback, CSSHTMLHeaderPreprocessor]
    config.GenerateFeedback.HTMLExporter.template_name = TEMPLATE_NAME
    config.GenerateFeedback.HTMLExporter.extra_template_basedirs = [str(TEMPLATES)]
    config.GenerateFeedback.force = True  # sonst übergeht nbgrader eine Rückmeldung, die älter aussieht als sie ist


class ReusableFeedback(GenerateFeedback):
    """nbgrader's GenerateFeedback für eine Person nach der anderen (vor jedem ``start`` ``coursedir.student_id``
    setzen): Exporter, Präprozessoren und übersetzte Jinja-Vorlagen entstehen beim ersten ``start`` und bleiben.
    nbgrader baut sie sonst für jede Rückmeldung neu (die Vorlagen zu übersetzen kostet etwa 0,2 s je Abgabe)."""

    exporter = Instance(Exporter, allow_none=True)

    def start(self) -> None:
        self.init_notebooks()
        if self.exporter is None:
            self.writer = FilesWriter(parent=self, config=self.config)
            self.exporter = self.exporter_class(parent=self, config=self.config)
            for preprocessor in self.preprocessors:
                self.exporter.register_preprocessor(preprocessor)
        previous = os.getcwd()
        os.chdir(self.coursedir.root)
        try:
            self.convert_notebooks()
        finally:
            os.chdir(previous)
