"""Bewertungsmaschine: nbgrader-Autograde für einzelne Notebooks, jedes in einer eigenen Sandbox.

Jedes Notebook wird mit nbgrader's echtem ``autograde`` bewertet (Testzellen aus der Quelle wiederhergestellt,
versteckte Tests eingeschlossen), und zwar in einem eigenen temporären Mini-Kurs außerhalb des Kurses
(Konfiguration + Quelle der Aufgabe + genau eine Abgabe), in einem eigenen Prozess mit Grenzen:

- Zeit: ``Execute.timeout`` je Zelle, dazu eine Gesamtzeit je Notebook (danach wird die Prozessgruppe beendet);
- Speicher (``RLIMIT_AS``), Dateigröße (``RLIMIT_FSIZE``), Prozesszahl (``RLIMIT_NPROC``);
- wo das System es erlaubt (root, oder Benutzer-Namensräume): eigene Namensräume für Netz (nur loopback),
  Prozesse, IPC und Mounts; darin ist alles außer der Sandbox schreibgeschützt, Kurs-Gradebook, Abgaben und
  andere Sandboxen sind verdeckt, und alle Capabilities sind abgegeben. Siehe ``isolation()``.

Die Vorlage (``nbgrader generate_assignment`` in einem Mini-Kurs) wird je Aufruf einmal erzeugt und für alle
Sandboxen kopiert.
"""
from __future__ import annotations

import atexit
import json
import os
import resource
import shutil
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from nbconvert.preprocessors import Preprocessor
from traitlets import Bool

STUDENT = "abgabe"  # Kennung der einen Abgabe in jeder Sandbox (der Schlüssel des Aufrufers bleibt draußen)
MAX_STREAM_CHARS = 20_000  # Textausgabe je Ausgabe im bewerteten Notebook
MAX_DATA_CHARS = 2_000_000  # sonstige Ausgaben (Bilder, HTML) je Ausgabe
FILE_SIZE_MB = 200
EXTRA_PROCESSES = 256  # so viele Prozesse darf eine Sandbox zusätzlich starten

OVERLAY = '''

# ---- von sozialraum.course.autograde für diese Sandbox ergänzt ----
import os as _os
from nbconvert.preprocessors import ClearMetadataPreprocessor as _ClearMetadata
from nbgrader.preprocessors import (AssignLatePenalties as _Late, CheckCellMetadata as _CheckMeta,
                                    Execute as _Execute, IgnorePattern as _IgnorePattern,
                                    LimitOutput as _LimitOutput, SaveAutoGrades as _SaveAutoGrades)
from sozialraum.course.autograde import TruncateOutputs as _TruncateOutputs

c.CourseDirectory.root = _os.getcwd()
c.CourseDirectory.db_url = "sqlite:///" + _os.path.join(_os.getcwd(), "gradebook.db")
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "release"
c.Execute.timeout = {cell_timeout}
c.Execute.interrupt_on_timeout = True
c.Execute.execute_retries = 0
# Warnungen auf stderr kosten keine Punkte: nbgrader wertet sonst jede stderr-Ausgabe einer Testzelle als Fehler.
# Ein Fehlschlag bleibt ein Fehlschlag, denn der erscheint als Ausgabe vom Typ "error", nicht auf stderr.
c.IgnorePattern.enabled = True
c.IgnorePattern.pattern = r"[\\s\\S]"
# gelöschte Testzellen werden aus der Quelle wieder eingefügt
c.OverwriteCells.add_missing_cells = True
c.Autograde.autograde_preprocessors = [_Execute, _IgnorePattern, _ClearMetadata, _LimitOutput, _TruncateOutputs,
                                       _SaveAutoGrades, _Late, _CheckMeta]
'''


