"""Bewertung mit nbgrader's eigenen Schritten; nur der Kernel läuft abgeschottet (``sozialraum.course.sandbox``).

Der Ablauf ist nbgrader's ``Autograde`` im Elternprozess gegen das Gradebook des Kurses: ``OverwriteCells``
stellt die Testzellen aus der Quelle wieder her, ``SaveAutoGrades`` und ``AssignLatePenalties`` schreiben die
Punkte. Ausgetauscht ist nur ``Execute``: ``SandboxedExecute`` startet den Kernel in einer eigenen Sandbox
(ohne Notebook-Datei, Kurs, Lösungen, Gradebook; Verbindung über Unix-Sockets im Arbeitsordner der Sandbox)
und schickt ihm die Zellen; Ausgaben kommen zurück, Quelltexte und Metadaten bleiben beim Elternprozess. Jede
Testzelle läuft mit dem Wächter (``guard``) davor und danach und ohne Eintrag in der Eingabehistorie.
``kit_preprocessors`` fügt die Schritte des Kits in nbgrader's Standardlisten ein (``nbgrader_config.py``
nutzt sie, damit auch der Autograde-Knopf des Formgraders abgeschottet bewertet).

``run_autograde`` bewertet viele Abgaben parallel: ein Prozess je Kern (mit fork, nbgrader schon geladen), je
Abgabe ein Kernel in seiner eigenen Sandbox, abgespalten von einer Vorlage je Prozess (``forkserver``), die ipykernel
und die Importe der Übung schon geladen hat. ``autograde_notebooks`` macht dasselbe in einem Wegwerf-Kurs (für
``check`` und Tests).
"""
from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from queue import Empty

from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.manager import AsyncKernelManager
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbclient.util import run_sync
from nbconvert.preprocessors import Preprocessor
from nbformat import NotebookNode
from nbgrader import api, utils
from nbgrader.preprocessors import DeduplicateIds, Execute, LimitOutput, NbGraderPreprocessor, SaveAutoGrades
from traitlets import Bool, Integer, Unicode, default

from sozialraum.course import forkserver, guard, sandbox

MAX_STREAM_CHARS = 20_000  # Textausgabe je Ausgabe im bewerteten Notebook
MAX_DATA_CHARS = 2_000_000  # sonstige Ausgaben (Bilder) je Ausgabe
FAILURE_ENAMES = {"timeout": "Zeitüberschreitung", "crash": "Absturz"}
LAST_RUN: dict[str, str] = {}  # je Prozess: Ergebnis des letzten SandboxedExecute ("failure", "tampered")


@dataclass
class GradeResult:
    """Ergebnis der automatischen Bewertung eines Notebooks."""

    key: str  # Kennung des Aufrufers: Teilnehmenden-ID oder Name der Mutante
    status: str  # "ok" | "timeout" | "memory" | "crash" | "invalid" | "error"
    scores: dict[str, float]  # grade_id -> erreichte Punkte der automatisch bewerteten Testzellen
    max_scores: dict[str, float]  # grade_id -> Höchstpunkte dieser Zellen
    message: str  # kurze deutsche Erklärung ("" wenn ok)
    autograded_notebook: Path | None  # bewertetes Notebook (im Wegwerf-Kurs oder in autograded/)
    manual_max_scores: dict[str, float] = field(default_factory=dict)  # grade_id -> Punkte, von Hand zu bewerten
    changed_cells: dict[str, str] = field(default_factory=dict)  # grade_id -> "verändert" | "gelöscht" | "Zelltyp"
    tampered: str = ""  # was der Wächter an der Testumgebung verändert fand ("" = nichts)
    seconds: float = 0.0

    @property
    def total(self) -> float:
        return sum(self.scores.values())


def _alembic_head() -> str:
    """Schema-Version für ein neues Gradebook, hier im Prozess ermittelt: nbgrader startet dafür sonst
    ``alembic heads`` als eigenen Python-Prozess, der nbgrader neu lädt (je neuem Gradebook etwa 4 s)."""
    from alembic.script import ScriptDirectory
    from nbgrader.dbutil import ALEMBIC_DIR

    return ScriptDirectory(ALEMBIC_DIR).get_current_head()


