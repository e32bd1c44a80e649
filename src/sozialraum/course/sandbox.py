"""Abschottung eines Prozesses mit bubblewrap (``bwrap``, die Sandbox von Flatpak); importiert kein nbgrader.

``Jail.command(cmd)`` gibt den Befehl zurück, der ``cmd`` abgeschottet startet:

- eigene Namensräume für Netz (kein Netz, auch kein Zugriff auf abstrakte Unix-Sockets des Rechners),
  Prozesse, IPC und Hostname; ``--die-with-parent`` und ``--new-session``;
- ein leeres Dateisystem, in das nur hineingebunden wird, was Python braucht (schreibgeschützt: /usr, die
  Python-Installation, die Kursumgebung, das Paket ``sozialraum``, der Datenordner, wenige Dateien aus /etc)
  und der Arbeitsordner für die Sockets des Kernels (``seal`` sperrt ihn nach dem Start); /tmp (auch das
  Arbeitsverzeichnis), /dev/shm und /run sind eigene, kleine tmpfs. Kursordner,
  Lösungen, Teilnehmendenliste, Gradebook, Home-Ordner und Sockets des Rechners gibt es darin nicht;
- eine unprivilegierte Benutzerkennung: ohne root über einen Benutzer-Namensraum (``--unshare-user --uid``),
  als root über ``setpriv`` auf eine eigene, sonst ungenutzte Kennung je Sandbox (ein Benutzer-Namensraum hielte
  als root die Prozessgrenze nicht: für root gilt RLIMIT_NPROC nicht);
- Grenzen (``prlimit``): Adressraum, Dateigröße, Prozesszahl, keine Core-Dateien; sie gelten nach dem Wechsel der
  Kennung weiter.

``Jail(..., server=True)`` ist die Sandbox der Vorlage für Kernel (``forkserver``): dieselben Regeln, ihr
Arbeitsordner nimmt die Arbeitsordner der Kernel auf, und sie behält die Rechte, je Kernel eigene Namensräume
einzurichten und (als root) die Kennung zu wechseln; jeder Kernel gibt sie ab, bevor er startet.

Ohne bubblewrap oder ohne Namensräume (``available()`` ist dann falsch) läuft der Befehl nur mit den Grenzen; das
sagt ``describe()``.
"""
from __future__ import annotations

import ctypes
import itertools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

