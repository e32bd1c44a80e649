"""Misst, wie schnell der Monitor aus Modul 08 im Browser auf eine Auswahl reagiert (Chromium ohne Bildschirm).

1. **JupyterLab** (mit Kernel): Das Skript kopiert ``modules/08_monitoring.ipynb`` in einen leeren Ordner, startet
   JupyterLab nur auf 127.0.0.1 (Zufallsport, Token, höchstens ``--timeout`` Sekunden), öffnet das Notebook in
   Chromium, führt alle Zellen aus und wechselt dann abwechselnd Indikator und Jahr. Gemessen wird je Wechsel die
   Zeit von der Auswahl bis (a) die Karte den neuen Stand zeigt (``svg[data-stand=...]``) und (b) auch Zeitreihe
   und Tabelle neu gezeichnet sind. Chromium erreicht nichts außer 127.0.0.1 (wie ein gesperrtes Verwaltungsnetz);
   jede Anfrage nach außen wird gezählt.
2. **Statischer HTML-Export** (ohne Kernel): das ausgeführte Notebook mit ``sozialraum.export.notebook_html``, von
   file:// geöffnet: Zeit bis die gespeicherten Widgets (Auswahlfelder, Karte, Zeitreihe, Tabelle) gezeichnet sind.

    .venv/bin/python benchmarks/widget_latency.py               # beides, 10 Wechsel
    .venv/bin/python benchmarks/widget_latency.py --wechsel 20

Danach werden JupyterLab und sein Kernel beendet. Rückgabewert 1, wenn etwas nicht gezeichnet wird oder eine
Anfrage das Gerät verlassen wollte. Auf einem ausgelasteten Rechner sind die Zeiten länger (Last wird ausgegeben).
"""
import argparse
import json
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import nbformat
import psutil
from nbclient import NotebookClient
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
MODULE = ROOT / "modules" / "08_monitoring.ipynb"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"]
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
    "@jupyterlab/docmanager-extension/plugin": {"autosave": False},
}
# die Karte des Monitors (die erste Karte im Notebook ist das Beispiel davor)
MONITOR_MAP = "(() => { const maps = document.querySelectorAll('svg[data-stand]'); return maps[maps.length - 1]; })()"
LOCAL = ("http://127.0.0.1", "ws://127.0.0.1", "file:", "data:", "blob:", "about:")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_lab(folder: Path, settings: Path, seconds: float) -> tuple[subprocess.Popen, str, str]:
    for plugin, values in LAB_SETTINGS.items():
        path = settings / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    port, token = free_port(), secrets.token_hex(16)
    env = {**os.environ, "SOZIALRAUM_DATEN": str(ROOT / "datasets")}
    log = (settings / "lab.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
         "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={folder}",
         f"--LabApp.user_settings_dir={settings}", f"--LabApp.workspaces_dir={settings / 'ws'}",
         "--LabApp.expose_app_in_browser=True", "--ServerApp.allow_root=True",
         f"--ServerApp.shutdown_no_activity_timeout={int(seconds)}", "--MappingKernelManager.cull_idle_timeout=0"],
        cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"JupyterLab ist abgebrochen:\n{(settings / 'lab.log').read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=5):
                return server, base, token
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.5)
    stop(server)
    raise RuntimeError("JupyterLab antwortet nicht.")


def stop(server: subprocess.Popen) -> None:
    for child in psutil.Process(server.pid).children(recursive=True):
        child.terminate()
    server.terminate()
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()


def dropdown(page, label: str):
    return page.locator(".widget-dropdown").filter(has=page.locator("label", has_text=label)).locator("select")


