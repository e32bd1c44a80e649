"""JupyterLab im echten Browser, gestartet wie im README (`python3 kurs.py lab`), ohne Netz außer 127.0.0.1.

Der Test legt eine Kopie des Repositorys an (die versionierten Dateien, `.venv` als Verweis auf die Kursumgebung),
startet darin `python3 kurs.py lab` mit nur den Argumenten, die ein Test ohne Bildschirm braucht, und steuert Debians
Chromium mit Playwright (kein Browser-Download). Chromium kann keinen Rechnernamen außer 127.0.0.1 auflösen, wie in
einem gesperrten Verwaltungsnetz. Geprüft wird: Das Repository ist die Wurzel, Modul 00 ist vorne; in Modul 00,
Modul 03 und einer bearbeiteten Übung zeichnet Leaflet jede folium-Karte (Flächen, Tooltip beim Überfahren), auch
in einer mit `Map.save` gespeicherten HTML-Datei von file://; keine Anfrage verlässt 127.0.0.1. Von jedem Test
landet ein Bildschirmfoto in artifacts/.
"""
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import nbformat
import psutil
import pytest
from playwright.sync_api import Page, expect, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from sozialraum import webmaps

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # kein Netz außer JupyterLab: jede Anfrage an einen CDN oder Kachelserver scheitert (und wird mitgeschrieben)
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]
# Einstellungen nur für diesen Test: alle Zellen im DOM (kein Fenstermodus), kein automatisches Speichern.
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
    "@jupyterlab/docmanager-extension/plugin": {"autosave": False},
}
TIMEOUT_MS = 300_000  # großzügig: auf einem ausgelasteten Rechner dauern Kernelstart und Imports lange
expect.set_options(timeout=TIMEOUT_MS)
# Die Übung, wie eine Teilnehmerin sie gelöst hat, mit einer eigenen interaktiven Karte am Ende (folium erst
# nach `from sozialraum import data` importiert, anders als in Modul 03).
EXERCISE = "exercises/03_karten/03_karten.ipynb"
LEARNER_MAP = """\
import folium
from sozialraum.formatting import format_percent

web = senioren[["bezirk_id", "name", "grusi_veroeffentlicht", "geometry"]].copy()  # nur geschützte Quoten
web["geometry"] = web.simplify(20)
web = web.to_crs("EPSG:4326")
web["quote_text"] = web["grusi_veroeffentlicht"].map(format_percent)
meine_karte = folium.Map(tiles=None)
folium.GeoJson(
    web, name="Grundsicherung im Alter",
    style_function=lambda feature: {"fillColor": "#fd8d3c", "color": "white", "weight": 0.5, "fillOpacity": 0.7},
    tooltip=folium.GeoJsonTooltip(["name", "quote_text"], aliases=["Bezirk", "Grundsicherung im Alter"]),
).add_to(meine_karte)
folium.LayerControl().add_to(meine_karte)
west, sued, ost, nord = web.total_bounds
meine_karte.fit_bounds([[sued, west], [nord, ost]])
meine_karte.save("ausgabe/meine_karte.html")
meine_karte
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_ready(url: str, server: subprocess.Popen, log: Path, seconds: float = 180) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"JupyterLab ist beim Start abgebrochen:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.5)
    pytest.fail(f"JupyterLab antwortet nach {seconds} s nicht:\n{log.read_text()[-3000:]}")


def copy_of_repository(target: Path) -> Path:
    """Die versionierten Dateien wie in einem frischen Klon; die Kursumgebung .venv/ als Verweis auf die echte."""
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=True)
    for name in filter(None, tracked.stdout.split("\0")):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    (target / ".venv").symlink_to(ROOT / ".venv")
    solved = nbformat.read(target / "solutions" / "03_karten" / "03_karten.ipynb", as_version=4)
    solved.cells.append(nbformat.v4.new_code_cell(LEARNER_MAP))
    nbformat.write(solved, target / EXERCISE)
    return target


def environment_is_current() -> bool:
    """Wie kurs.py: Passt die Kursumgebung zu den Pins? Sonst würde `kurs.py lab` erst neu installieren."""
    sys.path.insert(0, str(ROOT))
    try:
        import kurs
    finally:
        sys.path.remove(str(ROOT))
    return kurs.STAMP.exists() and kurs.STAMP.read_text().strip() == kurs.fingerprint()


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """`python3 kurs.py lab` in einer Kopie des Repositorys; gibt (Basis-URL, Token, Kursordner) zurück."""
    if not environment_is_current():
        pytest.fail("Die Kursumgebung .venv/ passt nicht zu binder/ und pyproject.toml: erst `python3 kurs.py test`.")
    course = copy_of_repository(tmp_path_factory.mktemp("kurs"))
    settings = tmp_path_factory.mktemp("lab-settings")
    for plugin, values in LAB_SETTINGS.items():
        path = settings / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))

    port, token = free_port(), secrets.token_hex(16)
    log = settings / "jupyterlab.log"  # nicht im Kursordner, sonst stünde es im Dateibrowser
    env = {name: value for name, value in os.environ.items() if name != "SOZIALRAUM_DATEN"}  # wie bei Teilnehmenden
    with log.open("w") as log_file:
        server = subprocess.Popen(
            [
                shutil.which("python3") or sys.executable, "kurs.py", "lab",
                "--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
                f"--IdentityProvider.token={token}",
                f"--LabApp.user_settings_dir={settings}", f"--LabApp.workspaces_dir={settings / 'workspaces'}",
                "--LabApp.expose_app_in_browser=True",  # der Test fragt den Kernelzustand über window.jupyterapp ab
                "--ServerApp.allow_root=True",
            ],
            cwd=course, env=env, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(f"{base}/api/status?token={token}", server, log)
        yield base, token, course
    finally:
        stop(server)


def stop(server: subprocess.Popen, seconds: float = 30) -> None:
    """Beendet JupyterLab (es fährt dabei seine Kernel herunter); kurs.py wartet darauf und endet dann selbst."""
    for child in psutil.Process(server.pid).children():
        child.terminate()
    try:
        server.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)  # die Prozessgruppe von kurs.py (start_new_session)
        server.wait()


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.fail(
            f"Chromium fehlt ({CHROMIUM}). Der Browser-Test braucht Debians Chromium; installieren Sie es mit "
            "`sudo apt-get install chromium` (Debian/Ubuntu) und starten Sie die Tests erneut."
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def session(browser):
    """Eine Browserseite für alle Tests; jede Anfrage (auch aus den Karten-iframes) wird mitgeschrieben."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="de-DE")
    context.set_default_timeout(TIMEOUT_MS)
    requests: list[str] = []
    context.on("request", lambda request: requests.append(request.url))
    yield context.new_page(), requests
    context.close()


