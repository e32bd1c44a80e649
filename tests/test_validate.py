"""Validate-Knopf (nbgrader's Validator mit der Kurskonfiguration): richtige Abgabe besteht, falsche bekommt die
deutsche Meldung der sichtbaren Tests."""
from pathlib import Path

import nbformat
import pytest

from sozialraum.course.nbconfig import course_config
from sozialraum.course.tasks import meta

ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENT = "00_start"


def filled_copy(folder: Path, overrides: dict[str, str] | None = None) -> Path:
    """Kopie der Ausgabe, Lösungszellen aus solutions/ (oder ``overrides``) eingesetzt, wie eine Abgabe."""
    source = nbformat.read(ROOT / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    answers = {meta(c)["grade_id"]: c.source for c in source.cells if meta(c).get("solution")}
    answers.update(overrides or {})
    release = nbformat.read(ROOT / "exercises" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    for cell in release.cells:
        if meta(cell).get("solution"):
            cell.source = answers[meta(cell)["grade_id"]]
    path = folder / f"{ASSIGNMENT}.ipynb"
    nbformat.write(release, path)
    return path


@pytest.fixture
def validator(monkeypatch):
    from nbgrader.validator import Validator

    monkeypatch.setenv("SOZIALRAUM_DATEN", str(ROOT / "datasets"))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    return Validator(config=course_config(ROOT))


def test_correct_copy_passes(validator, tmp_path):
    assert validator.validate(str(filled_copy(tmp_path))) == {}


def test_wrong_copy_fails_with_german_message(validator, tmp_path):
    wrong = "bevoelkerung = data.load('bevoelkerung')\neinwohner_2024 = float(bevoelkerung['einwohner'].sum())"
    result = validator.validate(str(filled_copy(tmp_path, {"einwohner_2024": wrong})))
    assert list(result) == ["failed"] and len(result["failed"]) == 1
    error = result["failed"][0]["raw_error"]
    assert "`einwohner_2024` soll eine ganze Zahl (int) sein" in error and "Tipp:" in error
    assert "HIDDEN" not in result["failed"][0]["source"]


def test_validator_messages_are_german():
    config = course_config(ROOT)
    assert "FEHLGESCHLAGEN" in config.Validator.failed_warning and "Tipp" in config.Validator.failed_warning
    assert "VERÄNDERT" in config.Validator.changed_warning