@dataclass
class GradeResult:
    """Ergebnis der automatischen Bewertung eines Notebooks."""

    key: str  # Kennung des Aufrufers: Teilnehmenden-ID oder Name der Mutante
    status: str  # "ok" | "timeout" | "memory" | "crash" | "invalid" | "error"
    scores: dict[str, float]  # grade_id -> erreichte Punkte der automatisch bewerteten Testzellen
    max_scores: dict[str, float]  # grade_id -> Höchstpunkte dieser Zellen
    message: str  # kurze deutsche Erklärung ("" wenn ok)
    autograded_notebook: Path | None  # bewertetes Notebook in der Sandbox (der Aufrufer kopiert, was er behält)
    manual_max_scores: dict[str, float] = field(default_factory=dict)  # grade_id -> Punkte, von Hand zu bewerten
    changed_cells: dict[str, str] = field(default_factory=dict)  # grade_id -> "verändert" | "gelöscht" | "Zelltyp"
    seconds: float = 0.0

    @property
    def total(self) -> float:
        return sum(self.scores.values())


class TruncateOutputs(Preprocessor):
    """Kürzt riesige Ausgaben (nbgrader's LimitOutput begrenzt nur Zeilen, nicht Zeichen)."""

    enabled = Bool(True)

    def preprocess_cell(self, cell, resources, index):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream" and len(output.get("text", "")) > MAX_STREAM_CHARS:
                output["text"] = output["text"][:MAX_STREAM_CHARS] + "\n... Ausgabe gekürzt (zu lang) ...\n"
            data = output.get("data", {})
            for mime, value in list(data.items()):
                if len("".join(value) if isinstance(value, list) else str(value)) > MAX_DATA_CHARS:
                    del data[mime]
                    data.setdefault("text/plain", "... Ausgabe entfernt (zu groß) ...")
        return cell, resources


@dataclass(frozen=True)
class Isolation:
    """Was dieses System an Abschottung hergibt."""

    namespaces: bool  # eigene Namensräume: kein Netz, eigene Prozesse, Dateisystem nur lesbar, Fremdes verdeckt

    def describe(self) -> str:
        if self.namespaces:
            return ("Abschottung: kein Netz, eigene Prozessliste, Dateisystem schreibgeschützt außer der Sandbox, "
                    "Gradebook und fremde Abgaben verdeckt.")
        return ("Abschottung eingeschränkt: dieses System erlaubt keine Namensräume (unshare). Es gelten nur "
                "Zeit- und Speichergrenzen; eine Abgabe könnte Dateien über absolute Pfade lesen. "
                "Tipp: als root oder in einem Container bewerten (siehe Trainerhandbuch).")


@lru_cache(maxsize=1)
def isolation() -> Isolation:
    """Prüft einmal, ob sich eine Sandbox in eigenen Namensräumen starten lässt."""
    needed = ["unshare", "setpriv", "mount"]
    if not all(shutil.which(tool) for tool in needed):
        return Isolation(namespaces=False)
    probe = Path(tempfile.mkdtemp(prefix="sozialraum-probe-"))
    try:
        writes = "touch ./ok && ! touch /tmp/.sozialraum-probe 2>/dev/null"  # Sandbox ja, Rest nein
        cmd = _namespace_prefix(probe, [], []) + ["sh", "-c", writes]
        ok = subprocess.run(cmd, cwd=probe, capture_output=True, timeout=30).returncode == 0
        return Isolation(namespaces=ok and (probe / "ok").exists())
    except (OSError, subprocess.SubprocessError):
        return Isolation(namespaces=False)
    finally:
        shutil.rmtree(probe, ignore_errors=True)


def _namespace_prefix(sandbox: Path, hidden_dirs: list[Path], hidden_files: list[Path]) -> list[str]:
    """Befehlsanfang, der das Folgende in eigenen Namensräumen startet.

    Netz (nur loopback), Prozesse (eigenes /proc), IPC und Mounts sind eigen. Darin: versteckte Ordner werden
    von einem leeren tmpfs ohne Rechte verdeckt, versteckte Dateien von /dev/null, alle Dateisysteme außer der
    Sandbox werden schreibgeschützt, und zuletzt werden alle Capabilities abgegeben (auch root kann danach
    nichts mehr ummounten oder Dateirechte übergehen).
    """
    q = shlex.quote
    lines = ["set -e", "ip link set lo up 2>/dev/null || true", f"mount --bind {q(str(sandbox))} {q(str(sandbox))}",
             f"cd {q(str(sandbox))}"]  # das Arbeitsverzeichnis muss auf den neuen Mount zeigen
    lines += [f"mount -t tmpfs -o size=16k,mode=000 sozialraum-verdeckt {q(str(d))}" for d in hidden_dirs]
    lines += [f"mount --bind /dev/null {q(str(f))}" for f in hidden_files]
    lines.append(
        "awk '{print $5}' /proc/self/mountinfo | while read -r m; do m=$(printf '%b' \"$m\"); "
        f"case \"$m\" in {q(str(sandbox))}|/proc|/proc/*|/sys|/sys/*|/dev|/dev/*) continue;; esac; "
        "mount -o remount,bind,ro \"$m\" 2>/dev/null || true; done")
    lines.append('exec setpriv --bounding-set=-all --inh-caps=-all --no-new-privs -- "$@"')
    user = [] if os.geteuid() == 0 else ["--map-root-user"]
    return (["unshare", *user, "--net", "--mount", "--ipc", "--pid", "--fork", "--mount-proc", "--",
             "sh", "-c", "\n".join(lines), "sandbox"])


