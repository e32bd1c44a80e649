"""build: exercises/ ist byteweise ein frischer Build von solutions/, ohne Ausgaben und ohne Lösungen."""
from pathlib import Path

import nbformat
import pytest

from sozialraum.course import build

ROOT = Path(__file__).resolve().parent.parent


def files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_committed_exercises_equal_fresh_build(tmp_path):
    names = build.build(ROOT, out_root=tmp_path)
    assert names == build.assignments(ROOT) and "00_start" in names
    assert sorted(p.name for p in (ROOT / "exercises").iterdir() if p.is_dir()) == names
    for name in names:
        fresh, committed = files(tmp_path / name), files(ROOT / "exercises" / name)
        assert fresh.keys() == committed.keys(), name
        for path in fresh:
            assert fresh[path] == committed[path], (
                f"exercises/{name}/{path} weicht vom frischen Build ab. "
                "Tipp: python -m sozialraum.course build ausführen und einchecken.")


def test_release_has_no_outputs_and_no_solutions():
    nb = nbformat.read(ROOT / "exercises" / "00_start" / "00_start.ipynb", as_version=4)
    text = "\n".join(cell.source for cell in nb.cells)
    assert "BEGIN SOLUTION" not in text and "HIDDEN TESTS" not in text
    assert "raise NotImplementedError()" in text and "IHRE ANTWORT HIER" in text
    assert all(not cell.get("outputs") and cell.get("execution_count") is None
               for cell in nb.cells if cell.cell_type == "code")


def test_unknown_assignment_gives_german_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="gibt es nicht.*Tipp"):
        build.build(ROOT, ["99_gibt_es_nicht"], out_root=tmp_path)
