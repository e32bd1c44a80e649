"""Modul 08 (Sozialmonitoring): Barrierefreiheit jeder Abbildung und der Monitor als HTML-Datei ohne Internet.

1. Statisch: Jede Zelle, die eine Abbildung, Karte oder den Monitor zeigt, hat direkt danach einen Alternativtext;
   das Modul prüft seine Abbildungen mit ``check_accessibility`` und bricht bei einem Befund ab.
2. Im Browser: Das Modul läuft in einem frischen Kernel (nbclient speichert den Widget-Zustand), wird mit
   ``sozialraum.export.notebook_html`` zu einer HTML-Datei und in Chromium ohne Netz von file:// geöffnet. Die
   gespeicherten Widgets erscheinen (vier Auswahlfelder, Karte, Zeitreihe, Tabelle); keine Anfrage verlässt das Gerät.
"""
import ast
import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from sozialraum.export import EXTERNAL_LOADS, notebook_html

ROOT = Path(__file__).resolve().parent.parent
MODULE = ROOT / "modules" / "08_monitoring.ipynb"
CHROMIUM = Path("/usr/bin/chromium")
ALT = "*Alternativtext:*"


def shows_something(source: str) -> bool:
    """Zeigt die Zelle eine Abbildung (plt.show) oder als letzte Zeile ein Widget (Karte, Monitor)?"""
    if "plt.show()" in source and "with anzeige_zeitreihe" not in source:
        return True
    tree = ast.parse(source)
    last = tree.body[-1] if tree.body else None
    if isinstance(last, ast.Expr):
        text = ast.unparse(last.value)
        return text.startswith("widgets.HTML(svg") or text == "monitor"
    return False


def test_every_figure_map_and_the_monitor_have_alt_text():
    cells = nbformat.read(MODULE, as_version=4).cells
    missing = []
    shown = 0
    for number, cell in enumerate(cells):
        if cell.cell_type == "code" and shows_something(cell.source):
            shown += 1
            following = cells[number + 1] if number + 1 < len(cells) else None
            if following is None or following.cell_type != "markdown" or not following.source.startswith(ALT):
                missing.append(cell.source.splitlines()[0][:60])
    assert shown >= 4, "Die Erkennung der Abbildungen findet zu wenig (Karte, Zeitreihe, Monitor, Profil)."
    assert not missing, f"Abbildungen ohne Alternativtext direkt danach: {missing}"


def test_the_module_checks_its_figures_and_stops_on_a_finding():
    source = "\n".join(cell.source for cell in nbformat.read(MODULE, as_version=4).cells if cell.cell_type == "code")
    assert "check_accessibility(profil_fig, ALT_PROFIL, table=profil_text(zahlen, JAHR))" in source
    assert 'assert not any(pruefungen.values()), "Eine Abbildung verletzt die Regeln der Barrierefreiheit."' in source


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    folder = tmp_path_factory.mktemp("modul08")
    notebook = nbformat.read(MODULE, as_version=4)
    os.environ.setdefault("SOZIALRAUM_DATEN", str(ROOT / "datasets"))
    NotebookClient(notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(folder)}}).execute()
    assert "application/vnd.jupyter.widget-state+json" in notebook.metadata.get("widgets", {})
    return notebook_html(notebook, folder / "monitor.html")


def test_exported_monitor_has_no_internet_reference(exported):
    html = exported.read_text(encoding="utf-8")
    assert not EXTERNAL_LOADS.search(html)
    assert "unpkg.com" not in html and "cdn.jsdelivr.net/npm/@jupyter-widgets" not in html


def test_exported_monitor_draws_its_widgets_offline_in_chromium(exported):
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        pytest.fail(f"Chromium fehlt ({CHROMIUM}). Tipp: `sudo apt-get install chromium`.")
    outside = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--host-resolver-rules=MAP * ~NOTFOUND"])
        page = browser.new_page()
        page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(("file:", "data:", "blob:")) else None)
        page.goto(exported.as_uri())
        page.wait_for_selector(".widget-output img", timeout=120_000)
        counts = {
            "Auswahlfelder": page.locator(".widget-dropdown select").count(),
            "Karte": page.locator('.widget-html svg[data-stand="kinderarmut-2024-stadtteile"]').count(),
            "Flächen mit Titel": page.locator(".widget-html svg[data-stand] path > title").count(),
            "Tabelle": page.locator(".widget-html table.dataframe caption").count(),
            "Zeitreihe": page.locator(".widget-output img").count(),
        }
        selected = page.locator(".widget-dropdown select").first.evaluate("s => s.options[s.selectedIndex].text")
        browser.close()
    assert counts["Auswahlfelder"] == 4 and counts["Karte"] >= 1 and counts["Zeitreihe"] == 1, counts
    assert counts["Flächen mit Titel"] >= 39 and counts["Tabelle"] >= 1, counts
    assert selected == "Kinderarmut"
    assert outside == [], f"Anfragen nach außen: {outside[:5]}"