def read_cells(notebook: Path) -> list[dict]:
    """Zellen eines Notebooks als JSON (ohne nbformat-Prüfung)."""
    return json.loads(notebook.read_text(encoding="utf-8"))["cells"]


def nbgrader_meta(cell: dict) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def source_notebooks(course_root: Path, assignment: str) -> list[Path]:
    """Die Notebooks der Aufgabe in der Quelle (solutions/ABC/*.ipynb)."""
    folder = course_root / "solutions" / assignment
    notebooks = sorted(folder.glob("*.ipynb"))
    if not notebooks:
        raise FileNotFoundError(f"Keine Aufgabe '{assignment}' in {folder} gefunden. "
                                "Tipp: den Namen des Ordners unter solutions/ angeben, z. B. 00_start.")
    return notebooks


def grade_cells(source: Path) -> tuple[dict[str, float], dict[str, float]]:
    """(automatisch bewertete Testzellen, von Hand bewertete Zellen) je grade_id -> Punkte."""
    auto, manual = {}, {}
    for cell in read_cells(source):
        meta = nbgrader_meta(cell)
        if meta.get("grade"):
            target = auto if cell["cell_type"] == "code" and not meta.get("solution") else manual
            target[meta["grade_id"]] = float(meta.get("points", 0))
    return auto, manual


def check_notebook(path: Path) -> str:
    """Leerer Text, wenn die Datei ein lesbares Notebook ist, sonst eine deutsche Begründung."""
    import nbformat

    try:
        raw = path.read_bytes()
    except OSError as error:
        return f"Datei nicht lesbar ({error.strerror})."
    if not raw.strip():
        return "Die Datei ist leer."
    try:
        notebook = nbformat.reads(raw.decode("utf-8"), as_version=4)
        nbformat.validate(notebook)
    except UnicodeDecodeError:
        return "Die Datei ist kein Notebook (kein Text in UTF-8)."
    except json.JSONDecodeError:
        return "Die Datei ist kein Notebook (kein gültiges JSON, evtl. beim Herunterladen beschädigt)."
    except Exception as error:  # nbformat meldet viele verschiedene Fehler
        return f"Die Datei ist kein gültiges Notebook ({type(error).__name__})."
    return ""


def changed_test_cells(submission: Path, release: Path) -> dict[str, str]:
    """Testzellen der Ausgabe (release), die in der Abgabe verändert, gelöscht oder umgetypt wurden."""
    tests = {nbgrader_meta(cell)["grade_id"]: cell for cell in read_cells(release)
             if nbgrader_meta(cell).get("grade") and not nbgrader_meta(cell).get("solution")}
    submitted = {nbgrader_meta(cell).get("grade_id"): cell for cell in read_cells(submission)}
    changes = {}
    for grade_id, cell in tests.items():
        mine = submitted.get(grade_id)
        if mine is None:
            changes[grade_id] = "gelöscht"
        elif mine.get("cell_type") != cell["cell_type"]:
            changes[grade_id] = "Zelltyp geändert"
        elif _normalized(mine.get("source", "")) != _normalized(cell["source"]):
            changes[grade_id] = "verändert"
    return changes


def _normalized(source: str | list[str]) -> str:
    text = "".join(source) if isinstance(source, list) else source
    return "\n".join(line.rstrip() for line in text.strip().splitlines())