api.get_alembic_version = _alembic_head


# ---------------------------------------------------------------------------------------------------------------
# nbgrader-Schritte des Kits


class JailedKernelClient(AsyncKernelClient):
    """Kernel-Client, der nach dem Start des Kernels nicht auf Stille wartet.

    jupyter_client's ``wait_for_ready`` liest am Ende IOPub leer, bis 0,2 s lang nichts mehr kommt: je Abgabe
    mindestens 0,2 s Stillstand. Hier ist der Kernel bereit, sobald er auf kernel_info antwortet und eine Nachricht
    über IOPub ankam (verbunden); übrige Startmeldungen gehören zu keiner Zelle, nbclient übergeht sie.
    """

    async def wait_for_ready(self, timeout: float | None = None) -> None:
        deadline = time.monotonic() + (float("inf") if timeout is None else timeout)
        while True:
            self.kernel_info()
            try:
                reply = await self.shell_channel.get_msg(timeout=1)
                if reply["msg_type"] == "kernel_info_reply":
                    await self.iopub_channel.get_msg(timeout=0.2)
                    self._handle_kernel_info_reply(reply)
                    return
            except Empty:
                pass
            if not await self._async_is_alive():
                raise RuntimeError("Der Kernel wurde beendet, bevor er antwortete.")
            if time.monotonic() > deadline:
                raise RuntimeError(f"Der Kernel antwortete nicht innerhalb von {timeout} s.")


class JailedKernelManager(AsyncKernelManager):
    """Spaltet den Kernel von der Vorlage ab (``forkserver``), in seiner eigenen Sandbox; Verbindung über
    Unix-Sockets im Arbeitsordner der Sandbox."""

    jail: sandbox.Jail | None = None
    server: forkserver.ForkServer | None = None

    @default("client_factory")
    def _client_factory_default(self):
        return JailedKernelClient

    async def _async_launch_kernel(self, kernel_cmd, **kw):
        """Statt eines neuen Prozesses aus ``kernel_cmd``: eine Kopie der Vorlage (``LocalProvisioner`` verwaltet
        sie wie einen Prozess)."""
        arguments = kernel_cmd[kernel_cmd.index(self.connection_file) + 1:]  # Execute.extra_arguments
        process = self.server.start(Path(self.connection_file), self.jail.workdir, self.jail.uid,
                                    self.jail.limits.tmp_mb, arguments)
        self.provisioner.process, self.provisioner.pid = process, process.pid
        self._reconcile_connection_info(self.provisioner.connection_info)

    def write_connection_file(self, **kwargs):
        super().write_connection_file(**kwargs)
        self.jail.grant(Path(self.connection_file))

    async def _async_wait(self, pollinterval: float = 0.1) -> None:
        """Nach dem SIGKILL alle 10 ms nachsehen, ob die Sandbox beendet ist (jupyter_client: alle 0,1 s)."""
        await super()._async_wait(pollinterval=0.01)


def kernel_environment(datasets: Path) -> dict[str, str]:
    """Umgebung des Kernels: nichts vom Aufrufer, alle Schreibziele in der Sandbox."""
    return {
        "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
        "HOME": "/tmp", "TMPDIR": "/tmp", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
        "JUPYTER_RUNTIME_DIR": "/tmp/jupyter", "IPYTHONDIR": "/tmp/ipython", "MPLCONFIGDIR": "/tmp/mpl",
        "MPLBACKEND": "module://matplotlib_inline.backend_inline", "XDG_CACHE_HOME": "/tmp/cache",
        "PYTHONDONTWRITEBYTECODE": "1", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1", "SOZIALRAUM_DATEN": str(datasets),
    }


