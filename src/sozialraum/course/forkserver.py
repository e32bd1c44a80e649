"""Kernel aus einer Vorlage (Fork-Server); importiert kein nbgrader.

Ein neuer Python-Kernel braucht je Abgabe etwa eine Sekunde, fast nur für Importe (ipykernel, IPython, pandas,
sozialraum). Die Vorlage lädt sie einmal je Arbeitsprozess, in einer bubblewrap-Sandbox mit denselben Regeln wie
jeder Kernel (``sandbox.Jail(..., server=True)``), und spaltet je Abgabe eine Kopie von sich ab (``fork``). Jede
Kopie bekommt, bevor sie irgendetwas aus der Abgabe sieht, ihre eigene Abschottung:

- eigene Namensräume für Einhängepunkte, Prozesse und IPC (die Vorlage, frühere und spätere Abgaben sind darin
  unsichtbar; endet der Kernel, endet jeder Prozess, den die Abgabe gestartet hat);
- ein eigenes, leeres /tmp, /dev/shm und /run; vom Ordner der Arbeitsordner nur der eigene;
- als root eine eigene Kennung je Abgabe (wie ``setpriv``), sonst die unprivilegierte Kennung der Sandbox;
  danach keine Capabilities mehr und ``no_new_privs`` (geprüft in /proc/self/status, sonst startet nichts);
- dieselben Grenzen (``prlimit`` der Vorlage gilt weiter) und keine offenen Dateien der Vorlage.

Die Vorlage selbst führt nie Code einer Abgabe aus; sie lädt nur, was die Quelle der Übung importiert.
Im Arbeitsprozess steht ``ForkServer``: ``start`` gibt ein Objekt wie ``subprocess.Popen`` zurück, das
jupyter_client's ``LocalProvisioner`` wie einen gewöhnlichen Kernelprozess verwaltet.
"""
from __future__ import annotations

import ctypes
import importlib
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from sozialraum.course import sandbox

CLONE_NEWNS, CLONE_NEWIPC, CLONE_NEWPID = 0x00020000, 0x08000000, 0x20000000
MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_BIND, MS_REC, MS_PRIVATE = 2, 4, 8, 4096, 16384, 1 << 18
MNT_DETACH = 2
PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 1, 38, 47, 4
CAPABILITY_VERSION_3 = 0x20080522
START_TIMEOUT = 120  # Sekunden für das Laden der Vorlage
# was ipykernel beim Start lädt (ipykernel.debugger allein etwa 0,2 s)
KERNEL_MODULES = ["ipykernel.kernelapp", "ipykernel.ipkernel", "ipykernel.zmqshell", "ipykernel.debugger"]

# ---------------------------------------------------------------------------------------------------------------
# In der Sandbox: die Vorlage


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def _libc():
    return ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"{what}: {os.strerror(error)}")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    encode = (lambda s: s.encode() if s is not None else None)
    _check(_libc().mount(encode(source), encode(target), encode(fstype), ctypes.c_ulong(flags), encode(data)),
           f"mount {target}")


def _die_with_parent() -> None:
    """SIGKILL, wenn der Elternprozess stirbt; anders als ``sandbox.die_with_parent`` mit Fehler, wenn es nicht geht."""
    _check(_libc().prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "pdeathsig")


def _tmpfs(target: str, size_mb: int, mode: str) -> None:
    _mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, f"size={size_mb}m,mode={mode}")


def _mount_points_below(folder: str) -> list[str]:
    """Oberste Einhängepunkte unterhalb von ``folder`` (aus /proc/self/mountinfo)."""
    points = sorted({re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), line.split()[4])
                     for line in Path("/proc/self/mountinfo").read_text().splitlines()})
    below = [p for p in points if p.startswith(folder.rstrip("/") + "/")]
    return [p for p in below if not any(p.startswith(q + "/") for q in below)]


