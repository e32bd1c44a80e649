"""Kernel-Vorlage (Fork-Server): Kernel abspalten statt jedes Mal Python, ipykernel, pandas & Co. neu zu laden.

Ein Python-Prozess in einer Sandbox (``sandbox.Jail``, dieselben Einhängungen und Grenzen wie ein einzelner
Kernel) lädt einmal ipykernel, numpy, pandas, geopandas, matplotlib und ``sozialraum`` und spaltet dann je Abgabe
einen Kernel ab (``os.fork``); die Abgaben eines Bewertungsprozesses laufen strikt nacheinander. Importiert kein
nbgrader.

Damit eine Abgabe weder die Vorlage noch die nächste Abgabe verändern kann:

- die Vorlage ist nicht „dumpable“ (``prctl(PR_SET_DUMPABLE, 0)``): ein Kernel derselben Kennung kann sie weder
  mit ptrace beobachten noch ihren Speicher oder ihre Dateien unter /proc lesen;
- sie nimmt Befehle nur über eine Pipe an, die die Kernel nicht erben; abfangbare Signale ignoriert sie;
- vor jedem neuen Kernel beendet sie jeden anderen Prozess ihres Prozess-Namensraums, leert /tmp, /dev/shm, /run
  und den Socket-Ordner, löscht SysV-IPC-Objekte und prüft, dass Grenzen (rlimits), Priorität, Scheduler und
  CPU-Zuordnung noch wie beim Start sind; sonst meldet sie sich als verändert;
- der Elternprozess prüft die Vorlage vor jeder Abgabe (lebt, nicht angehalten, antwortet rechtzeitig, nicht
  verändert) und startet sie sonst in einer frischen Sandbox neu;
- jeder Kernel bekommt einen frischen, zufällig benannten Socket-Ordner (``ForkServer.folder``), den nur der
  Elternprozess anlegt und nach dem Start versiegelt.

Damit nbclient/nbgrader den Kernel wie gewohnt steuern (Zeitlimits, Unterbrechen, Beenden), startet ein
``KernelProvisioner`` (``ForkProvisioner``) den Kernel über die Vorlage.

Der Fork ist sicher, weil die Vorlage nur einen Thread hat (geprüft vor jedem Fork): pyarrow startet sonst beim
Import einen Hintergrund-Thread von jemalloc; ``JE_ARROW_MALLOC_CONF=background_thread:false`` in der Umgebung
des Kernels verhindert das (pyarrow nutzt im Kit ohnehin den Speicherpool des Systems).
"""
from __future__ import annotations

import ctypes
import json
import os
import secrets
import select
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from jupyter_client.provisioning import LocalProvisioner

from sozialraum.course import sandbox

KERNEL_MODULES = ["ipykernel.kernelapp", "ipykernel.ipkernel"]
# je importiertem Paket, was die Vorlage vorab lädt (sozialraum zuerst: es schaltet die numba-Übersetzung ab)
PRELOAD = {"sozialraum": ["sozialraum", "sozialraum.data"], "numpy": ["numpy"], "pandas": ["pandas"],
           "geopandas": ["geopandas"], "shapely": ["shapely"],
           "matplotlib": ["matplotlib.pyplot", "matplotlib_inline.backend_inline"],
           **{name: [name] for name in ("mapclassify", "folium", "libpysal", "esda", "segregation", "spopt",
                                        "access", "spaghetti", "networkx", "statsmodels", "ipywidgets", "openpyxl",
                                        "scipy", "sklearn")}}
START_TIMEOUT = 120  # s: Start der Vorlage (Importe) auf einem belasteten Rechner
REPLY_TIMEOUT = 20  # s: Antwort auf einen Befehl (Aufräumen eingeschlossen)
CLEARED = ("/tmp", "/dev/shm", "/run")


def preload_for(imported: set[str]) -> tuple[str, ...]:
    """Module, die die Vorlage für ein Notebook mit diesen Importen lädt: ipykernel und die Bibliotheken des Kurses,
    die das Notebook selbst importiert (so belegt ein Kernel aus der Vorlage so viel Speicher wie ein frischer)."""
    return tuple(KERNEL_MODULES + [module for name in PRELOAD if name in imported for module in PRELOAD[name]])


# ---------------------------------------------------------------------------------------------------------------
# Elternprozess


class ForkServerError(RuntimeError):
    """Die Vorlage lässt sich nicht starten oder antwortet nicht."""