class SandboxedExecute(Execute):
    """nbgrader's Execute, aber der Kernel läuft abgeschottet, mit Gesamtzeit und Wächter um jede Testzelle."""

    notebook_timeout = Integer(600, help="Gesamtzeit je Notebook in Sekunden").tag(config=True)
    memory_mb = Integer(2000, help="Speichergrenze des Kernels in MB").tag(config=True)
    processes = Integer(256, help="höchstens so viele Prozesse je Sandbox").tag(config=True)
    datasets = Unicode("", help="Datenordner (lesbar in der Sandbox); Standard: datasets/ des Kurses").tag(
        config=True)
    keep_forkserver = Bool(False, help="Vorlage der Kernel für weitere Notebooks behalten (Bewertungsprozesse)").tag(
        config=True)

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("kernel_manager_class", JailedKernelManager)
        super().__init__(*args, **kwargs)

    @default("shutdown_kernel")
    def _kill_at_end(self):
        """Nach der letzten Zelle wird die Sandbox sofort beendet (SIGKILL): nichts darin wird noch gebraucht, und
        das geordnete Herunterfahren des Kernels kostete je Abgabe etwa eine Sekunde."""
        return "immediate"

    def _datasets(self) -> Path:
        """Der Datenordner, aufgelöst: ist er ein symbolischer Link, ist in der Sandbox nur sein Ziel eingehängt."""
        if self.datasets:
            return Path(self.datasets).resolve()
        from nbgrader.coursedir import CourseDirectory

        return (Path(CourseDirectory(config=self.config).root) / "datasets").resolve()

    def preprocess(self, nb, resources=None, km=None):
        from nbclient.client import NotebookClient

        NotebookClient.__init__(self, nb, km)
        self.reset_execution_trackers()
        self._check_assign_resources(resources)
        LAST_RUN.clear()
        limits = sandbox.Limits(cell_timeout=self.timeout or 0, notebook_timeout=self.notebook_timeout,
                                memory_mb=self.memory_mb, processes=self.processes)
        datasets = self._datasets()
        readable = [Path(sys.prefix), Path(sys.base_prefix), sandbox.package_dir(), datasets]
        environment = kernel_environment(datasets)
        preload = self._preload(resources)
        self._server = forkserver.shared(
            (tuple(readable), tuple(sorted(environment.items())), limits, tuple(preload)),
            lambda base: sandbox.Jail(base, readable=readable, env=environment, limits=limits, server=True),
            preload)
        home = Path(tempfile.mkdtemp(prefix="kernel-", dir=self._server.base))
        self._jail = sandbox.Jail(home, readable=readable, env=environment, limits=limits)
        self._prologue = guard.prologue(guard.imported_modules([c.source for c in nb.cells
                                                                 if c.cell_type == "code"]))
        timer = threading.Timer(self.notebook_timeout, self._kill, args=("timeout",))
        timer.daemon = True
        failure = ""
        try:
            with self.setup_kernel():
                timer.start()
                info = self.wait_for_reply(self.kc.kernel_info())
                self.nb.metadata["language_info"] = info["content"]["language_info"]
                for index, cell in enumerate(self.nb.cells):
                    if failure:
                        self._mark_failed(cell, failure)
                        continue
                    try:
                        self.preprocess_cell(cell, resources, index)
                    except (CellTimeoutError, TimeoutError):  # Kernel antwortet nicht mehr
                        self._kill("timeout")
                        failure = "timeout"
                        self._mark_failed(cell, failure)
                    except (DeadKernelError, RuntimeError):
                        failure = LAST_RUN.get("failure") or "crash"
                        self._mark_failed(cell, failure)
        finally:
            timer.cancel()
            shutil.rmtree(home, ignore_errors=True)
            if not self.keep_forkserver:
                forkserver.close_all()
        if failure:
            LAST_RUN["failure"] = failure
        self.set_widgets_metadata()
        return self.nb, self.resources

    def _preload(self, resources) -> list[str]:
        """Was die Quelle der Übung importiert (nicht die Abgabe): das lädt die Vorlage der Kernel vorab."""
        from nbgrader.coursedir import CourseDirectory

        coursedir = CourseDirectory(config=self.config)
        folder = Path(coursedir.format_path(coursedir.source_directory, ".", resources["nbgrader"]["assignment"]))
        names = forkserver.modules_to_preload(["".join(cell["source"]) for notebook in sorted(folder.glob("*.ipynb"))
                                               for cell in read_cells(notebook) if cell["cell_type"] == "code"])
        packages = {name.split(".")[0] for name in names}
        return names + [m for m in guard.WATCHED_MODULES if m.split(".")[0] in packages]  # für den Wächter

    def _kill(self, reason: str) -> None:
        LAST_RUN["failure"] = reason
        process = getattr(getattr(self.km, "provisioner", None), "process", None)
        if process is not None:
            process.kill()

    @staticmethod
    def _mark_failed(cell: NotebookNode, failure: str) -> None:
        if cell.cell_type != "code":
            return
        text = {"timeout": "Das Notebook lief zu lange und wurde abgebrochen.",
                "crash": "Der Python-Kernel wurde beendet (Absturz)."}[failure]
        cell.outputs = [NotebookNode(output_type="error", ename=FAILURE_ENAMES[failure], evalue=text,
                                     traceback=[f"{FAILURE_ENAMES[failure]}: {text}"])]

    def create_kernel_manager(self):
        km = super().create_kernel_manager()
        km.jail, km.server = self._jail, self._server
        km.transport = "ipc"
        km.ip = str(self._jail.workdir / "k")
        km.connection_file = str(self._jail.workdir / "verbindung.json")
        km.kernel_spec.interrupt_mode = "message"  # Signale erreichen den Kernel in seiner Sitzung nicht
        return km

    async def async_start_new_kernel_client(self):
        kc = await super().async_start_new_kernel_client()
        msg_id = kc.execute(self._prologue, silent=False, store_history=False)
        reply = await self.async_wait_for_reply(msg_id)
        if not reply or reply["content"]["status"] != "ok":
            raise RuntimeError("Die Prüfung der Testumgebung ließ sich im Kernel nicht einrichten.")
        self._jail.seal()
        return kc

    start_new_kernel_client = run_sync(async_start_new_kernel_client)

    def preprocess_cell(self, cell, resources, index):
        if not (cell.cell_type == "code" and utils.is_grade(cell) and not utils.is_solution(cell)):
            return super().preprocess_cell(cell, resources, index)
        original = cell.source
        cell.source, word = guard.wrap(original)
        try:
            cell = self.execute_cell(cell, index, store_history=False)  # nicht in In[]/_ih: verborgene Tests
        finally:
            cell.source = original
        outputs, problem = guard.verdict(cell.outputs, word)
        cell.outputs = [NotebookNode(o) for o in outputs]
        if problem:
            LAST_RUN["tampered"] = (LAST_RUN.get("tampered", "") + " " + problem).strip()
            cell.outputs.append(NotebookNode(output_type="error", ename=guard.ENAME, evalue=problem,
                                             traceback=[f"{guard.ENAME}: {problem}"]))
        return cell, self.resources


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


