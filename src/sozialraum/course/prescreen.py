"""Vorprüfung der Varianten ohne nbgrader: Ändert eine Variante überhaupt eine Antwort?

Läuft als eigener Prozess (``python -m sozialraum.course.prescreen < auftrag.json > ergebnis.json``). Er führt die
Codezellen der Lösung der Reihe nach in einem Namensraum aus (ohne Testzellen). Vor jeder Lösungszelle wird für
jede Variante dieser Aufgabe ein Kindprozess abgespalten (``os.fork``: der Zustand bis hierher wird geteilt, nicht
neu berechnet; höchstens ein Kind je Kern läuft gleichzeitig); er führt die Variante und alle folgenden Zellen
aus und meldet einen Fingerabdruck jeder Antwortvariable. Braucht dort eine Zelle länger als ``CHILD_TIMEOUT``
(die Zeitgrenze je Zelle beim Bewerten), meldet die Vorprüfung ``timeout``. Varianten mit denselben
Fingerabdrücken wie die Lösung sind gleichwertig (keine falsche Antwort).

Danach führt das Kind die Testzellen seiner Aufgabe aus (samt verborgenen Tests) und meldet, welche Zusicherung
scheitert: eine Vorhersage, die ``check`` nur zum Bündeln nutzt; bewertet wird mit nbgrader.
Die Typ-Attrappen entstehen hier, weil sie vom Typ der richtigen Antwort abhängen.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pickle
import select
import shutil
import signal
import sys
import tempfile
import traceback

from sozialraum.course import mutate
from sozialraum.course.tasks import assigned_names, used_names

MISSING = "<fehlt>"
CHILD_TIMEOUT = 120  # Sekunden je Zelle im Kind, wie die Zeitgrenze je Zelle beim Bewerten


def _series_bytes(series) -> bytes:
    import pandas as pd

    if series.dtype.kind == "f":
        series = series.map(lambda x: float(f"{x:.9g}"))
    if hasattr(series, "to_wkb"):
        return pickle.dumps(list(series.to_wkb()))
    return pd.util.hash_pandas_object(series, index=False).to_numpy().tobytes()


def _figure_content(value) -> list:
    """Was eine matplotlib-Abbildung (oder eine ihrer Achsen) zeigt: Texte, Legenden, Formen und Flächenfarben.

    Lage, Größe und Linienstärken zählen nicht: Varianten, die nur die Gestaltung ändern, gelten als gleichwertig.
    (Abbildungen aus geopandas lassen sich nicht mit pickle serialisieren.)
    """
    import numpy as np
    from matplotlib.colors import to_rgba

    figure = value.get_figure(root=True)  # Achse -> ihre Abbildung; Abbildung -> sie selbst
    parts = [[t.get_text() for t in figure.texts]]
    for ax in figure.axes:
        legend = ax.get_legend()
        parts.append([ax.get_title(loc=loc) for loc in ("left", "center", "right")] + [t.get_text() for t in ax.texts])
        parts.append(None if legend is None else
                     [legend.get_title().get_text(), *(t.get_text() for t in legend.get_texts())])
        parts += [(type(c).__name__, len(c.get_paths()), np.round(c.get_facecolor(), 4).tolist())
                  for c in ax.collections]
        parts += [(to_rgba(line.get_color()), np.round(line.get_xydata(), 3).tolist()) for line in ax.lines]
    return parts


def fingerprint(value) -> str:
    """Fingerabdruck eines Werts: Typ und Inhalt (Gleitkommazahlen auf 9 gültige Stellen gerundet)."""
    import numpy as np
    import pandas as pd

    kind = f"{type(value).__module__}.{type(value).__qualname__}"
    try:
        if isinstance(value, float):  # numpy.float64 ist eine Unterklasse von float: gleiche Antwort
            kind, body = "float", f"{float(value):.9g}".encode()
        elif isinstance(value, (pd.DataFrame, pd.Series)):
            frame = value.to_frame() if isinstance(value, pd.Series) else value
            parts = [repr(list(frame.columns)), repr([str(t) for t in frame.dtypes]), repr(list(value.index.names)),
                     str(value.index.dtype), str(getattr(value, "crs", None)),
                     _series_bytes(value.index.to_series())]
            parts += [_series_bytes(frame.iloc[:, i]) for i in range(frame.shape[1])]
            body = pickle.dumps(parts)
        elif isinstance(value, np.ndarray):
            body = pickle.dumps((value.dtype.str, value.shape, value.tobytes()))
        elif type(value).__module__.startswith("matplotlib.") and hasattr(value, "get_figure"):
            body = pickle.dumps(_figure_content(value))
        else:
            body = pickle.dumps(value)
    except Exception:  # nicht serialisierbar (z. B. Attrappen): jede Instanz gilt als verschieden
        body = f"{repr(value)[:2000]}@{id(value)}".encode()
    return kind + ":" + hashlib.sha256(body).hexdigest()


def _run_cell(source: str, namespace: dict) -> str:
    """Führt eine Zelle aus; gibt "" oder "Fehlertyp:Zeile" zurück (danach geht es weiter, wie bei nbgrader)."""
    from IPython.core.inputtransformer2 import TransformerManager

    try:
        code = compile(TransformerManager().transform_cell(source), "<zelle>", "exec")
        exec(code, namespace)
        return ""
    except BaseException as error:  # noqa: BLE001 - auch SystemExit/KeyboardInterrupt aus Abgaben abfangen
        lines = [frame.lineno for frame in traceback.extract_tb(error.__traceback__) if frame.filename == "<zelle>"]
        return f"{type(error).__name__}:{lines[-1] if lines else 0}"


def _answers(namespace: dict, names: list[str]) -> dict[str, str]:
    return {name: fingerprint(namespace[name]) if name in namespace else MISSING for name in names}


class _Children:
    """Abgespaltene Kindprozesse, höchstens einer je Kern gleichzeitig; jedes meldet ein JSON-Ergebnis.

    Jedes Kind arbeitet in einer eigenen Kopie des Arbeitsordners (so, wie er beim Abspalten war): Zellen, die
    Dateien schreiben, stören sich so nicht gegenseitig und nicht die Lösung im Elternprozess."""

    def __init__(self, limit: int, scratch: str):
        self.limit, self.scratch, self.running, self.results = limit, scratch, {}, {}

    def submit(self, key: str, work) -> None:
        """Startet ``work()`` in einem Kind (wartet vorher, bis ein Platz frei ist)."""
        while len(self.running) >= self.limit:
            self._reap_one()
        private = tempfile.mkdtemp(prefix="kind-", dir=self.scratch)
        shutil.copytree(os.getcwd(), private, symlinks=True, dirs_exist_ok=True)
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.chdir(private)
            os.close(read_end)
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            signal.alarm(CHILD_TIMEOUT)
            try:
                payload = json.dumps(work()).encode()
            except BaseException:  # noqa: BLE001
                payload = json.dumps({"error": traceback.format_exc(limit=3)}).encode()
            with os.fdopen(write_end, "wb") as pipe:
                pipe.write(payload)
            os._exit(0)
        os.close(write_end)
        os.set_blocking(read_end, False)
        self.running[read_end] = (key, pid, [], private)

    def run(self, work) -> dict:
        """``work()`` in einem Kind, Ergebnis sofort."""
        self.submit("_sofort", work)
        while "_sofort" not in self.results:
            self._reap_one()
        return self.results.pop("_sofort")

    def drain(self) -> dict:
        while self.running:
            self._reap_one()
        return self.results

    def _reap_one(self) -> None:
        """Liest, bis ein Kind fertig ist (Ende seiner Pipe), und legt sein Ergebnis ab."""
        while True:
            for fd in select.select(list(self.running), [], [])[0]:
                chunk = os.read(fd, 1 << 16)
                key, pid, parts, private = self.running[fd]
                if chunk:
                    parts.append(chunk)
                    continue
                os.close(fd)
                del self.running[fd]
                _, status = os.waitpid(pid, 0)
                shutil.rmtree(private, ignore_errors=True)
                data = b"".join(parts)
                if data:
                    self.results[key] = json.loads(data)
                elif os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGALRM:
                    self.results[key] = {"error": f"Zeitüberschreitung (mehr als {CHILD_TIMEOUT} s)", "timeout": True}
                else:
                    self.results[key] = {"error": "Absturz"}
                return


def screen(job: dict) -> dict:
    """Führt den Auftrag aus (siehe Modulbeschreibung) und gibt das Ergebnis als JSON-fähiges dict zurück."""
    cells, tasks = job["cells"], job["tasks"]
    all_names = sorted({name for names in tasks.values() for name in names})
    by_task: dict[str, list[dict]] = {}
    for variant in job["variants"]:
        by_task.setdefault(variant["task"], []).append(variant)
    os.chdir(job["workdir"])
    sys.path.insert(0, job["workdir"])
    from IPython.display import display

    namespace = {"__name__": "__main__", "display": display}
    variants, errors = [], {}
    children = _Children(os.cpu_count() or 1, tempfile.mkdtemp(prefix="vorpruefung-"))
    for index, cell in enumerate(cells):
        task = cell.get("task")
        if task in tasks:
            todo = by_task.get(task, [])
            todo = todo + _impostors(cell, task, tasks[task], namespace, children)
            for variant in todo:  # die Kinder laufen weiter, während hier die nächsten Zellen laufen
                children.submit(variant["key"], lambda variant=variant, index=index: _variant(
                    variant, cells, index, namespace, all_names))
            variants += todo
        failed = _run_cell(cell["source"], namespace)
        if failed:
            errors[cell.get("task") or cell.get("test_of") or f"zelle-{index}"] = failed
    results = children.drain()
    shutil.rmtree(children.scratch, ignore_errors=True)
    return {"variants": variants, "results": results, "solution": _answers(namespace, all_names),
            "solution_errors": errors}


def _touched(source: str) -> list[str]:
    return sorted(set(assigned_names(source)) | used_names(source))


def _impostors(cell: dict, task: str, answers: list[str], namespace: dict, children: _Children) -> list[dict]:
    """Typ-Attrappen für die Antworten dieser Aufgabe (der Typ kommt aus einem Lauf der Lösung)."""
    def reference():
        _run_cell(cell["source"], namespace)
        return {"snippets": [[name, description, snippet] for name in answers if name in namespace
                             for description, snippet in mutate.impostor_snippets(name, namespace[name])],
                "state": _answers(namespace, _touched(cell["source"]))}
    found = children.run(reference)
    cell["state"] = found.get("state")
    return [{"key": f"{task}-attrappe-{number:03d}", "task": task, "category": mutate.IMPOSTOR,
             "description": f"{name}: {description}", "source": mutate.impostor_source(cell["source"], snippet)}
            for number, (name, description, snippet) in enumerate(found.get("snippets", []))]


def _variant(variant: dict, cells: list[dict], index: int, namespace: dict, all_names: list[str]) -> dict:
    """Im Kindprozess: Variante statt Zelle ``index``, dann die eigenen Tests (Vorhersage des Ergebnisses).
    Verwenden spätere Zellen einen geänderten Namen, laufen alle späteren Zellen samt ihren Tests."""
    cell = cells[index]
    signal.alarm(CHILD_TIMEOUT)
    failed = _run_cell(variant["source"], namespace)
    state = cell.get("state")
    changed = {n for n, fp in _answers(namespace, _touched(cell["source"])).items() if state is None or fp != state[n]}
    later = cells[index + 1:]
    run_later = any(changed & used_names(c["source"]) for c in later if not c.get("test_of"))
    verdict = []
    for other in later:
        if other.get("test_of") == cell["task"] or run_later:
            signal.alarm(CHILD_TIMEOUT)
            outcome = _run_cell(other["source"], namespace)
            if other.get("test_of"):
                verdict.append([other["test_of"], outcome])
    return {"failed": failed, "ran_later": run_later, "verdict": verdict, "answers": _answers(namespace, all_names)}


def main() -> None:
    job = json.load(sys.stdin)
    real_stdout = os.dup(1)
    with contextlib.redirect_stdout(sys.stderr):
        os.dup2(2, 1)
        result = screen(job)
    os.dup2(real_stdout, 1)
    sys.stdout.write(json.dumps(result))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
