"""Die Bewertungsmaschine (sozialraum.course.autograde) auf der winzigen Übung ``mini``."""
import json
import os
import sys
from pathlib import Path

import pytest
from nbformat.v4 import new_code_cell, new_output

import grading_variants as gv
from sozialraum.course import autograde, sandbox
from sozialraum.course.autograde import TruncateOutputs, autograde_notebooks


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    course = gv.make_course(tmp_path_factory.mktemp("kurs") / "kurs")
    release = gv.release_notebook(course)
    inbox = tmp_path_factory.mktemp("eingang")
    files = {
        "loesung": course / "solutions" / gv.ASSIGNMENT / "mini.ipynb",
        "ausgabe": course / "exercises" / gv.ASSIGNMENT / "mini.ipynb",
        "richtig": inbox / "Richtig_Rita_mini_final.ipynb",  # anderer Dateiname: wird als mini.ipynb bewertet
        "leer": inbox / "leer.ipynb",
        "data_load": inbox / "mini.ipynb",  # ersetzt sozialraum.data.load (Issue 12, Klasse 6)
    }
    files["data_load"].write_text(gv.patch_data_load(release), encoding="utf-8")
    files["richtig"].write_text(gv.correct(release), encoding="utf-8")
    files["leer"].write_text("", encoding="utf-8")
    workdir = tmp_path_factory.mktemp("arbeit")
    results = autograde_notebooks(course, gv.ASSIGNMENT, files, workers=2, cell_timeout=10, notebook_timeout=60,
                                  memory_mb=1500, workdir=workdir, progress=False)
    return course, results


def test_solution_gets_full_points_and_release_zero(graded):
    _, results = graded
    assert results["loesung"].status == "ok"
    assert results["loesung"].scores == {"a1_test": 1.0, "a2_test": 2.0}
    assert results["loesung"].max_scores == {"a1_test": 1.0, "a2_test": 2.0}
    assert results["loesung"].manual_max_scores == {"a3_antwort": 1.0}
    assert results["ausgabe"].status == "ok"
    assert results["ausgabe"].scores == {"a1_test": 0.0, "a2_test": 0.0}
    assert results["ausgabe"].changed_cells == {}


def test_submission_is_graded_under_the_expected_name(graded):
    _, results = graded
    result = results["richtig"]
    assert (result.status, result.total, result.message) == ("ok", 3.0, "")
    assert result.autograded_notebook.name == "mini.ipynb"
    cells = json.loads(result.autograded_notebook.read_text(encoding="utf-8"))["cells"]
    hidden = gv.cell({"cells": cells}, "a1_test")["source"]
    assert "summe == 6" in "".join(hidden)  # versteckte Tests wurden wieder eingesetzt und ausgeführt


def test_patched_data_load_is_detected_and_costs_the_points(graded):
    _, results = graded
    result = results["data_load"]
    assert "sozialraum.data.load" in result.tampered
    assert result.scores == {"a1_test": 0.0, "a2_test": 0.0}


def test_empty_file_is_invalid_without_running(graded):
    _, results = graded
    result = results["leer"]
    assert result.status == "invalid"
    assert "leer" in result.message
    assert result.autograded_notebook is None
    assert result.scores == {"a1_test": 0.0, "a2_test": 0.0}


def test_sandboxes_leave_the_course_untouched(graded):
    course, _ = graded
    for name in ["gradebook.db", "submitted", "autograded", "feedback"]:
        assert not (course / name).exists()


def test_truncate_outputs_limits_characters():
    cell = new_code_cell("print('x' * 10**6)", outputs=[new_output("stream", name="stdout", text="x" * 10**6)])
    cell, _ = TruncateOutputs().preprocess_cell(cell, {}, 0)
    assert len(cell.outputs[0].text) < 25_000
    assert "gekürzt" in cell.outputs[0].text


def test_sandbox_is_active_here():
    """Hier (und in CI) ist bubblewrap installiert: ohne Sandbox würden die feindlichen Tests den Kurs treffen."""
    assert sandbox.available(), sandbox.describe()


def test_isolation_is_described_in_german():
    text = sandbox.describe()
    assert text.startswith("Abschottung")


def test_gradebook_schema_version_is_what_alembic_reports():
    """Das Kit ermittelt die Schema-Version eines neuen Gradebooks im Prozess; sie muss die von `alembic heads` sein."""
    import subprocess

    from nbgrader.dbutil import _temp_alembic_ini

    with _temp_alembic_ini("sqlite:////tmp/gradebook.db") as ini:
        output = subprocess.check_output([Path(sys.executable).parent / "alembic", "-c", ini, "heads"], text=True)
    assert autograde._alembic_head() == output.split()[0]


def test_forked_kernel_sees_only_itself_and_leaves_nothing_behind(tmp_path):
    """Kernel aus der Vorlage (forkserver): eigener Prozess-Namensraum (erster Prozess darin, die Vorlage
    unsichtbar), keine Capabilities, no_new_privs, leeres eigenes /tmp; ein abgelöster Prozess, der alles Sichtbare
    beenden will, stirbt mit dem Kernel, und die nächste Abgabe desselben Bewertungsprozesses bekommt volle Punkte."""
    course = gv.make_course(tmp_path / "kurs")
    release = gv.release_notebook(course)
    files = {"lauernd": tmp_path / "lauernd.ipynb", "danach": tmp_path / "danach.ipynb"}
    files["lauernd"].write_text(gv.lingerer(release), encoding="utf-8")
    files["danach"].write_text(gv.correct(release), encoding="utf-8")
    results = autograde_notebooks(course, gv.ASSIGNMENT, files, workers=1, cell_timeout=20, notebook_timeout=60, workdir=tmp_path / "arbeit",
                                  progress=False)
    assert results["lauernd"].total == 3.0 and results["danach"].total == 3.0, results
    cells = json.loads(results["lauernd"].autograded_notebook.read_text(encoding="utf-8"))["cells"]
    text = "".join("".join(o.get("text", "")) for o in gv.cell({"cells": cells}, "a1_loesung")["outputs"])
    seen = dict(zip(text.split()[0:12:2], text.split()[1:12:2]))
    assert seen["ICH"] == "1" and seen["ELTERN"] == "0" and int(seen["PROZESSE"]) <= 3, text
    assert seen["CAP"] == "0" * 32 and seen["NNP"] == "1", text
    if os.geteuid() == 0:
        assert seen["UID"] != "0", text
    own, listing = text.split("ORDNER ")[1].split("\n")[0].split(" ", 1)
    assert listing.strip() == f"['{own}']", text  # von allen Arbeitsordnern nur der eigene
    assert "SCHREIBBAR []" in text, text  # Umgebung und Paket schreibgeschützt, auch wenn der Kurs unter /tmp liegt
