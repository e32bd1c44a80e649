"""Misst Laufzeit und Spitzenspeicher jedes Lehr-Notebooks in modules/.

Jedes Notebook läuft in einem frischen Kernel (nbclient), von oben nach unten. Gemessen werden die Wandzeit
(Kernelstart bis letzte Zelle), die CPU-Zeit des Kernels und der höchste Arbeitsspeicher (RSS) des Kernelprozesses
samt Kindprozessen, alle 0,1 s mit psutil abgetastet. Ausgabe: eine Markdown-Tabelle; Budget je Notebook 20 s und
500 MB. Auf einem ausgelasteten Rechner ist die Wandzeit länger als die CPU-Zeit; die CPU-Zeit hilft beim Einordnen.

    .venv/bin/python benchmarks/run_modules.py              # alle Notebooks in modules/
    .venv/bin/python benchmarks/run_modules.py 00_start     # nur Notebooks, deren Name so beginnt

Rückgabewert 1, wenn ein Notebook fehlschlägt oder das Budget überschreitet.
"""
import os
import re
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import nbformat
import psutil
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
MODULES = ROOT / "modules"
BUDGET_SECONDS = 20
BUDGET_MB = 500
SAMPLE_SECONDS = 0.1
ANSI_COLOUR = re.compile(r"\x1b\[[0-9;]*m")


class KernelSampler:
    """Tastet RSS und CPU-Zeit eines Prozesses und seiner Kindprozesse in einem Hintergrund-Thread ab."""

    def __init__(self) -> None:
        self.peak_bytes = 0
        self.cpu_seconds = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, pid: int) -> None:
        self._thread = threading.Thread(target=self._sample, args=(pid,), daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _sample(self, pid: int) -> None:
        try:
            root = psutil.Process(pid)
            while not self._stop.is_set():
                processes = [root, *root.children(recursive=True)]
                rss, cpu = 0, 0.0
                for process in processes:
                    try:
                        rss += process.memory_info().rss
                        times = process.cpu_times()
                        cpu += times.user + times.system
                    except psutil.NoSuchProcess:
                        pass
                self.peak_bytes = max(self.peak_bytes, rss)
                self.cpu_seconds = max(self.cpu_seconds, cpu)
                time.sleep(SAMPLE_SECONDS)
        except psutil.NoSuchProcess:
            pass  # Kernel ist beendet


def measure(path: Path, workdir: Path) -> tuple[float, float, float, str]:
    """Führt ein Notebook in ``workdir`` aus; gibt (Sekunden, CPU-Sekunden, Spitzen-MB, Fehler oder "") zurück."""
    notebook = nbformat.read(path, as_version=4)
    sampler = KernelSampler()
    client = NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(workdir)}}
    )
    client.on_notebook_start = lambda notebook: sampler.start(client.km.provisioner.pid)
    client.on_notebook_complete = lambda notebook: sampler.stop()
    error = ""
    started = time.perf_counter()
    try:
        client.execute()
    except Exception as exc:  # ein fehlerhaftes Notebook soll die Messung der anderen nicht verhindern
        message = ANSI_COLOUR.sub("", str(exc)).strip()
        last_line = message.splitlines()[-1] if message else type(exc).__name__
        error = "Fehler: " + last_line.replace("|", "/")
    seconds = time.perf_counter() - started
    sampler.stop()
    return seconds, sampler.cpu_seconds, sampler.peak_bytes / 2**20, error


def main(prefixes: list[str]) -> int:
    paths = sorted(p for p in MODULES.glob("*.ipynb") if not prefixes or p.name.startswith(tuple(prefixes)))
    if not paths:
        print(f"Keine Notebooks in {MODULES} gefunden.", file=sys.stderr)
        return 1
    budget = f"Budget ({BUDGET_SECONDS} s, {BUDGET_MB} MB)"
    print(f"| Notebook | Laufzeit (s) | CPU-Zeit Kernel (s) | Spitzenspeicher (MB) | {budget} |")
    print("|---|---:|---:|---:|---|")
    # Die Notebooks laufen in einer Kopie von modules/, damit ihre Exporte nicht im Repository landen.
    os.environ.setdefault("SOZIALRAUM_DATEN", str(ROOT / "datasets"))
    failed = False
    with tempfile.TemporaryDirectory(prefix="sozialraum-benchmark-") as tmp:
        workdir = shutil.copytree(MODULES, Path(tmp) / "modules")
        for path in paths:
            seconds, cpu_seconds, peak_mb, error = measure(path, workdir)
            problems = [error] if error else []
            if seconds > BUDGET_SECONDS:
                problems.append("Zeit überschritten")
            if peak_mb > BUDGET_MB:
                problems.append("Speicher überschritten")
            failed = failed or bool(problems)
            verdict = "; ".join(problems) or "ok"
            print(f"| {path.name} | {seconds:.1f} | {cpu_seconds:.1f} | {peak_mb:.0f} | {verdict} |", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