def _own_mounts(workdir: str, tmp_mb: int) -> None:
    """Im neuen Einhängepunkt-Namensraum: frisches /tmp, /dev/shm, /run; vom Ordner aller Arbeitsordner nur
    ``workdir`` (am selben Pfad, damit die Sockets des Kernels dort liegen, wo der Arbeitsprozess sie sucht).
    Was schreibgeschützt unter /tmp eingehängt ist (ein Kurs, der selbst unter /tmp liegt), bleibt sichtbar."""
    base = os.path.dirname(workdir)
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    _tmpfs("/run", 1, "755")
    os.mkdir("/run/arbeit")
    _mount(workdir, "/run/arbeit", None, MS_BIND | MS_REC)
    kept = [p for p in _mount_points_below("/tmp") if p != base]
    for number, path in enumerate(kept):
        os.mkdir(f"/run/lesbar{number}")
        _mount(path, f"/run/lesbar{number}", None, MS_BIND | MS_REC)
    _tmpfs("/tmp", tmp_mb, "1777")
    for number, path in enumerate(kept):
        os.makedirs(path, mode=0o755, exist_ok=True)
        _mount(f"/run/lesbar{number}", path, None, MS_BIND | MS_REC)  # übernimmt "schreibgeschützt"
        _check(_libc().umount2(f"/run/lesbar{number}".encode(), MNT_DETACH), "umount")
        os.rmdir(f"/run/lesbar{number}")
        if not os.statvfs(path).f_flag & os.ST_RDONLY:
            raise OSError(f"{path} wäre beschreibbar")
    _tmpfs("/dev/shm", 64, "1777")
    if not (base + "/").startswith("/tmp/"):
        _tmpfs(base, 1, "755")
    os.makedirs(workdir, mode=0o755, exist_ok=True)
    _mount("/run/arbeit", workdir, None, MS_BIND | MS_REC)
    _check(_libc().umount2(b"/run/arbeit", MNT_DETACH), "umount /run/arbeit")
    os.rmdir("/run/arbeit")


def _drop_privileges(uid: int | None) -> None:
    """Eigene Kennung (als root), dann keine Capabilities und no_new_privs; prüft das Ergebnis."""
    libc = _libc()
    if uid is not None:
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
    libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    header, data = _CapHeader(CAPABILITY_VERSION_3, 0), (_CapData * 2)()
    _check(libc.capset(ctypes.byref(header), data), "capset")
    _check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    _die_with_parent()  # nach dem Kennungswechsel (der die Einstellung löscht)
    status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    for key in ("CapInh", "CapPrm", "CapEff", "CapAmb"):
        if int(status[key].strip(), 16) != 0:
            raise OSError(f"{key} nicht leer")
    if status["NoNewPrivs"].strip() != "1" or (uid is not None and os.getuid() != uid):
        raise OSError("Kennung oder no_new_privs nicht gesetzt")


def _kernel(request: dict) -> None:
    """Der abgespaltene Kernel: erster Prozess seines Prozess-Namensraums."""
    if request["abgeschottet"]:
        _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
        _drop_privileges(request["kennung"])
    else:
        _die_with_parent()
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)
    os.chdir("/tmp" if request["abgeschottet"] else request["arbeitsordner"])
    import random

    random.seed()  # sonst zöge jede Kopie dieselben Zufallszahlen
    if "numpy" in sys.modules:
        sys.modules["numpy"].random.seed()
    # ohne Verlaufsdatenbank (braucht beim Bewerten niemand; ihr Thread zählte gegen die Prozessgrenze)
    sys.argv = ["ipykernel_launcher", "-f", request["verbindung"], "--HistoryManager.enabled=False",
                *request["argumente"]]
    from ipykernel.kernelapp import launch_new_instance

    launch_new_instance()


def _supervise(request: dict, report: int) -> None:
    """Zwischenprozess: eigene Namensräume und Einhängepunkte, dann der Kernel als erster Prozess darin."""
    _die_with_parent()
    if request["abgeschottet"]:
        _check(_libc().unshare(CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWPID), "unshare")
        _own_mounts(request["arbeitsordner"], request["tmp_mb"])
    kernel = os.fork()
    if kernel == 0:
        os.close(report)
        try:
            _kernel(request)
        finally:
            os._exit(0)
    os.write(report, f"{kernel}\n".encode())
    os.close(report)
    _, status = os.waitpid(kernel, 0)
    os._exit(os.waitstatus_to_exitcode(status) % 256)


