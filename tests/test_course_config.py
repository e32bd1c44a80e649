"""nbgrader_config.py im echten nbgrader-Ablauf (generate_assignment, autograde, generate_feedback):
Warnungen auf stderr kosten keine Punkte, gelöschte Testzellen werden wiederhergestellt und bewertet, das Feedback
zeigt keine verborgenen Tests, auch nicht in Fehlermeldungen."""
import shutil
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from sozialraum.course.nbconfig import course_config, ensure_tools_on_path

ROOT = Path(__file__).resolve().parent.parent
SECRET = "GEHEIMNIS_4711"


def cell(kind, cid, text, **nbgrader):
    c = (new_code_cell if kind == "code" else new_markdown_cell)(text)
    c.id = cid
    if nbgrader:
        c.metadata["nbgrader"] = {"schema_version": 3, "grade_id": cid, "locked": False, "solution": False,
                                  "grade": False, **nbgrader}
    return c


def source_notebook():
    test = "test_{0}"
    cells = [cell("markdown", "text", "Aufgaben: `a` und `b` als `int`.")]
    for name, value in (("a", 1), ("b", 2)):
        cells.append(cell("code", name, f"### BEGIN SOLUTION\n{name} = {value}\n### END SOLUTION", solution=True))
        cells.append(cell("code", test.format(name),
                          "import warnings\nwarnings.warn('nur eine Warnung')\n"
                          f"assert type({name}) is int, 'Typ falsch. Tipp: int'\n"
                          f"### BEGIN HIDDEN TESTS\nassert {name} == {value}, 'Wert falsch. Tipp: nachrechnen'"
                          f"  # {SECRET}\n### END HIDDEN TESTS", grade=True, locked=True, points=2))
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Mini-Kurs mit der Kurskonfiguration; Abgabe: a richtig, b falsch, Testzelle von a gelöscht."""
    from nbgrader.apps import NbGraderAPI

    ensure_tools_on_path()
    course = tmp_path_factory.mktemp("kurs")
    shutil.copy(ROOT / "nbgrader_config.py", course)
    (course / "solutions" / "cfg").mkdir(parents=True)
    nbformat.write(source_notebook(), course / "solutions" / "cfg" / "cfg.ipynb")
    config = course_config(course)
    config.CourseDirectory.root = str(course)
    api = NbGraderAPI(config=config)
    assert api.generate_assignment("cfg", force=True, create=True)["success"]
    release = nbformat.read(course / "exercises" / "cfg" / "cfg.ipynb", as_version=4)
    assert SECRET not in nbformat.writes(release)
    submission = [c for c in release.cells if c.id != "test_a"]
    for c in submission:
        if c.id == "a":
            c.source = "a = 1"
        if c.id == "b":
            c.source = "b = 3"
    release.cells = submission
    (course / "submitted" / "person" / "cfg").mkdir(parents=True)
    nbformat.write(release, course / "submitted" / "person" / "cfg" / "cfg.ipynb")
    result = api.autograde("cfg", "person", force=True, create=True)
    assert result["success"], result["log"]
    assert api.generate_feedback("cfg", "person", force=True)["success"]
    return api, course


def test_config_values():
    config = course_config(ROOT)
    assert config.CourseDirectory.source_directory == "solutions"
    assert config.CourseDirectory.release_directory == "exercises"
    assert config.Execute.timeout >= 120
    assert config.IgnorePattern.enabled and config.OverwriteCells.add_missing_cells
    assert "gradebook.db" in (ROOT / ".gitignore").read_text()


def test_warnings_cost_no_points_and_deleted_test_cell_is_restored(graded):
    api, course = graded
    with api.gradebook as gradebook:
        notebook = gradebook.find_submission_notebook("cfg", "cfg", "person")
        scores = {grade.name: grade.auto_score for grade in notebook.grades}
    # test_a wurde gelöscht, wiederhergestellt und trotz Warnung auf stderr voll bewertet; b ist falsch
    assert scores == {"test_a": 2.0, "test_b": 0.0}
    autograded = nbformat.read(course / "autograded" / "person" / "cfg" / "cfg.ipynb", as_version=4)
    restored = [c for c in autograded.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "test_a"]
    assert len(restored) == 1 and "wiederhergestellt" in restored[0].source and SECRET in restored[0].source
    # die Warnung bleibt sichtbar, aber auf stdout
    assert [o.name for o in restored[0].outputs] == ["stdout"] and "nur eine Warnung" in restored[0].outputs[0].text


def test_feedback_hides_hidden_tests_also_in_tracebacks(graded):
    _, course = graded
    html = (course / "feedback" / "person" / "cfg" / "cfg.html").read_text(encoding="utf-8")
    assert "Wert falsch. Tipp: nachrechnen" in html  # die Meldung des fehlgeschlagenen Tests bleibt
    assert SECRET not in html and "b == 2" not in html and "HIDDEN TESTS" not in html
    assert "Verborgene Tests sind im Feedback ausgeblendet" in html


def test_validate_ignores_warnings_on_stderr(graded, tmp_path):
    """Auch der Validate-Knopf wertet eine Warnung in einer Testzelle nicht als Fehlschlag."""
    from nbgrader.validator import Validator

    _, course = graded
    nb = nbformat.read(course / "exercises" / "cfg" / "cfg.ipynb", as_version=4)
    for c in nb.cells:
        if c.id in ("a", "b"):
            c.source = f"{c.id} = {1 if c.id == 'a' else 2}"
    nbformat.write(nb, tmp_path / "cfg.ipynb")
    result = Validator(config=course_config(ROOT)).validate(str(tmp_path / "cfg.ipynb"))
    assert result == {}