class DropCopiedTestCells(NbGraderPreprocessor):
    """Kopien gesperrter Testzellen (JupyterLab kopiert die Metadaten mit) entfallen; die letzte bleibt."""

    def preprocess(self, nb, resources):
        seen, kept = set(), []
        for cell in reversed(nb.cells):
            test = utils.is_grade(cell) and not utils.is_solution(cell) and cell.cell_type == "code"
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            if test and grade_id in seen:
                continue
            seen.add(grade_id)
            kept.append(cell)
        nb.cells = kept[::-1]
        return nb, resources


def clean_html(text: str) -> str:
    """HTML ohne aktive Inhalte: erlaubte Tags bleiben (wie nbconvert), alle anderen werden entfernt."""
    import bleach

    allowed = [*bleach.ALLOWED_TAGS, "div", "pre", "code", "span", "table", "tr", "td", "th", "thead", "tbody",
               "p", "br", "h1", "h2", "h3", "h4", "img"]
    attributes = {**bleach.ALLOWED_ATTRIBUTES, "img": ["src", "alt", "width", "height"], "*": ["class"]}
    return bleach.clean(text, tags=allowed, attributes=attributes, protocols=["http", "https", "data"], strip=True)


class SanitizeNotebook(NbGraderPreprocessor):
    """Nichts im bewerteten Notebook kann im Formgrader oder Feedback Skripte ausführen.

    Markdown- und Rohzellen der Abgabe werden von HTML gereinigt (bleach, wie nbconvert), HTML-Ausgaben ebenso;
    JavaScript, SVG, Widgets und sonstige aktive Ausgaben werden durch ihren Text ersetzt.
    """

    SAFE = {"text/plain", "image/png", "image/jpeg", "image/gif"}

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type in ("markdown", "raw"):
            cell.source = clean_html(cell.source)
            cell.pop("attachments", None)
            if cell.cell_type == "raw":
                cell.metadata.pop("format", None)
                cell.metadata.pop("raw_mimetype", None)
        for output in cell.get("outputs", []):
            data = output.get("data")
            if not data:
                continue
            if "text/html" in data:
                html = "".join(data["text/html"]) if isinstance(data["text/html"], list) else data["text/html"]
                data["text/html"] = clean_html(html)
            for mime in [m for m in data if m not in self.SAFE and m != "text/html"]:
                del data[mime]
            data.setdefault("text/plain", "(Ausgabe im Feedback ausgeblendet)")
        return cell, resources