def _fork_kernel(request: dict, control: socket.socket) -> tuple[int, int | None, str]:
    """(Zwischenprozess, Kernel, Fehlermeldung) für eine Anfrage des Arbeitsprozesses."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            signal.set_wakeup_fd(-1)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            control.detach()  # gehört der Vorlage; das Objekt schließt sonst später eine fremde Nummer
            os.close(read_end)
            for fd in range(3, os.sysconf("SC_OPEN_MAX")):
                if fd != write_end:
                    try:
                        os.close(fd)
                    except OSError:
                        pass
            _supervise(request, write_end)
        except BaseException as error:  # noqa: BLE001 - der Grund geht an den Arbeitsprozess
            try:
                os.write(write_end, f"fehler {type(error).__name__}: {error}\n".encode()[:500])
            finally:
                os._exit(70)
    os.close(write_end)
    answer = b""
    while not answer.endswith(b"\n"):
        chunk = os.read(read_end, 1024)
        if not chunk:
            break
        answer += chunk
    os.close(read_end)
    text = answer.decode(errors="replace").strip()
    if text.isdigit():
        return pid, int(text), ""
    return pid, None, text.removeprefix("fehler ") or "Der Kernel ließ sich nicht abspalten."


def serve(control: socket.socket, preload: list[str]) -> None:
    """Lädt die Module, meldet sich bereit und spaltet auf Anfrage Kernel ab, bis der Arbeitsprozess geht."""
    for name in [*KERNEL_MODULES, *preload]:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - fehlt ein Modul, lädt es der Kernel selbst (und meldet den Fehler)
            pass

    def send(message: dict) -> None:
        control.sendall(json.dumps(message).encode() + b"\n")

    if threading.active_count() != 1:  # fork mit Threads wäre unsicher
        send({"fehler": f"Die Vorlage hat {threading.active_count()} Threads nach dem Laden."})
        return
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_write, False)
    signal.set_wakeup_fd(wake_write)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    kernels: dict[int, int] = {}  # Zwischenprozess -> Kernel
    send({"bereit": os.getpid()})
    buffer = b""
    try:
        while True:
            ready, _, _ = select.select([control, wake_read], [], [])
            if wake_read in ready:
                os.read(wake_read, 4096)
            if control in ready:
                chunk = control.recv(65536)
                if not chunk:
                    return  # der Arbeitsprozess ist fort
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    request = json.loads(line)
                    if "start" in request:
                        pid, kernel, problem = _fork_kernel(request["start"], control)
                        if kernel is not None:
                            kernels[pid] = kernel
                        send({"gestartet": pid, "fehler": problem})
                    elif "beenden" in request and request["beenden"] in kernels:
                        _kill(kernels[request["beenden"]])
            while True:
                try:
                    pid, status = os.waitpid(-1, os.WNOHANG)
                except ChildProcessError:
                    break
                if pid == 0:
                    break
                kernels.pop(pid, None)
                send({"beendet": pid, "code": os.waitstatus_to_exitcode(status)})
    finally:
        for kernel in kernels.values():
            _kill(kernel)


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def main() -> None:
    serve(socket.socket(fileno=int(sys.argv[1])), json.loads(sys.argv[2]))


# ---------------------------------------------------------------------------------------------------------------
# Im Arbeitsprozess


def modules_to_preload(sources: list[str]) -> list[str]:
    """Module, die Zellen der Quelle importieren (``import a.b``, ``from a import b`` -> a, a.b)."""
    found = set()
    for source in sources:
        for line in source.splitlines():
            match = re.match(r"\s*from\s+([A-Za-z_][\w.]*)\s+import\s+([\w\s,()]+)", line)
            if match:
                found.add(match.group(1))
                found.update(f"{match.group(1)}.{name.split()[0]}" for name in
                             match.group(2).replace("(", " ").replace(")", " ").split(",") if name.strip())
                continue
            match = re.match(r"\s*import\s+([\w.\s,]+)", line)
            if match:
                found.update(part.split()[0] for part in match.group(1).split(",") if part.strip())
    return sorted(found)


class ForkedKernel:
    """Ein abgespaltener Kernel, mit der Schnittstelle von ``subprocess.Popen``, die jupyter_client nutzt."""

    stdin = stdout = stderr = None

    def __init__(self, server: ForkServer, pid: int):
        self.server, self.pid, self.returncode = server, pid, None

    def poll(self) -> int | None:
        self.server.pump()
        if self.returncode is None:
            self.returncode = self.server.exit_codes.get(self.pid, -signal.SIGKILL if self.server.gone else None)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired("kernel", timeout)
            self.server.pump(0.05)
        return self.returncode

    def send_signal(self, signum: int) -> None:
        """Jedes Signal beendet den Kernel (Unterbrechen geht über Nachrichten, nicht über Signale)."""
        self.kill()

    def kill(self) -> None:
        self.server.kill(self.pid)

    terminate = kill


class ForkServer:
    """Die Vorlage in ihrer Sandbox, gesteuert über ein Socket-Paar."""

    def __init__(self, jail, preload: list[str]):
        """``jail``: ``sandbox.Jail(..., server=True)``; sein Arbeitsordner nimmt die Arbeitsordner der Kernel auf."""
        ours, theirs = socket.socketpair()
        code = "from sozialraum.course.forkserver import main; main()"
        self.base, self.isolated, self.gone = jail.workdir, jail.isolated, False
        self.errors = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            jail.command([sys.executable, "-c", code, str(theirs.fileno()), json.dumps(preload)]),
            pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self.errors,
            preexec_fn=sandbox.die_with_parent)
        theirs.close()
        self.socket, self.buffer = ours, b""
        self.exit_codes: dict[int, int] = {}
        self.replies: list[dict] = []
        self.lock, self.send_lock = threading.Lock(), threading.Lock()
        reply = self._next_reply(START_TIMEOUT, "bereit")
        if "bereit" not in reply:
            self.close()
            raise RuntimeError(f"Die Vorlage für die Kernel startete nicht: {reply.get('fehler', '')}".strip())

    def alive(self) -> bool:
        return self.process.poll() is None

    def start(self, connection_file: Path, workdir: Path, uid: int | None, tmp_mb: int,
              arguments: list[str]) -> ForkedKernel:
        """``arguments``: weitere Argumente für ipykernel (``Execute.extra_arguments`` der Kurskonfiguration)."""
        request = {"verbindung": str(connection_file), "arbeitsordner": str(workdir), "kennung": uid,
                   "tmp_mb": tmp_mb, "abgeschottet": self.isolated, "argumente": arguments}
        self._send({"start": request})
        reply = self._next_reply(30, "gestartet")
        if reply.get("fehler") or "gestartet" not in reply:
            raise RuntimeError(f"Der Kernel ließ sich nicht starten: {reply.get('fehler') or 'keine Antwort'}")
        return ForkedKernel(self, reply["gestartet"])

    def kill(self, pid: int) -> None:
        try:
            self._send({"beenden": pid})
        except OSError:
            pass  # Vorlage schon fort: ihre Kernel sind mit ihr gestorben

    def pump(self, timeout: float = 0) -> None:
        """Liest, was die Vorlage gemeldet hat (beendete Kernel, Antworten); wartet höchstens ``timeout``."""
        with self.lock:
            if select.select([self.socket], [], [], timeout)[0]:
                chunk = self.socket.recv(65536)
                if not chunk:  # Vorlage beendet: alle ihre Kernel sind mit ihr fort
                    self.gone = True
                    return
                self.buffer += chunk
            while b"\n" in self.buffer:
                line, self.buffer = self.buffer.split(b"\n", 1)
                message = json.loads(line)
                if "beendet" in message:
                    self.exit_codes[message["beendet"]] = message["code"]
                else:
                    self.replies.append(message)

    def close(self) -> None:
        self.socket.close()
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self.errors.close()

    def _send(self, message: dict) -> None:
        with self.send_lock:
            self.socket.sendall(json.dumps(message).encode() + b"\n")

    def _next_reply(self, timeout: float, key: str) -> dict:
        deadline = time.monotonic() + timeout
        while not self.replies:
            if time.monotonic() > deadline or not self.alive() and not self._readable():
                self.errors.seek(0)
                error = self.errors.read().decode(errors="replace").strip()[-300:]
                return {"fehler": error or f"keine Antwort ({key})"}
            self.pump(0.05)
        return self.replies.pop(0)

    def _readable(self) -> bool:
        return bool(select.select([self.socket], [], [], 0)[0])


_SHARED: dict[tuple, ForkServer] = {}


def shared(key: tuple, make_jail, preload: list[str]) -> ForkServer:
    """Die laufende Vorlage dieses Prozesses für ``key`` (Sandbox-Regeln und Module), sonst eine neue;
    ``make_jail(ordner)`` gibt ihre Sandbox."""
    server = _SHARED.get(key)
    if server is not None and server.alive():
        return server
    close_all()
    base = Path(tempfile.mkdtemp(prefix="vorlage-", dir=os.environ.get("SOZIALRAUM_SANDBOXEN")))
    try:
        server = ForkServer(make_jail(base), preload)
    except BaseException:
        shutil.rmtree(base, ignore_errors=True)
        raise
    _SHARED[key] = server
    return server


def close_all() -> None:
    for server in _SHARED.values():
        server.close()
        shutil.rmtree(server.base, ignore_errors=True)
    _SHARED.clear()