@pytest.fixture
def page(session, request):
    """Die gemeinsame Seite; am Ende (auch nach einem Fehler) ein Bildschirmfoto in artifacts/<Testname>.png."""
    page, requests = session
    requests.clear()
    yield page
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"{request.node.name}.png")


@pytest.fixture
def requests(session):
    return session[1]


def open_notebook(page: Page, lab, path: str) -> None:
    base, token, _ = lab
    page.goto(f"{base}/lab/tree/{path}?reset&token={token}")  # reset: ohne die Tabs des vorigen Tests
    expect(page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook")).to_be_visible()
    wait_for_idle_kernel(page)


def wait_for_idle_kernel(page: Page) -> None:
    """Wartet, bis der Kernel des offenen Notebooks verbunden ist und nichts mehr rechnet."""
    page.wait_for_function(
        """() => {
            const kernel = window.jupyterapp?.shell.currentWidget?.sessionContext?.session?.kernel;
            return kernel?.connectionStatus === "connected" && kernel?.status === "idle";
        }"""
    )


def run_all_cells(page: Page) -> None:
    # Die Oberfläche ist deutsch (Sprachpaket aus binder/postBuild): Menü "Ausführen".
    page.locator(".lm-MenuBar-item", has_text="Ausführen").first.click()
    page.locator(".lm-Menu-item:not(.lm-mod-disabled)").get_by_text("Alle Zellen ausführen", exact=True).click()
    # Fertig ist eine Zelle, wenn ihr Zähler eine Zahl zeigt ("[3]:"), nicht "[ ]:" oder "[*]:".
    unfinished = page.locator(".jp-CodeCell .jp-InputPrompt").filter(has_not_text=re.compile(r"\[\d+\]"))
    expect(unfinished).to_have_count(0)
    wait_for_idle_kernel(page)
    outputs = page.locator(".jp-OutputArea-output")
    errors = outputs.and_(page.locator('[data-mime-type="application/vnd.jupyter.stderr"]'))
    assert errors.count() == 0, "Fehlerausgabe im Notebook:\n" + "\n".join(errors.all_inner_texts())
    assert "Traceback" not in page.locator(".jp-Notebook").inner_text()


def assert_leaflet_map(frame) -> None:
    """Leaflet hat die Karte gezeichnet: Flächen als SVG-Pfade, beim Überfahren erscheint ein Tooltip."""
    expect(frame.locator(".leaflet-container")).to_be_visible()
    shapes = frame.locator("path.leaflet-interactive")
    expect(shapes.first).to_be_attached()
    assert shapes.count() >= 5, f"nur {shapes.count()} Flächen gezeichnet"  # Modul 00: 7 Stadtbezirke
    tooltip = frame.locator(".leaflet-tooltip")
    for index in range(min(shapes.count(), 8)):  # manche Flächen liegen unter Legende oder Ebenenschalter
        shapes.nth(index).hover(force=True)
        try:
            tooltip.first.wait_for(state="visible", timeout=3_000)
            break
        except PlaywrightTimeoutError:
            continue
    assert tooltip.count() and tooltip.first.is_visible(), "Beim Überfahren der Flächen erscheint kein Tooltip"
    assert tooltip.first.inner_text().strip(), "Tooltip ohne Text"


def assert_maps_in_notebook(page: Page, minimum: int) -> None:
    iframes = page.locator(".jp-OutputArea-output iframe")
    assert iframes.count() >= minimum, f"{iframes.count()} Karten statt mindestens {minimum}"
    assert "Make this Notebook Trusted" not in page.locator(".jp-Notebook").inner_text()
    for index in range(iframes.count()):
        iframes.nth(index).scroll_into_view_if_needed()
        assert_leaflet_map(page.frame_locator(".jp-OutputArea-output iframe").nth(index))


def assert_stayed_local(requests: list[str], *allowed: str) -> None:
    prefixes = ("http://127.0.0.1:", "data:", "blob:", "about:", *allowed)
    foreign = sorted({url for url in requests if not url.startswith(prefixes)})
    assert requests and not foreign, f"Anfragen ins Internet: {foreign}"


def test_lab_opens_the_repository_with_module_00_in_front(page, lab):
    base, token, _ = lab
    page.goto(f"{base}/?token={token}")  # wie der Browser, den `python3 kurs.py lab` öffnen würde
    expect(page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook")).to_be_visible()
    expect(page.locator(".lm-TabBar-tab.jp-mod-current", has_text="00_start.ipynb")).to_be_visible()
    page.locator(".jp-FileBrowser .jp-BreadCrumbs-home").click()  # Wurzel des Dateibrowsers
    names = page.locator(".jp-FileBrowser .jp-DirListing-itemText")
    for folder in ["modules", "exercises", "datasets"]:
        expect(names.get_by_text(folder, exact=True)).to_be_visible()


def test_start_notebook_runs_and_its_map_works_offline(page, lab, requests):
    open_notebook(page, lab, "modules/00_start.ipynb")
    run_all_cells(page)
    outputs = page.locator(".jp-OutputArea-output")
    expect(outputs.locator("table.dataframe", has_text="einwohner_je_km2").first).to_be_visible()  # Stadtbezirke
    expect(outputs.locator('img[src^="data:image/png"]').first).to_be_visible()
    assert_maps_in_notebook(page, minimum=1)
    assert_stayed_local(requests)


def test_module_03_maps_work_offline(page, lab, requests):
    open_notebook(page, lab, "modules/03_karten.ipynb")
    run_all_cells(page)
    assert_maps_in_notebook(page, minimum=1)
    assert_stayed_local(requests)


def test_saved_html_map_works_from_file(page, lab, requests):
    saved = lab[2] / "modules" / "ausgabe" / "kinderarmut_2024.html"  # geschrieben von Modul 03 (Test davor)
    assert saved.is_file(), "Modul 03 hat die HTML-Karte nicht gespeichert"
    page.goto(saved.as_uri())
    assert_leaflet_map(page.main_frame)
    assert_stayed_local(requests, saved.as_uri())


def test_without_the_kit_folium_maps_stay_blank_offline(page, requests, tmp_path):
    """Gegenprobe: Ohne `import sozialraum` lädt folium aus dem Internet; hier scheitert das, die Prüfungen merken es."""
    saved = tmp_path / "ohne_kit.html"
    code = f"import folium\nfolium.Map(tiles=None).save({str(saved)!r})"
    subprocess.run([sys.executable, "-c", code], check=True)
    page.goto(saved.as_uri())
    page.wait_for_load_state("load")
    assert page.locator(".leaflet-container").count() == 0
    with pytest.raises(AssertionError, match="Anfragen ins Internet"):
        assert_stayed_local(requests, saved.as_uri())


EXTRAS_MAP = """\
import folium
import sozialraum

karte = folium.Map(location=[51.5, 7.2], zoom_start=11)  # folium-Voreinstellung: Kacheln von OpenStreetMap
for number in range(6):
    west = 7.1 + number * 0.03
    folium.GeoJson(
        {"type": "Polygon", "coordinates": [[[west, 51.45], [west + 0.025, 51.45], [west, 51.5], [west, 51.45]]]},
        tooltip=f"Bezirk {number}",
    ).add_to(karte)
folium.Marker([51.52, 7.15], popup="Familienzentrum").add_to(karte)
folium.Marker([51.52, 7.25], icon=folium.Icon(color="green")).add_to(karte)
karte.save(PATH)
"""


def test_online_extras_degrade_gracefully_offline(page, requests, tmp_path):
    """Kacheln und folium.Icon kommen aus dem Internet: gesperrt zeigt die Karte einen Hinweis und Standard-Pins."""
    saved = tmp_path / "mit_kacheln.html"
    subprocess.run([sys.executable, "-c", EXTRAS_MAP.replace("PATH", repr(str(saved)))], check=True)
    page.goto(saved.as_uri())
    assert_leaflet_map(page.main_frame)
    expect(page.locator(".sozialraum-kachel-hinweis")).to_contain_text("Hintergrundkarte nicht erreichbar")
    pins = page.locator("img.leaflet-marker-icon")
    expect(pins).to_have_count(2)
    assert all(src.startswith("data:image/png") for src in [pins.nth(i).get_attribute("src") for i in range(2)])
    online = ("https://tile.openstreetmap.org/", *sorted(webmaps.AWESOME_MARKERS))
    assert_stayed_local(requests, saved.as_uri(), *online)  # nur, was diese Karte ausdrücklich aus dem Netz will


def test_map_in_an_exercise_works_offline(page, lab, requests):
    open_notebook(page, lab, EXERCISE)
    run_all_cells(page)
    assert_maps_in_notebook(page, minimum=1)
    assert_stayed_local(requests)
    saved = lab[2] / "exercises" / "03_karten" / "ausgabe" / "meine_karte.html"
    page.goto(saved.as_uri())
    assert_leaflet_map(page.main_frame)
    assert_stayed_local(requests, saved.as_uri())


def test_learners_can_validate_an_exercise(page, lab):
    open_notebook(page, lab, "exercises/00_start/00_start.ipynb")
    page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .validate-button").click()
    dialog = page.locator(".jp-Dialog")
    expect(dialog.get_by_text("Validation Results")).to_be_visible()
    # Die unbearbeitete Übung enthält noch `raise NotImplementedError()`: Validate muss das melden.
    expect(dialog.locator(".validation-failed")).to_contain_text("The following cell failed")


def test_formgrader_is_hidden_from_learners(page, lab):
    open_notebook(page, lab, "modules/00_start.ipynb")
    page.locator(".lm-MenuBar-item", has_text="Nbgrader").click()
    menu = page.locator("#jp-mainmenu-nbgrader")
    expect(menu).to_be_visible()
    assert "Formgrader" not in menu.inner_text()
    page.keyboard.press("Escape")

    page.keyboard.press("Control+Shift+C")  # Befehlspalette
    palette = page.locator(".jp-ModalCommandPalette")
    palette.locator("input").fill("Assignment List")  # Gegenprobe: die Suche findet nbgrader-Befehle
    expect(palette.locator(".lm-CommandPalette-item")).not_to_have_count(0)
    palette.locator("input").fill("formgrader")
    expect(palette.locator(".lm-CommandPalette-item")).to_have_count(0)
    page.keyboard.press("Escape")

    base, token, _ = lab
    with pytest.raises(urllib.error.HTTPError) as response:
        urllib.request.urlopen(f"{base}/formgrader?token={token}", timeout=30)
    assert response.value.code == 404, "Die Formgrader-Seite darf auf dem Server für Teilnehmende nicht existieren."