def kit_preprocessors() -> tuple[list, list]:
    """(sanitize_preprocessors, autograde_preprocessors): nbgrader's Standardlisten mit den Schritten des Kits."""
    from nbgrader.converters import Autograde

    sanitize = list(Autograde.class_traits()["sanitize_preprocessors"].default())
    autograde = list(Autograde.class_traits()["autograde_preprocessors"].default())
    sanitize.insert(sanitize.index(DeduplicateIds), DropCopiedTestCells)
    autograde[autograde.index(Execute)] = SandboxedExecute
    autograde.insert(autograde.index(LimitOutput) + 1, TruncateOutputs)
    autograde.insert(autograde.index(SaveAutoGrades), SanitizeNotebook)
    return sanitize, autograde


def grading_config(course_config, root: Path, *, limits: sandbox.Limits, submitted: Path | None = None,
                   db_url: str | None = None, source: Path | None = None, release: Path | None = None):
    """traitlets-Config für die Bewertung: die geladene Kurskonfiguration plus Ort, Grenzen und Kit-Schritte."""
    from traitlets.config import Config

    config = Config()
    config.merge(course_config)
    config.CourseDirectory.root = str(root)
    for key, value in (("submitted_directory", submitted), ("db_url", db_url), ("source_directory", source),
                       ("release_directory", release)):
        if value is not None:
            config.CourseDirectory[key] = str(value)
    sanitize, autograde = kit_preprocessors()
    config.Autograde.sanitize_preprocessors = sanitize
    config.Autograde.autograde_preprocessors = autograde
    config.Autograde.create_student = True
    config.Autograde.force = True
    config.Execute.timeout = limits.cell_timeout
    config.Execute.interrupt_on_timeout = True
    config.SandboxedExecute.notebook_timeout = limits.notebook_timeout
    config.SandboxedExecute.memory_mb = limits.memory_mb
    config.SandboxedExecute.processes = limits.processes
    config.SandboxedExecute.keep_forkserver = True  # ein Bewertungsprozess bewertet viele Notebooks
    return config


# ---------------------------------------------------------------------------------------------------------------
# Viele Abgaben parallel

_WORKER_CONFIG = None
_WORKER_FEEDBACK = None  # je Arbeitsprozess eine Rückmeldung für alle Personen (Vorlagen einmal übersetzt)