def autograde_notebooks(course_root: Path, assignment: str, notebooks: Mapping[str, Path], *,
                        workers: int = 2, cell_timeout: int = 60, notebook_timeout: int = 300,
                        memory_mb: int = 2000, workdir: Path | None = None, progress: bool = True,
                        hide: Sequence[Path] = ()) -> dict[str, GradeResult]:
    """Bewertet jedes Notebook einzeln und abgeschottet; Schlüssel wie in ``notebooks``.

    ``hide``: weitere Ordner oder Dateien, die in den Sandboxen verdeckt werden (z. B. der Eingangsordner).
    Der Kurs-Gradebook, submitted/, autograded/, feedback/ und die Ordner der übergebenen Notebooks werden
    immer verdeckt. Die Sandboxen liegen in ``workdir`` (bleiben zur Ansicht liegen) oder, ohne ``workdir``,
    in einem temporären Ordner, der beim Ende des Python-Prozesses gelöscht wird.
    """
    course_root = Path(course_root).resolve()
    sources = source_notebooks(course_root, assignment)
    if workdir is None:
        workdir = Path(tempfile.mkdtemp(prefix="sozialraum-bewertung-"))
        atexit.register(shutil.rmtree, workdir, ignore_errors=True)
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    os.chmod(workdir, 0o711)
    template = _prepare_template(course_root, assignment, workdir, cell_timeout)
    jobs = [_Job(key, Path(path).resolve(), Path(tempfile.mkdtemp(prefix="abgabe-", dir=workdir)))
            for key, path in notebooks.items()]
    logs = workdir / "protokolle"
    logs.mkdir(exist_ok=True)
    needed = [workdir, course_root / "datasets", Path(sys.prefix), Path(sys.base_prefix), Path(__file__).parent]
    covered = [template, logs, *(course_root / name for name in COURSE_PRIVATE), *map(Path, hide),
               *(job.path.parent for job in jobs), *_home_entries()]
    needed = [n.resolve() for n in needed]
    covered = sorted({p.resolve() for p in covered if p.exists()})
    covered = [p for p in covered if not any(_contains(p, n) for n in needed)]
    covered = [p for p in covered if not any(q in p.parents for q in covered)]  # verdeckt ist verdeckt
    limits = _Limits(cell_timeout, notebook_timeout, memory_mb)

    def grade(job: _Job) -> GradeResult:
        hidden = covered + [other.sandbox for other in jobs if other is not job]
        return _grade_one(job, hidden, logs, template, sources, course_root, assignment, limits)

    results: dict[str, GradeResult] = {}
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=len(jobs), desc="Bewertung", unit="Notebook")
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for result in pool.map(grade, jobs):
            results[result.key] = result
            if bar is not None:
                bar.update(1)
    if bar is not None:
        bar.close()
    return results


COURSE_PRIVATE = ["gradebook.db", "submitted", "autograded", "feedback", "bewertung"]


@dataclass(frozen=True)
class _Job:
    key: str
    path: Path
    sandbox: Path


@dataclass(frozen=True)
class _Limits:
    cell_timeout: int
    notebook_timeout: int
    memory_mb: int


def _home_entries() -> list[Path]:
    """Einträge im Home-Ordner des Aufrufs (Schlüssel, Zugangsdaten, Verlauf); nichts, wenn Home "/" ist."""
    home = Path.home()
    return [] if home == Path("/") or not home.is_dir() else list(home.iterdir())


def _contains(outer: Path, inner: Path) -> bool:
    """True, wenn ``inner`` gleich ``outer`` ist oder darin liegt."""
    return inner == outer or outer in inner.parents