class ForkServer:
    """Eine Vorlage in ihrer Sandbox; ``spawn`` spaltet einen Kernel ab, ``ensure`` startet sie bei Bedarf neu."""

    def __init__(self, jail: sandbox.Jail, preload: tuple[str, ...]):
        self.jail, self.preload = jail, tuple(preload)
        self.process: subprocess.Popen | None = None
        self.host_pid = 0  # Kennung der Vorlage außerhalb der Sandbox
        self.threads = 0  # Threads der Vorlage nach dem Laden (1: fork ist sicher)
        self.starts = 0
        self.owner = os.getpid()
        if jail.uid is not None:
            os.chmod(jail.workdir, 0o711)  # nur der Elternprozess legt hier die Socket-Ordner an

    # Lebenszyklus ------------------------------------------------------------------------------------------------

    def start(self) -> None:
        self.stop()
        command = self.jail.command([sys.executable, "-m", "sozialraum.course.forkserver", str(self.jail.workdir),
                                     *self.preload])
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.DEVNULL, close_fds=True)
        self.starts += 1
        ready = self._read(START_TIMEOUT)
        if not ready or "pid" not in ready:
            self.stop()
            raise ForkServerError(f"Die Kernel-Vorlage startete nicht: {ready.get('error', 'keine Antwort')}"
                                  if ready else "Die Kernel-Vorlage startete nicht (keine Antwort).")
        self.host_pid, self.threads = self._host_pid(ready["pid"], self.process.pid), ready.get("threads", 0)

    def stop(self) -> None:
        if self.process is not None:
            try:
                self.process.kill()  # bwrap --die-with-parent beendet die ganze Sandbox
            except ProcessLookupError:
                pass
            self.process.wait()
            for stream in (self.process.stdin, self.process.stdout):
                stream.close()
        self.process, self.host_pid = None, 0

    def healthy(self) -> bool:
        """Lebt, ist nicht angehalten und antwortet schnell auf ``ping``."""
        if self.process is None or self.process.poll() is not None or not self.host_pid:
            return False
        if _state_of(self.host_pid) not in ("S", "R", "D"):
            return False
        reply = self._request({"op": "ping"}, timeout=5)
        return bool(reply) and reply.get("pid") is not None

    def ensure(self) -> None:
        if not self.healthy():
            self.start()

    # Kernel ---------------------------------------------------------------------------------------------------------

    def folder(self) -> Path:
        """Ein frischer, zufällig benannter Ordner für die Sockets des nächsten Kernels."""
        path = self.jail.workdir / secrets.token_hex(8)
        path.mkdir(mode=0o700)
        os.chmod(path, 0o733 if self.jail.uid is not None else 0o700)
        return path

    def spawn(self, argv: list[str], folder: Path) -> tuple[int, int]:
        """Spaltet einen Kernel ab (``argv`` wie von jupyter_client); gibt (pid außerhalb, Startzeit) zurück.

        Antwortet die Vorlage nicht oder meldet sie sich verändert, wird sie einmal neu gestartet.
        """
        for attempt in (1, 2):
            self.ensure()
            reply = self._request({"op": "fork", "argv": argv, "keep": folder.name}, timeout=REPLY_TIMEOUT)
            if reply and "pid" in reply:
                host = self._host_pid(reply["pid"], self.host_pid)
                return host, _start_time(host)
            self.stop()
            if attempt == 2:
                raise ForkServerError("Die Kernel-Vorlage konnte keinen Kernel starten: "
                                      + (reply.get("error", "") if reply else "keine Antwort"))
        raise AssertionError("unerreichbar")

    # Verbindung ---------------------------------------------------------------------------------------------------

    def _request(self, message: dict, timeout: float) -> dict | None:
        try:
            self.process.stdin.write((json.dumps(message) + "\n").encode())
            self.process.stdin.flush()
        except (OSError, ValueError, AttributeError):
            return None
        return self._read(timeout)

    def _read(self, timeout: float) -> dict | None:
        stream = self.process.stdout
        deadline = time.monotonic() + timeout
        line = b""
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([stream], [], [], left)[0]:
                return None
            chunk = os.read(stream.fileno(), 65536)
            if not chunk:
                return None
            line += chunk
        try:
            return json.loads(line.decode().splitlines()[-1])
        except (ValueError, IndexError):
            return None

    @staticmethod
    def _host_pid(inner: int, ancestor: int) -> int:
        """Die Kennung außerhalb der Sandbox des Prozesses, der darin ``inner`` heißt und von ``ancestor`` abstammt."""
        for _ in range(50):
            for entry in Path("/proc").iterdir():
                if not entry.name.isdigit():
                    continue
                status = _status(int(entry.name))
                ns = status.get("NSpid", "").split()
                if len(ns) > 1 and ns[-1] == str(inner) and _descends(int(entry.name), ancestor):
                    return int(entry.name)
            time.sleep(0.02)
        raise ForkServerError("Der Prozess der Kernel-Vorlage ist nicht auffindbar.")


