"""Jedes Lehr-Notebook in modules/ läuft in einem frischen Kernel fehlerfrei und ist ohne Ausgaben gespeichert."""
import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
MODULES = ROOT / "modules"
NOTEBOOKS = sorted(MODULES.glob("*.ipynb"))


def test_modules_folder_has_the_start_notebook():
    assert MODULES / "00_start.ipynb" in NOTEBOOKS, "modules/00_start.ipynb fehlt – das Start-Notebook des Kurses."


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_notebook_is_stored_without_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    dirty = [
        index
        for index, cell in enumerate(notebook.cells)
        if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None)
    ]
    assert not dirty, (
        f"{path.name}: Zellen {dirty} enthalten Ausgaben oder Ausführungszähler. "
        "Bitte vor dem Speichern 'Edit › Clear Outputs of All Cells' wählen (oder "
        "`jupyter nbconvert --clear-output --inplace` ausführen)."
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_notebook_runs_top_to_bottom_in_a_fresh_kernel(path, tmp_path, monkeypatch):
    # In einer Kopie von modules/, damit Dateien, die ein Notebook schreibt (Exporte), nicht im Repository landen.
    workdir = shutil.copytree(MODULES, tmp_path / "modules")
    monkeypatch.setenv("SOZIALRAUM_DATEN", str(ROOT / "datasets"))
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(workdir)}}
    )
    # Wirft CellExecutionError mit der fehlgeschlagenen Zelle und dem Traceback. Zellen mit dem Tag
    # "raises-exception" dürfen absichtlich einen Fehler zeigen (z. B. einen typischen Fehler vorführen).
    client.execute()