def _worker_init(config, sandboxes: str, feedback: bool) -> None:
    global _WORKER_CONFIG, _WORKER_FEEDBACK
    import warnings

    from nbgrader.coursedir import CourseDirectory
    from sqlalchemy.exc import SAWarning

    from sozialraum.course.feedback import ReusableFeedback

    warnings.simplefilter("ignore", SAWarning)  # nbgrader's Gradebook warnt harmlos über autoflush
    sandbox.die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Strg+C bearbeitet der Elternprozess
    os.environ["SOZIALRAUM_SANDBOXEN"] = sandboxes
    _WORKER_CONFIG = config
    if feedback:
        _WORKER_FEEDBACK = ReusableFeedback(coursedir=CourseDirectory(config=config), config=config)


def _grade_student(assignment: str, student: str) -> dict:
    """Im Arbeitsprozess: nbgrader's Autograde (und ggf. die Rückmeldung) für eine Person."""
    import logging

    from nbgrader.converters import Autograde
    from nbgrader.coursedir import CourseDirectory

    started = time.monotonic()
    records: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record):
            records.append(record.getMessage())

    def run(converter) -> str:
        converter.coursedir.assignment_id, converter.coursedir.student_id = assignment, student
        converter.log.handlers, converter.log.propagate = [Collect(level=logging.ERROR)], False
        try:
            converter.start()
            return ""
        except Exception as error:  # nbgrader meldet jeden Fehler als NbGraderException
            return (" ".join(records[-3:]) or f"{type(error).__name__}: {error}")[-400:]

    error = run(Autograde(coursedir=CourseDirectory(config=_WORKER_CONFIG), config=_WORKER_CONFIG))
    result = {"error": error, "failure": LAST_RUN.get("failure", ""), "tampered": LAST_RUN.get("tampered", "")}
    if _WORKER_FEEDBACK is not None and not error:
        result["feedback_error"] = run(_WORKER_FEEDBACK)
    result["seconds"] = time.monotonic() - started
    return result


def run_autograde(config, assignment: str, students: list[str], *, workers: int = 2, feedback: bool = False,
                  progress: bool = False, on_result=None) -> dict[str, dict]:
    """nbgrader-Autograde je Person in ``workers`` Prozessen; ``on_result(student, result)`` je fertiger Person.

    Bei Strg+C werden laufende Bewertungen beendet (ihre Sandboxen sterben mit) und ``KeyboardInterrupt``
    weitergegeben; was fertig war, hat ``on_result`` schon bekommen.
    """
    results: dict[str, dict] = {}
    if not students:
        return results
    folder = sandbox.run_folder()
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=len(students), desc="Bewertung", unit="Notebook")
    pool = ProcessPoolExecutor(max_workers=max(1, min(workers, len(students))),
                               mp_context=multiprocessing.get_context("fork"), initializer=_worker_init,
                               initargs=(config, str(folder), feedback))
    try:
        futures = {pool.submit(_grade_student, assignment, s): s for s in students}
        from concurrent.futures import as_completed
        for future in as_completed(futures):
            student = futures[future]
            try:
                results[student] = future.result()
            except Exception as error:  # Arbeitsprozess gestorben: nur diese Person betroffen
                results[student] = {"error": f"Bewertungsprozess abgebrochen ({type(error).__name__})",
                                    "failure": "crash", "tampered": "", "seconds": 0.0}
            if on_result is not None:
                on_result(student, results[student])
            if bar is not None:
                bar.update(1)
    except KeyboardInterrupt:
        for process in list(getattr(pool, "_processes", {}).values()):
            process.kill()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        if bar is not None:
            bar.close()
        shutil.rmtree(folder, ignore_errors=True)
    return results