def _status(pid: int) -> dict[str, str]:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return {}
    return dict(line.split(":\t", 1) for line in text.splitlines() if ":\t" in line)


def _stat(pid: int) -> list[str]:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return []
    return text[text.rindex(")") + 2:].split()  # ab dem Zustand; der Name in Klammern kann Leerzeichen enthalten


def _state_of(pid: int) -> str:
    fields = _stat(pid)
    return fields[0] if fields else ""


def _start_time(pid: int) -> int:
    fields = _stat(pid)
    return int(fields[19]) if len(fields) > 19 else 0


def _descends(pid: int, ancestor: int) -> bool:
    for _ in range(64):
        if pid == ancestor:
            return True
        if pid <= 1:
            return False
        pid = int(_status(pid).get("PPid", "0").strip() or 0)
    return False


class ForkedKernel:
    """Ein abgespaltener Kernel, von außen gesehen (wie ``subprocess.Popen``, soweit jupyter_client es braucht)."""

    stdin = stdout = stderr = None

    def __init__(self, pid: int, start_time: int):
        self.pid, self._start = pid, start_time
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None and (_start_time(self.pid) != self._start or _state_of(self.pid) in ("Z", "X", "")):
            self.returncode = -signal.SIGKILL  # den Exit-Code kennt nur die Vorlage, die den Kernel abräumt
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired("kernel", timeout)
            time.sleep(0.05)
        return self.returncode

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, signum)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)


def attach(km, server: ForkServer, folder: Path) -> None:
    """Lässt den KernelManager ``km`` (``autograde.JailedKernelManager``) seinen Kernel aus ``server`` abspalten,
    mit ipc-Sockets und Verbindungsdatei in ``folder`` (aus ``server.folder()``)."""
    km.transport, km.ip, km.connection_file = "ipc", str(folder / "k"), str(folder / "verbindung.json")
    km.jail, km.forked, km.kernel_id = server.jail, True, str(uuid.uuid4())
    km.provisioner = ForkProvisioner(kernel_id=km.kernel_id, kernel_spec=km.kernel_spec, parent=km)
    km.provisioner.server, km.provisioner.folder = server, folder


class ForkProvisioner(LocalProvisioner):
    """Startet den Kernel über die Vorlage; alles andere (Signale, Warten, Beenden) wie ``LocalProvisioner``."""

    server: ForkServer | None = None
    folder: Path | None = None

    async def launch_kernel(self, cmd: list[str], **kwargs):
        # nicht in einem Hilfs-Thread: bubblewrap stirbt mit dem Thread, der es startet (--die-with-parent)
        pid, start_time = self.server.spawn(cmd, self.folder)
        self.process, self.pid, self.pgid = ForkedKernel(pid, start_time), pid, None
        return self.connection_info


_SERVERS: dict[tuple, ForkServer] = {}


def server_for(make_jail, settings: tuple, preload: tuple[str, ...]) -> ForkServer:
    """Die Vorlage dieses Prozesses für diese Sandbox-Einstellungen; lädt sie zu wenig, eine neue mit mehr Modulen.

    ``make_jail()`` baut die Sandbox, wenn eine neue Vorlage nötig ist.
    """
    server = _SERVERS.get(settings)
    if server is not None and (server.owner != os.getpid() or not set(preload) <= set(server.preload)):
        if server.owner == os.getpid():
            server.stop()
        preload = tuple(dict.fromkeys(server.preload + tuple(preload))) if server.owner == os.getpid() else preload
        server = None
    if server is None:
        server = ForkServer(make_jail(), preload)
        _SERVERS[settings] = server
    return server


def stop_all() -> None:
    for server in _SERVERS.values():
        if server.owner == os.getpid():
            server.stop()
    _SERVERS.clear()


# ---------------------------------------------------------------------------------------------------------------
# In der Sandbox: die Vorlage


def _libc():
    return ctypes.CDLL(None, use_errno=True)


def _own_state() -> dict:
    """Was ein anderer Prozess derselben Kennung an der Vorlage verändern könnte."""
    import resource

    limits = {name: resource.getrlimit(getattr(resource, name)) for name in dir(resource)
              if name.startswith("RLIMIT_")}
    return {"limits": limits, "nice": os.getpriority(os.PRIO_PROCESS, 0), "policy": os.sched_getscheduler(0),
            "cpus": sorted(os.sched_getaffinity(0))}


def _kill_others() -> str:
    """Beendet alle anderen Prozesse im Namensraum (außer Prozess 1, dem init von bubblewrap)."""
    me = os.getpid()
    for _ in range(500):
        try:
            os.kill(-1, signal.SIGKILL)
        except ProcessLookupError:
            pass
        others = [name for name in os.listdir("/proc") if name.isdigit() and int(name) not in (1, me)]
        if not others:
            return ""
        time.sleep(0.01)
    return "Prozesse der vorigen Abgabe ließen sich nicht beenden"