def _prepare_template(course_root: Path, assignment: str, workdir: Path, cell_timeout: int) -> Path:
    """Mini-Kurs mit Konfiguration, Quelle und Gradebook; ``generate_assignment`` läuft hier genau einmal."""
    template = Path(tempfile.mkdtemp(prefix="vorlage-", dir=workdir))
    config = course_root / "nbgrader_config.py"
    course_config = config.read_text(encoding="utf-8") if config.exists() else "c = get_config()\n"
    (template / "nbgrader_config.py").write_text(course_config + OVERLAY.format(cell_timeout=int(cell_timeout)),
                                                 encoding="utf-8")
    shutil.copytree(course_root / "solutions" / assignment, template / "solutions" / assignment,
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    done = subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", assignment, "--force"],
                          cwd=template, env=_environment(template, course_root), capture_output=True, text=True)
    if done.returncode != 0 or "ERROR" in done.stderr or not (template / "gradebook.db").exists():
        raise RuntimeError(f"nbgrader generate_assignment für '{assignment}' ist fehlgeschlagen:\n"
                           f"{done.stderr[-3000:]}\n"
                           "Tipp: `python -m sozialraum.course check` zeigt Fehler in der Aufgabe genauer.")
    return template


def _environment(home: Path, course_root: Path) -> dict[str, str]:
    """Schlanke Umgebung: nichts vom Aufrufer außer dem Nötigsten, alle Schreibziele in der Sandbox."""
    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": str(home),
        "TMPDIR": str(home / "tmp"),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "JUPYTER_RUNTIME_DIR": str(home / ".jupyter-runtime"),
        "JUPYTER_CONFIG_DIR": str(home / ".jupyter"),
        "IPYTHONDIR": str(home / ".ipython"),
        "MPLCONFIGDIR": str(home / ".matplotlib"),
        "MPLBACKEND": "Agg",
        "XDG_CACHE_HOME": str(home / ".cache"),
        "PYTHONDONTWRITEBYTECODE": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "SOZIALRAUM_DATEN": str(course_root / "datasets"),
        "PYTHONPATH": str(home / ".python"),
    }
    (home / "tmp").mkdir(exist_ok=True)
    # Schneller Start: jsonschema lädt sonst beim Import von nbformat das optionale Paket rfc3987_syntax, das beim
    # Import eine Grammatik baut (gut 1 s CPU je Sandbox); nbformat braucht dessen IRI-Prüfungen nicht.
    (home / ".python").mkdir(exist_ok=True)
    (home / ".python" / "rfc3987_syntax.py").write_text(
        'raise ImportError("in der Bewertungs-Sandbox nicht gebraucht")\n', encoding="utf-8")
    return env


def _grade_one(job: _Job, hidden: list[Path], logs: Path, template: Path, sources: list[Path],
               course_root: Path, assignment: str, limits: _Limits) -> GradeResult:
    start = time.monotonic()
    auto_max, manual_max = {}, {}
    for source in sources:
        auto, manual = grade_cells(source)
        auto_max.update(auto)
        manual_max.update(manual)
    result = GradeResult(key=job.key, status="ok", scores={gid: 0.0 for gid in auto_max}, max_scores=auto_max,
                         message="", autograded_notebook=None, manual_max_scores=manual_max)
    source = _matching_source(job.path, sources)
    problem = check_notebook(job.path) or ("" if source else
                                           "Der Dateiname passt zu keinem Notebook der Aufgabe: "
                                           + ", ".join(s.name for s in sources) + ".")
    if problem:
        result.status, result.message = "invalid", problem
        return result
    result.changed_cells = changed_test_cells(job.path, template / "release" / assignment / source.name)

    sandbox = job.sandbox
    shutil.copytree(template, sandbox, dirs_exist_ok=True)
    target = sandbox / "submitted" / STUDENT / assignment / source.name
    target.parent.mkdir(parents=True)
    shutil.copyfile(job.path, target)
    env = _environment(sandbox, course_root)
    cmd = [sys.executable, "-m", "nbgrader", "autograde", assignment, "--student", STUDENT]
    if isolation().namespaces:
        cmd = _namespace_prefix(sandbox, [p for p in hidden if p.is_dir()],
                                [p for p in hidden if p.is_file()]) + cmd
    timed_out = False
    with open(logs / f"{sandbox.name}.log", "w+b") as log:  # außerhalb der Sandbox: nicht fälschbar
        process = subprocess.Popen(cmd, cwd=sandbox, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True,
                                   preexec_fn=_limit_function(limits.memory_mb))
        try:
            process.wait(timeout=limits.notebook_timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
        _kill_everything(process)
        log.seek(0)
        output = log.read().decode("utf-8", errors="replace")

    autograded = sandbox / "autograded" / STUDENT / assignment / source.name
    result.autograded_notebook = autograded if autograded.exists() else None
    result.status, result.message = _status(timed_out, process.returncode, output, result.autograded_notebook,
                                            limits)
    if not timed_out and process.returncode == 0:
        result.scores = _read_scores(sandbox, assignment, source.stem, auto_max)
    result.seconds = time.monotonic() - start
    return result


def _matching_source(path: Path, sources: list[Path]) -> Path | None:
    by_name = {source.name: source for source in sources}
    if path.name in by_name:
        return by_name[path.name]
    return sources[0] if len(sources) == 1 else None


def _limit_function(memory_mb: int):
    """Grenzen für den Kindprozess (preexec_fn); alle Nachfahren erben sie."""
    import psutil

    uid = os.getuid()
    processes = sum(1 for p in psutil.process_iter(["uids"]) if p.info["uids"] and p.info["uids"].real == uid)
    max_processes = processes + EXTRA_PROCESSES  # RLIMIT_NPROC zählt alle Prozesse des Benutzers

    def apply() -> None:
        memory = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        size = FILE_SIZE_MB * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_NPROC, (max_processes, max_processes))

    return apply


