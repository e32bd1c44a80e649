#!/usr/bin/env python3
"""Richtet den Kurs-JupyterHub des Sozialraum-Kits auf einem Debian-Rechner ein (als root, ein Befehl).

    python3 hub/setup.py hub/kurse.beispiel.toml          # alles: Pakete, Konten, Kurse, Dienst
    python3 hub/setup.py KURSE.toml --ohne-dienst         # ohne systemd-Dienst (Start von Hand, Tests)
    python3 hub/setup.py --nur-pakete [--prefix ORDNER]   # nur die Programme (Hub, Proxy, Lernumgebung)

Was eingerichtet wird (wiederholbar; ein zweiter Lauf ergänzt nur, was fehlt):
1. Debian-Pakete, falls sie fehlen: nodejs, npm, bubblewrap, python3-venv.
2. JupyterHub in einer eigenen Umgebung PREFIX/venv (Pins: hub/requirements.txt),
   configurable-http-proxy aus npm (Pins: hub/proxy/package-lock.json) in PREFIX/proxy.
3. Die Lernumgebung des Kits (.venv, genau aus binder/requirements.txt, wie `python3 kurs.py`), ergänzt um
   jupyterhub-singleuser in der Version des Hubs (hub/singleuser-requirements.txt, ohne weitere Abhängigkeiten).
4. Je Kurs: eine Linux-Gruppe kurs-ID (Teilnehmende und Lehrende) und lehrende-ID, ein Linux-Konto je Person aus den
   Teilnehmendenlisten (Startpasswörter in DATEN/zugangsdaten/ID.csv, nur für root lesbar), der Kursordner
   DATEN/kurse/ID (Kopie von solutions/, exercises/, nbgrader_config.py; nur Lehrende) und der nbgrader-Austausch
   DATEN/austausch/ID/exchange (nur Mitglieder des Kurses kommen hinein).
5. DATEN/hub.json für hub/jupyterhub_config.py und (ohne --ohne-dienst) den systemd-Dienst sozialraum-hub.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

HUB = Path(__file__).resolve().parent
KIT = HUB.parent
KIT_PYTHON = KIT / ".venv" / "bin" / "python"
DEBIAN_PACKAGES = {"node": "nodejs", "npm": "npm", "bwrap": "bubblewrap"}


def run(*args, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in args], check=True, **kwargs)


def stamped(target: Path, inputs: list[Path]) -> bool:
    """True, wenn target schon aus genau diesen Eingaben installiert wurde."""
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in inputs)).hexdigest()
    stamp = target / ".installiert.sha256"
    if stamp.exists() and stamp.read_text().strip() == digest:
        return True
    stamp.with_suffix(".neu").write_text(digest)  # erst nach Erfolg gültig (mark_installed)
    return False


def mark_installed(target: Path) -> None:
    (target / ".installiert.neu").rename(target / ".installiert.sha256")


def install_debian_packages() -> None:
    missing = [pkg for cmd, pkg in DEBIAN_PACKAGES.items() if shutil.which(cmd) is None]
    try:
        import ensurepip  # noqa: F401  (fehlt ohne python3-venv)
    except ImportError:
        missing.append("python3-venv")
    if missing:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        run("apt-get", "update", "-qq", env=env)
        run("apt-get", "install", "-y", "-qq", *missing, env=env)


def install_packages(prefix: Path) -> None:
    """Hub-Umgebung, Proxy und Lernumgebung (jeweils nur, wenn sich die Pins geändert haben)."""
    prefix.mkdir(parents=True, exist_ok=True)
    venv = prefix / "venv"
    if not (venv / "bin" / "python").exists():
        run(sys.executable, "-m", "venv", venv)
    if not stamped(venv, [HUB / "requirements.txt"]):
        run(venv / "bin" / "python", "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
            "-r", HUB / "requirements.txt")
        mark_installed(venv)
    proxy = prefix / "proxy"
    proxy.mkdir(exist_ok=True)
    lock = [HUB / "proxy" / "package.json", HUB / "proxy" / "package-lock.json"]
    if not stamped(proxy, lock):
        for path in lock:
            shutil.copy(path, proxy / path.name)
        run("npm", "ci", "--omit=dev", "--no-audit", "--no-fund", "--loglevel=error", cwd=proxy)
        mark_installed(proxy)
    # Lernumgebung genau wie `python3 kurs.py` (gleicher Fingerabdruck, kein zweites Installieren)
    run(sys.executable, "-c", "import kurs; kurs.ensure_environment()", cwd=KIT)
    extra = HUB / "singleuser-requirements.txt"
    if not stamped(KIT / ".venv", [extra]):
        run(KIT_PYTHON, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps", "-r", extra)
        mark_installed(KIT / ".venv")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kurse", nargs="?", type=Path, help="Beschreibung der Kurse (TOML, Beispiel: "
                                                            "hub/kurse.beispiel.toml)")
    parser.add_argument("--prefix", type=Path, help="Ordner für die Programme (Standard aus der TOML-Datei "
                                                    "oder /opt/sozialraum-hub)")
    parser.add_argument("--nur-pakete", action="store_true", help="nur Programme installieren")
    parser.add_argument("--ohne-dienst", action="store_true", help="keinen systemd-Dienst einrichten")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("Fehler: Bitte als root ausführen (legt Linux-Konten an). Tipp: sudo python3 hub/setup.py ...",
              file=sys.stderr)
        return 2
    settings = tomllib.loads(args.kurse.read_text(encoding="utf-8")) if args.kurse else {}
    prefix = (args.prefix or Path(settings.get("prefix", "/opt/sozialraum-hub"))).resolve()
    install_debian_packages()
    install_packages(prefix)
    if args.nur_pakete:
        return 0
    if args.kurse is None:
        parser.error("Bitte eine Kursbeschreibung (TOML) angeben oder --nur-pakete.")
    # Konten, Kurse und Hub-Konfiguration: in der Lernumgebung (liest Teilnehmendenlisten wie der Bewertungsbefehl)
    command = [KIT_PYTHON, HUB / "accounts.py", args.kurse.resolve(), "--prefix", prefix]
    if not args.ohne_dienst:
        command.append("--dienst")
    return subprocess.run([str(c) for c in command]).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