def _empty(folder: str, keep: str = "") -> None:
    """Löscht den Inhalt von ``folder`` (außer ``keep``), auch Ordner ohne Rechte (sie gehören derselben Kennung)."""
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        if name != keep:
            _remove(os.path.join(folder, name))


def _remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        try:
            os.chmod(path, 0o700)
        except OSError:
            pass
        _empty(path)
        try:
            os.rmdir(path)
        except OSError:
            pass
    else:
        try:
            os.unlink(path)
        except OSError:
            pass


def _remove_sysv_ipc() -> None:
    """SysV-Speicher, Semaphoren und Nachrichtenschlangen der vorigen Abgabe (IPC-Namensraum der Sandbox)."""
    libc = _libc()
    for kind, remove in (("shm", lambda i: libc.shmctl(i, 0, None)), ("sem", lambda i: libc.semctl(i, 0, 0)),
                         ("msg", lambda i: libc.msgctl(i, 0, None))):
        try:
            lines = Path(f"/proc/sysvipc/{kind}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            remove(int(line.split()[1]))


def _clear(sockets: str, keep: str) -> str:
    problem = _kill_others()
    for folder in CLEARED:
        _empty(folder)
    _empty(sockets, keep)
    _remove_sysv_ipc()
    return problem


def _threads() -> int:
    return len(os.listdir("/proc/self/task"))


def _child(argv: list[str], channels: list[int]) -> None:
    """Im abgespaltenen Prozess: wird zum Kernel (wie ``python -m ipykernel_launcher ...``)."""
    code = 1
    try:
        os.setsid()
        for number in range(1, signal.NSIG):
            try:
                signal.signal(number, signal.SIG_DFL)
            except (OSError, ValueError):
                pass
        for fd in channels:  # andere offene Dateien (z. B. proj.db von pyproj) gehören zu den Bibliotheken
            os.close(fd)
        os.chdir("/tmp")
        sys.argv = ["ipykernel_launcher", *argv[3:]]
        from ipykernel import kernelapp

        kernelapp.launch_new_instance(argv=argv[3:])
        code = 0
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else 1
    except BaseException:  # noqa: BLE001 - der Kernel darf die Vorlage nie erreichen
        code = 1
    finally:
        os._exit(code)


def serve(sockets: str, preload: list[str]) -> None:
    """Hauptschleife der Vorlage: Befehle zeilenweise als JSON auf fd 0, Antworten auf fd 1."""
    import importlib

    commands, replies = os.dup(0), os.dup(1)  # os.dup: nicht vererbbar
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)
    _libc().prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE = 4: kein ptrace, kein /proc-Zugriff für dieselbe Kennung
    for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2,
                   signal.SIGPIPE, signal.SIGALRM, signal.SIGTSTP, signal.SIGTTIN, signal.SIGTTOU, signal.SIGCHLD):
        signal.signal(number, signal.SIG_IGN)  # SIGCHLD ignoriert: beendete Kernel werden sofort abgeräumt
    os.chdir("/tmp")
    for name in preload:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - fehlt ein Modul, lädt es der Kernel selbst (und meldet den Fehler)
            pass
    state = _own_state()
    incoming = os.fdopen(commands, "rb")

    def reply(message: dict) -> None:
        os.write(replies, (json.dumps(message) + "\n").encode())

    reply({"pid": os.getpid(), "threads": _threads()})
    for line in incoming:
        try:
            message = json.loads(line)
        except ValueError:
            reply({"error": "unlesbarer Befehl"})
            continue
        if message.get("op") == "ping":
            reply({"pid": os.getpid()})
            continue
        if message.get("op") != "fork":
            reply({"error": "unbekannter Befehl"})
            continue
        argv = message.get("argv", [])
        try:
            problem = _clear(sockets, message.get("keep", ""))
        except Exception as error:  # noqa: BLE001 - z. B. absurd tiefe Ordner: dann eine frische Sandbox
            problem = f"Aufräumen fehlgeschlagen ({type(error).__name__})"
        if not problem and _own_state() != state:
            problem = "Grenzen oder Priorität der Vorlage wurden verändert"
        if not problem and _threads() != 1:
            problem = f"die Vorlage hat {_threads()} Threads (fork wäre nicht sicher)"
        if not problem and argv[1:3] != ["-m", "ipykernel_launcher"]:
            problem = "unerwarteter Kernel-Befehl"
        if problem:
            reply({"error": problem})
            continue
        pid = os.fork()
        if pid == 0:
            _child(argv, [commands, replies])
        reply({"pid": pid})


if __name__ == "__main__":
    serve(sys.argv[1], sys.argv[2:])