def _kill_everything(process: subprocess.Popen) -> None:
    """Beendet den Prozess, alle Nachfahren und seine Prozessgruppe (im PID-Namensraum stirbt alles mit)."""
    import psutil

    try:
        family = psutil.Process(process.pid).children(recursive=True)
    except psutil.Error:
        family = []
    for member in family:
        try:
            member.kill()
        except psutil.Error:
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    process.wait()
    psutil.wait_procs(family, timeout=5)


def _status(timed_out: bool, returncode: int, output: str, autograded: Path | None,
            limits: _Limits) -> tuple[str, str]:
    """Status und deutsche Erklärung aus Rückgabewert, Protokoll und bewertetem Notebook."""
    memory = f"Speicherlimit ({limits.memory_mb} MB) überschritten"
    if timed_out:
        return "timeout", (f"Zeitüberschreitung: das Notebook lief länger als {limits.notebook_timeout} s "
                           "und wurde abgebrochen.")
    if returncode != 0:
        if "MemoryError" in output:
            return "memory", memory + "; die Bewertung wurde abgebrochen."
        if "CellTimeoutError" in output:
            return "timeout", (f"Zeitüberschreitung: eine Zelle lief länger als {limits.cell_timeout} s und "
                               "ließ sich nicht unterbrechen; Bewertung abgebrochen.")
        if "DeadKernelError" in output or "kernel died" in output.lower():
            return "crash", "Absturz: der Python-Kernel wurde während der Ausführung beendet."
        if returncode < 0:
            return "crash", f"Absturz: der Bewertungsprozess wurde durch Signal {-returncode} beendet."
        tail = " ".join(output.strip().splitlines()[-3:])[-300:]
        return "error", f"nbgrader konnte das Notebook nicht bewerten: {tail}"
    if autograded is None:
        return "error", "nbgrader hat kein bewertetes Notebook geschrieben."
    errors = _error_names(autograded)
    if "MemoryError" in errors:
        return "memory", memory + " (in mindestens einer Zelle)."
    if "CellTimeoutError" in errors:
        return "timeout", f"Zeitüberschreitung: mindestens eine Zelle lief länger als {limits.cell_timeout} s."
    return "ok", ""


def _error_names(notebook: Path) -> set[str]:
    names = set()
    for cell in read_cells(notebook):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                names.add(output.get("ename", ""))
    return names


def _read_scores(sandbox: Path, assignment: str, notebook: str, auto_max: dict[str, float]) -> dict[str, float]:
    """Punkte der Testzellen aus dem Gradebook der Sandbox, begrenzt auf 0..Höchstpunkte der Quelle."""
    from nbgrader.api import Gradebook, MissingEntry

    scores = {}
    with Gradebook(f"sqlite:///{sandbox / 'gradebook.db'}") as gradebook:
        for grade_id, maximum in auto_max.items():
            try:
                grade = gradebook.find_grade(grade_id, notebook, assignment, STUDENT)
                earned = grade.auto_score or 0.0
            except MissingEntry:
                earned = 0.0
            scores[grade_id] = min(max(float(earned), 0.0), maximum)
    return scores