ETC_FILES = ["ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "fonts", "mime.types"]
ROOT_UID_BASE = 420_000  # Kennungen für Sandboxen, wenn root bewertet (je Sandbox eine eigene)
STALE_PREFIX = "sozialraum-lauf-"
_uids = itertools.count()
_uid_lock = threading.Lock()


@dataclass(frozen=True)
class Limits:
    """Grenzen einer Bewertung (Zeiten in Sekunden, Größen in MB)."""

    cell_timeout: int = 120
    notebook_timeout: int = 600
    memory_mb: int = 2000
    processes: int = 256
    file_mb: int = 200
    tmp_mb: int = 256


def package_dir() -> Path:
    """Der Ordner, in dem das Paket ``sozialraum`` liegt (src/ bei editierbarer Installation)."""
    return Path(__file__).resolve().parents[2]


@lru_cache(maxsize=1)
def available() -> bool:
    """True, wenn bubblewrap hier Namensräume anlegen kann (einmal geprüft)."""
    if not shutil.which("bwrap") or not shutil.which("prlimit") or (os.geteuid() == 0 and not shutil.which("setpriv")):
        return False
    work = Path(tempfile.mkdtemp(prefix="sozialraum-probe-"))
    try:
        jail = Jail(work, readable=[Path(sys.prefix), Path(sys.base_prefix)], env={}, limits=Limits(),
                    isolated=True)
        probe = f"import os; open({str(work / 'ok')!r}, 'w').write(str(os.getuid()))"
        done = subprocess.run(jail.command([sys.executable, "-c", probe]),
                              capture_output=True, timeout=60)
        return done.returncode == 0 and (work / "ok").exists() and (work / "ok").read_text() != "0"
    except (OSError, subprocess.SubprocessError):
        return False
    finally:
        shutil.rmtree(work, ignore_errors=True)


def describe() -> str:
    """Deutscher Satz für Zusammenfassung und Handbuch: was auf diesem Rechner gilt."""
    if available():
        who = "eigene Kennung je Sandbox (root gibt alles ab)" if os.geteuid() == 0 else "unprivilegierte Kennung"
        return ("Abschottung (bubblewrap): kein Netz, keine Sockets des Rechners, eigenes /tmp und /dev/shm, "
                f"nur Python und Daten lesbar, Kurs/Lösungen/Gradebook unsichtbar, {who}, Grenzen für Speicher, "
                "Prozesse und Dateigröße.")
    return ("Abschottung eingeschränkt: bubblewrap fehlt oder dieses System erlaubt keine Namensräume. Es gelten "
            "nur Zeit-, Speicher-, Prozess- und Dateigrößengrenzen; eine Abgabe könnte Dateien des Rechners lesen. "
            "Tipp: `apt-get install bubblewrap` (siehe Trainerhandbuch).")


class Jail:
    """Ein Arbeitsordner und die Regeln, mit denen Befehle darin abgeschottet starten."""

    def __init__(self, workdir: Path, *, readable: list[Path], env: dict[str, str], limits: Limits,
                 isolated: bool | None = None, server: bool = False):
        self.isolated = available() if isolated is None else isolated
        self.workdir = Path(workdir).resolve()
        self.readable = [Path(p).resolve() for p in readable if Path(p).exists()]
        self.env = env
        self.limits = limits
        self.server = server  # Vorlage für Kernel (forkserver): richtet je Kernel Namensräume und Kennung ein
        self.uid = None
        if os.geteuid() == 0 and self.isolated and not server:
            with _uid_lock:
                self.uid = ROOT_UID_BASE + (os.getpid() % 1000) * 100 + next(_uids) % 100
            os.chmod(self.workdir, 0o733)  # gehört root: die Sandbox legt nur ihre Sockets an (siehe seal)
        else:
            os.chmod(self.workdir, 0o700)

    def grant(self, path: Path) -> None:
        """Macht eine Datei im Arbeitsordner für die Sandbox lesbar."""
        os.chmod(path, 0o644 if self.uid is not None else 0o600)

    def seal(self) -> None:
        """Ab jetzt kann die Sandbox im Arbeitsordner nichts mehr anlegen (als root: der Ordner gehört root)."""
        os.chmod(self.workdir, 0o711 if self.uid is not None else 0o500)

    def command(self, cmd: list[str]) -> list[str]:
        limits = self.limits
        own_uid = os.geteuid() == 0 and self.isolated  # als root: je Kernel eine eigene Kennung
        nproc = limits.processes if own_uid else _own_processes() + limits.processes
        prefix = ["prlimit", f"--as={limits.memory_mb * 2**20}", f"--fsize={limits.file_mb * 2**20}",
                  f"--nproc={nproc}", "--core=0", "--nofile=1024", "--"]
        if not self.isolated:
            return prefix + cmd
        return prefix + self._bwrap() + ["--"] + self._switch_user() + cmd

    def _bwrap(self) -> list[str]:
        args = ["bwrap", "--die-with-parent", "--new-session", "--unshare-ipc", "--unshare-pid", "--unshare-net",
                "--unshare-uts", "--unshare-cgroup-try", "--hostname", "sandbox", "--clearenv"]
        if os.geteuid() != 0:
            args += ["--unshare-user", "--uid", "65534", "--gid", "65534"]
        if self.server:  # nur für die Vorlage, die je Kernel alles abgibt (forkserver._drop_privileges)
            args += ["--cap-add", "CAP_SYS_ADMIN"]
        if os.geteuid() == 0:  # für setpriv bzw. die Vorlage, die die Kennung je Kernel wechselt
            args += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
        for key, value in self.env.items():
            args += ["--setenv", key, value]
        args += ["--ro-bind", "/usr", "/usr"]
        for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
            path = Path("/") / name
            if path.is_symlink():
                args += ["--symlink", os.readlink(path), str(path)]
            elif path.is_dir():
                args += ["--ro-bind", str(path), str(path)]
        for name in ETC_FILES:
            if (Path("/etc") / name).exists():
                args += ["--ro-bind", f"/etc/{name}", f"/etc/{name}"]
        args += ["--proc", "/proc", "--dev", "/dev"]
        for target, size in (("/dev/shm", 64), ("/tmp", self.limits.tmp_mb), ("/run", 1)):
            args += ["--perms", "1777", "--size", str(size * 2**20), "--tmpfs", target]
        # nach den tmpfs: liegt der Kurs selbst unter /tmp (etwa ein frischer Klon in CI), bleibt er so sichtbar
        for path in _covering(self.readable):
            args += _parents(path) + ["--ro-bind", str(path), str(path)]
        args += _parents(self.workdir) + ["--bind", str(self.workdir), str(self.workdir), "--chdir", "/tmp"]
        return args

    def _switch_user(self) -> list[str]:
        if self.uid is None or self.server:
            return []
        return ["setpriv", f"--reuid={self.uid}", f"--regid={self.uid}", "--clear-groups", "--inh-caps=-all",
                "--bounding-set=-all", "--no-new-privs"]


def _parents(path: Path) -> list[str]:
    """Elternordner eines Einhängepunkts, für alle betretbar (bwrap legt sie sonst nur für root an)."""
    args = []
    for parent in reversed(path.parents[:-1]):
        args += ["--perms", "0755", "--dir", str(parent)]
    return args


def _covering(paths: list[Path]) -> list[Path]:
    """Pfade ohne solche, die in einem anderen schon enthalten sind."""
    ordered = sorted(set(paths), key=lambda p: len(p.parts))
    kept: list[Path] = []
    for path in ordered:
        if not any(path == k or k in path.parents for k in kept):
            kept.append(path)
    return kept


def _own_processes() -> int:
    """Prozesse dieses Benutzers (RLIMIT_NPROC zählt sie alle mit)."""
    uid = os.getuid()
    count = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid == uid:
                    count += 1
            except OSError:
                pass
    return count


def die_with_parent() -> None:
    """Dieser Prozess bekommt SIGKILL, wenn sein Elternprozess stirbt (Linux, prctl PR_SET_PDEATHSIG)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)
    except (OSError, AttributeError):
        pass


def run_folder(prefix: str = STALE_PREFIX) -> Path:
    """Temporärer Ordner für einen Lauf; Reste früherer, abgebrochener Läufe (Prozess tot) werden gelöscht."""
    base = Path(tempfile.gettempdir())
    for old in base.glob(prefix + "*"):
        try:
            pid = int(old.name[len(prefix):].split("-")[0])
        except ValueError:
            continue
        if not _alive(pid):
            shutil.rmtree(old, ignore_errors=True)
    folder = Path(tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-", dir=base))
    os.chmod(folder, 0o711)
    return folder


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