def measure_lab(browser, base: str, token: str, changes: int, external: list) -> dict:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.on("request", lambda request: external.append(request.url) if not request.url.startswith(LOCAL) else None)
    page.goto(f"{base}/lab/tree/08_monitoring.ipynb?token={token}")
    page.wait_for_function("() => window.jupyterapp && document.querySelector('.jp-Notebook')", timeout=180_000)
    page.wait_for_function("() => window.jupyterapp.shell.currentWidget?.sessionContext?.session?.kernel",
                           timeout=180_000)
    started = time.perf_counter()
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    page.wait_for_selector("svg[data-stand]", timeout=300_000)
    page.wait_for_function("() => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status"
                           " === 'idle'", timeout=300_000)  # fmt: skip
    run_all = time.perf_counter() - started
    indicator, year = dropdown(page, "Indikator").first, dropdown(page, "Jahr").first
    indicator.scroll_into_view_if_needed()
    indicators = indicator.locator("option").evaluate_all("os => os.map(o => o.textContent)")
    map_ms, all_ms = [], []
    years = year.locator("option").evaluate_all("os => os.map(o => o.textContent)")
    for number in range(changes):
        # die Karte vorher merken; das Bild der Zeitreihe markieren (JupyterLab ersetzt es durch ein neues Element)
        before = page.evaluate(f"() => {{ const img = document.querySelector('.widget-output img');"
                               f" if (img) {{ img.dataset.alt = '1'; }} return {MONITOR_MAP}.getAttribute('data-stand'); }}")
        if number % 2 == 0:
            choice = indicators[(number // 2 + 1) % len(indicators)]
            field = indicator
        else:
            choice = years[-1 - ((number // 2 + 1) % 5)]
            field = year
        t0 = time.perf_counter()
        field.select_option(label=choice)
        page.wait_for_function(f"old => {MONITOR_MAP}.getAttribute('data-stand') !== old",
                               arg=before, timeout=60_000, polling="raf")
        map_ms.append((time.perf_counter() - t0) * 1000)
        page.wait_for_function("() => { const img = document.querySelector('.widget-output img');"
                               " return img && !img.dataset.alt && img.complete; }", timeout=60_000, polling="raf")
        all_ms.append((time.perf_counter() - t0) * 1000)
    page.screenshot(path=str(Path(tempfile.gettempdir()) / "monitor_lab.png"))
    page.close()
    return {"run_all_s": run_all, "map_ms": map_ms, "all_ms": all_ms}


def measure_static(browser, folder: Path, external: list) -> dict:
    notebook = nbformat.read(folder / "08_monitoring.ipynb", as_version=4)
    started = time.perf_counter()
    NotebookClient(notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(folder)}}).execute()
    executed = time.perf_counter() - started
    from sozialraum.export import notebook_html

    html = notebook_html(notebook, folder / "monitor.html")
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.on("request", lambda request: external.append(request.url) if not request.url.startswith(LOCAL) else None)
    t0 = time.perf_counter()
    page.goto(html.as_uri())
    page.wait_for_selector("svg[data-stand]", timeout=60_000)
    page.wait_for_selector(".widget-output img", timeout=60_000)
    shown = (time.perf_counter() - t0) * 1000
    found = {
        "auswahlfelder": page.locator(".widget-dropdown select").count(),
        "karten": page.locator(".widget-html svg[data-stand]").count(),
        "zeitreihen": page.locator(".widget-output img").count(),
        "tabellen": page.locator(".widget-html table.dataframe").count(),
    }
    page.locator(".widget-dropdown").first.scroll_into_view_if_needed()
    page.screenshot(path=str(Path(tempfile.gettempdir()) / "monitor_static.png"))
    page.close()
    return {"execute_s": executed, "render_ms": shown, "size_mb": html.stat().st_size / 1e6, **found}


def summary(values: list[float]) -> str:
    return (f"Median {statistics.median(values):.0f} ms, Minimum {min(values):.0f} ms, "
            f"Maximum {max(values):.0f} ms (n = {len(values)})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--wechsel", type=int, default=10, help="Zahl der Auswahlwechsel in JupyterLab")
    parser.add_argument("--timeout", type=float, default=900, help="JupyterLab endet spätestens nach so vielen s")
    args = parser.parse_args()
    print(f"Last (1, 5, 15 min): {', '.join(f'{x:.2f}' for x in os.getloadavg())}; CPUs: {os.cpu_count()}")
    external: list[str] = []
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        folder, settings = Path(tmp) / "kurs", Path(tmp) / "settings"
        folder.mkdir()
        settings.mkdir()
        shutil.copy2(MODULE, folder / MODULE.name)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            server, base, token = start_lab(folder, settings, args.timeout)
            try:
                lab = measure_lab(browser, base, token, args.wechsel, external)
            finally:
                stop(server)
            print(f"JupyterLab: alle Zellen in {lab['run_all_s']:.1f} s")
            print(f"  Auswahl -> Karte neu:                   {summary(lab['map_ms'])}")
            print(f"  Auswahl -> Karte, Zeitreihe, Tabelle:   {summary(lab['all_ms'])}")
            static_folder = Path(tmp) / "statisch"
            static_folder.mkdir()
            shutil.copy2(MODULE, static_folder / MODULE.name)
            os.environ["SOZIALRAUM_DATEN"] = str(ROOT / "datasets")
            static = measure_static(browser, static_folder, external)
            browser.close()
    print(f"Statischer HTML-Export: {static['size_mb']:.1f} MB, gezeichnet in {static['render_ms']:.0f} ms "
          f"(Notebook ausgeführt in {static['execute_s']:.1f} s); {static['auswahlfelder']} Auswahlfelder, "
          f"{static['karten']} Karte(n), {static['zeitreihen']} Zeitreihe(n), {static['tabellen']} Tabelle(n)")
    if static["auswahlfelder"] < 4 or not static["karten"] or not static["zeitreihen"] or not static["tabellen"]:
        print("FEHLER: Der HTML-Export zeigt nicht alle Teile des Monitors.")
        ok = False
    print(f"Anfragen nach außen (außer 127.0.0.1, file:, data:): {len(external)}")
    for url in sorted(set(external))[:10]:
        print("  ", url)
    ok = ok and not external
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
