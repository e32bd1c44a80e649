"""Jedes Lehr-Notebook in modules/ läuft in einem frischen Kernel fehlerfrei und ist ohne Ausgaben gespeichert.

Beim selben Lauf (kein zweites Ausführen) wird jede matplotlib-Abbildung geprüft, die ein Notebook zeigt oder
speichert – in den Modulen und in den Musterlösungen (solutions/): Sie trägt eine sichtbare Quellenzeile
„Daten: synthetisch“, und ihre Texte (Titel, Achsen, Legende, Beschriftungen) zeigen keine englischen Zahlen
(„32.1“, „1e6“) und keine englischen Achsennamen („Easting [metre]“).
"""
import json
import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
MODULES = ROOT / "modules"
NOTEBOOKS = sorted(MODULES.glob("*.ipynb"))
SOLUTIONS = sorted((ROOT / "solutions").glob("*/*.ipynb"))

# Wird als erste Zelle eingefügt: prüft jede Abbildung in dem Moment, in dem sie gezeichnet wird (Anzeige im
# Notebook oder savefig), mit den Texten, die dabei wirklich gezeichnet werden.
INSPECT_FIGURES = r'''
import json as _kit_json
import re as _kit_re

import matplotlib.backend_bases as _kit_backend_bases
import matplotlib.legend as _kit_legend
import matplotlib.text as _kit_text

_kit_figures, _kit_drawn, _kit_cell = [], [], [""]
_kit_text_draw = _kit_text.Text.draw
_kit_print_figure = _kit_backend_bases.FigureCanvasBase.print_figure
_KIT_DATE = _kit_re.compile(r"\b\d{1,2}\.\d{1,2}\.(\d{2,4})?")
_KIT_ENGLISH = _kit_re.compile(r"\d\.(\d{1,2}|\d{4,})(?!\d)|\de[+-]?\d|Easting|Northing|metre")


def _kit_record_text(self, renderer):
    if self.get_visible() and self.get_text().strip():
        _kit_drawn.append(self)
    return _kit_text_draw(self, renderer)


def _kit_inspect(self, *args, **kwargs):
    del _kit_drawn[:]
    result = _kit_print_figure(self, *args, **kwargs)
    figure = self.figure
    renderer = figure._get_renderer()  # auch wenn savefig die Zeichenfläche gewechselt hat
    texts = [text.get_text() for text in _kit_drawn]
    english = sorted({text for text in texts if _KIT_ENGLISH.search(_KIT_DATE.sub("", text))})
    legends = [legend.get_window_extent(renderer) for legend in figure.findobj(_kit_legend.Legend)]
    tight = kwargs.get("bbox_inches") == "tight"
    visible_source = False
    for text in _kit_drawn:
        if "Daten: synthetisch" not in text.get_text():
            continue
        extent = text.get_window_extent(renderer)
        inside = tight or (extent.x0 >= -1 and extent.y0 >= -1 and extent.x1 <= figure.bbox.x1 + 1
                           and extent.y1 <= figure.bbox.y1 + 1)
        covered = any(extent.overlaps(legend) for legend in legends)
        visible_source = visible_source or (inside and not covered)
    _kit_figures.append({"cell": _kit_cell[0], "source": visible_source, "english": english})
    return result


_kit_text.Text.draw = _kit_record_text
_kit_backend_bases.FigureCanvasBase.print_figure = _kit_inspect
get_ipython().events.register("pre_run_cell", lambda info: _kit_cell.__setitem__(0, info.raw_cell.strip()[:80]))
'''
REPORT_FIGURES = "print(_kit_json.dumps(_kit_figures))"


def _execute_and_inspect(path, workdir):
    """Das Notebook einmal ausführen (mit Prüfzellen vorn und hinten); liefert die Befunde je Abbildung."""
    notebook = nbformat.read(path, as_version=4)
    notebook.cells.insert(0, nbformat.v4.new_code_cell(INSPECT_FIGURES))
    notebook.cells.append(nbformat.v4.new_code_cell(REPORT_FIGURES))
    client = NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(workdir)}}
    )
    # Wirft CellExecutionError mit der fehlgeschlagenen Zelle und dem Traceback. Zellen mit dem Tag
    # "raises-exception" dürfen absichtlich einen Fehler zeigen (z. B. einen typischen Fehler vorführen).
    client.execute()
    report = "".join(output.get("text", "") for output in notebook.cells[-1].outputs)
    return json.loads(report)