def status_of(run: dict, autograded: Path | None, limits: sandbox.Limits) -> tuple[str, str]:
    """(Status, deutsche Erklärung) aus dem Ergebnis eines Arbeitsprozesses und dem bewerteten Notebook."""
    if run.get("failure") == "timeout":
        return "timeout", (f"Zeitüberschreitung: das Notebook lief länger als {limits.notebook_timeout} s "
                           "und wurde abgebrochen.")
    if run.get("failure") == "crash":
        return "crash", "Absturz: der Python-Kernel wurde während der Ausführung beendet."
    if run.get("error") or autograded is None:
        return "error", f"nbgrader konnte das Notebook nicht bewerten: {run.get('error') or 'kein Ergebnis'}"
    errors = error_names(autograded)
    if "MemoryError" in errors:
        return "memory", f"Speicherlimit ({limits.memory_mb} MB) überschritten (in mindestens einer Zelle)."
    if "CellTimeoutError" in errors:
        return "timeout", f"Zeitüberschreitung: mindestens eine Zelle lief länger als {limits.cell_timeout} s."
    return "ok", ""


def error_names(notebook: Path) -> set[str]:
    return {output.get("ename", "") for cell in read_cells(notebook) for output in cell.get("outputs", [])
            if output.get("output_type") == "error"}


# ---------------------------------------------------------------------------------------------------------------
# Notebooks der Aufgabe und Prüfung der Abgaben


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


def check_notebook(path: Path, source: Path | None = None) -> str:
    """Leerer Text, wenn die Datei ein lesbares Notebook dieser Aufgabe ist, sonst eine deutsche Begründung."""
    import nbformat

    try:
        raw = path.read_bytes()
    except OSError as error:
        return f"Datei nicht lesbar ({error.strerror})."
    if not raw.strip():
        return "Die Datei ist leer."
    try:
        notebook = nbformat.reads(raw.decode("utf-8-sig"), as_version=4)
        nbformat.validate(notebook)
    except UnicodeDecodeError:
        return "Die Datei ist kein Notebook (kein Text in UTF-8)."
    except json.JSONDecodeError:
        return "Die Datei ist kein Notebook (kein gültiges JSON, evtl. beim Herunterladen beschädigt)."
    except Exception as error:  # nbformat meldet viele verschiedene Fehler
        return f"Die Datei ist kein gültiges Notebook ({type(error).__name__})."
    if source is not None:
        wanted = {nbgrader_meta(c).get("grade_id") for c in read_cells(source) if nbgrader_meta(c).get("grade_id")}
        found = {c.get("metadata", {}).get("nbgrader", {}).get("grade_id") for c in notebook.cells}
        if not wanted & found:
            return ("falsche Datei: das Notebook enthält keine Zelle dieser Übung (vermutlich ein Modul-Notebook "
                    "oder eine andere Übung).")
    return ""


def changed_test_cells(submission: Path, release: Path) -> dict[str, str]:
    """Testzellen der Ausgabe (release), die in der Abgabe verändert, gelöscht oder umgetypt wurden."""
    tests = {nbgrader_meta(cell)["grade_id"]: cell for cell in read_cells(release)
             if nbgrader_meta(cell).get("grade") and not nbgrader_meta(cell).get("solution")}
    submitted: dict[str, dict] = {}
    for cell in read_cells(submission):  # die letzte Kopie zählt (wie beim Bewerten)
        submitted[nbgrader_meta(cell).get("grade_id")] = cell
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


def read_auto_scores(db_url: str, assignment: str, notebook: str, student: str,
                     auto_max: dict[str, float]) -> dict[str, float]:
    """Punkte der Testzellen aus einem Gradebook (0 wo nichts steht)."""
    from nbgrader.api import Gradebook, MissingEntry

    scores = {}
    with Gradebook(db_url) as gradebook:
        for grade_id, maximum in auto_max.items():
            try:
                earned = gradebook.find_grade(grade_id, notebook, assignment, student).auto_score or 0.0
            except MissingEntry:
                earned = 0.0
            scores[grade_id] = min(max(float(earned), 0.0), maximum)
    return scores


# ---------------------------------------------------------------------------------------------------------------
# Wegwerf-Kurs für check und Tests


def autograde_notebooks(course_root: Path, assignment: str, notebooks: Mapping[str, Path], *,
                        workers: int = 2, cell_timeout: int = 60, notebook_timeout: int = 300,
                        memory_mb: int = 2000, workdir: Path | None = None,
                        progress: bool = True) -> dict[str, GradeResult]:
    """Bewertet jedes Notebook (Schlüssel wie in ``notebooks``) in einem Wegwerf-Kurs mit eigenem Gradebook.

    Der Kurs selbst bleibt unberührt. Der Wegwerf-Kurs liegt in ``workdir`` (bleibt zur Ansicht liegen) oder in
    einem temporären Ordner, der am Ende gelöscht wird (dann ist ``autograded_notebook`` danach weg).
    """
    from nbgrader.converters import GenerateAssignment
    from nbgrader.coursedir import CourseDirectory

    from sozialraum.course.nbconfig import course_config, ensure_tools_on_path

    ensure_tools_on_path()
    course_root = Path(course_root).resolve()
    sources = source_notebooks(course_root, assignment)
    owned = workdir is None
    base = Path(tempfile.mkdtemp(prefix="sozialraum-bewertung-")) if owned else Path(workdir).resolve()
    base.mkdir(parents=True, exist_ok=True)
    limits = sandbox.Limits(cell_timeout=cell_timeout, notebook_timeout=notebook_timeout, memory_mb=memory_mb)
    loaded = course_config(course_root) if (course_root / "nbgrader_config.py").exists() else None
    config = grading_config(loaded or {}, base, limits=limits, db_url=f"sqlite:///{base / 'gradebook.db'}",
                            source=course_root / "solutions", release=base / "release")
    config.SandboxedExecute.datasets = str(course_root / "datasets")
    coursedir = CourseDirectory(config=config)
    coursedir.assignment_id = assignment
    try:
        GenerateAssignment(coursedir=coursedir, config=config).start()
    except Exception as error:
        raise RuntimeError(f"nbgrader generate_assignment für '{assignment}' ist fehlgeschlagen: {error}\n"
                           "Tipp: `python -m sozialraum.course check` zeigt Fehler in der Aufgabe genauer.") from error
    auto_max, manual_max = {}, {}
    for source in sources:
        auto, manual = grade_cells(source)
        auto_max.update(auto)
        manual_max.update(manual)
    results, todo = {}, []
    for key, path in notebooks.items():
        path = Path(path)
        source = _matching_source(path, sources)
        result = GradeResult(key=key, status="ok", scores={gid: 0.0 for gid in auto_max}, max_scores=auto_max,
                             message="", autograded_notebook=None, manual_max_scores=manual_max)
        results[key] = result
        problem = ("Der Dateiname passt zu keinem Notebook der Aufgabe: " + ", ".join(s.name for s in sources)
                   if source is None else check_notebook(path, source))
        if problem:
            result.status, result.message = "invalid", problem
            continue
        result.changed_cells = changed_test_cells(path, base / "release" / assignment / source.name)
        target = base / "submitted" / key / assignment / source.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        todo.append((key, source))
    runs = run_autograde(config, assignment, [key for key, _ in todo], workers=workers, progress=progress)
    for key, source in todo:
        result, run = results[key], runs[key]
        autograded = base / "autograded" / key / assignment / source.name
        result.autograded_notebook = autograded if autograded.exists() else None
        result.status, result.message = status_of(run, result.autograded_notebook, limits)
        result.tampered = run.get("tampered", "")
        result.seconds = run.get("seconds", 0.0)
        if result.autograded_notebook is not None:
            result.scores = read_auto_scores(config.CourseDirectory.db_url, assignment, source.stem, key, auto_max)
    if owned:
        shutil.rmtree(base, ignore_errors=True)
    return results


def _matching_source(path: Path, sources: list[Path]) -> Path | None:
    by_name = {source.name: source for source in sources}
    if path.name in by_name:
        return by_name[path.name]
    return sources[0] if len(sources) == 1 else None