def _assert_figures_are_fit_to_publish(name, figures):
    without_source = [figure["cell"] for figure in figures if not figure["source"]]
    assert not without_source, (
        f"{name}: Abbildungen ohne sichtbare Quellenzeile „Daten: synthetisch“ in den Zellen {without_source}. "
        "Tipp: add_source(fig) aus sozialraum.formatting."
    )
    english = [(figure["cell"], figure["english"]) for figure in figures if figure["english"]]
    assert not english, (
        f"{name}: Abbildungen mit englischen Zahlen oder Achsennamen: {english}. Tipp: class_labels, "
        "tick_formatter und ax.set_axis_off() aus sozialraum.formatting bzw. matplotlib."
    )


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
        "Bitte vor dem Speichern 'Bearbeiten › Clear Outputs of All Cells' wählen (der Menüpunkt ist im deutschen "
        "Sprachpaket nicht übersetzt) oder `jupyter nbconvert --clear-output --inplace` ausführen."
    )


FIGURES = {}  # Notebook -> Befunde seiner Abbildungen aus dem einen Lauf


def _run_module(path, tmp_path, monkeypatch):
    # In einer Kopie von modules/, damit Dateien, die ein Notebook schreibt (Exporte), nicht im Repository landen.
    workdir = shutil.copytree(MODULES, tmp_path / "modules")
    monkeypatch.setenv("SOZIALRAUM_DATEN", str(ROOT / "datasets"))
    FIGURES[path] = _execute_and_inspect(path, workdir)
    return FIGURES[path]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_notebook_runs_top_to_bottom_in_a_fresh_kernel(path, tmp_path, monkeypatch):
    _run_module(path, tmp_path, monkeypatch)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_module_figures_carry_a_source_line_and_german_numbers(path, tmp_path, monkeypatch):
    # Befunde aus dem Lauf oben (kein zweites Ausführen); läuft dieser Test allein, wird das Notebook hier ausgeführt.
    figures = FIGURES[path] if path in FIGURES else _run_module(path, tmp_path, monkeypatch)
    _assert_figures_are_fit_to_publish(path.name, figures)


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda path: path.parent.name)
def test_solution_figures_carry_a_source_line_and_german_numbers(path, tmp_path, monkeypatch):
    workdir = shutil.copytree(path.parent, tmp_path / path.parent.name)
    monkeypatch.setenv("SOZIALRAUM_DATEN", str(ROOT / "datasets"))
    figures = _execute_and_inspect(path, workdir)
    _assert_figures_are_fit_to_publish(f"solutions/{path.parent.name}", figures)


def test_the_figure_inspection_catches_a_figure_without_source_and_with_english_numbers(tmp_path):
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell(
            "import matplotlib.pyplot as plt\n"
            "fig, ax = plt.subplots()\n"
            "ax.plot([0, 1], [0, 32.1])\n"
            "ax.set_title('Quote 32.1 %')\n"
            "plt.show()"
        ),
        nbformat.v4.new_code_cell(
            "from sozialraum.formatting import add_source, tick_formatter\n"
            "fig, ax = plt.subplots()\n"
            "ax.plot([0, 1], [0, 32.1])\n"
            "ax.yaxis.set_major_formatter(tick_formatter(1))\n"
            "ax.xaxis.set_major_formatter(tick_formatter(1))\n"
            "ax.set_title('Quote 32,1 %, Stand 31.12.2024')\n"
            "add_source(fig)\n"
            "fig.savefig('bild.png', bbox_inches='tight')"
        ),
    ]
    path = tmp_path / "probe.ipynb"
    nbformat.write(notebook, path)
    bad, good, *saved_again = _execute_and_inspect(path, tmp_path)
    assert not bad["source"] and "Quote 32.1 %" in bad["english"]
    assert good["source"] and not good["english"], good
    with pytest.raises(AssertionError, match="Quellenzeile"):
        _assert_figures_are_fit_to_publish("probe", [bad])
