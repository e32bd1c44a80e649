#!/usr/bin/env python3
"""Startet den Kurs oder die Tests in der gepinnten Umgebung (legt sie beim ersten Mal an).

    python3 kurs.py lab     # öffnet den Kurs in JupyterLab (modules/00_start.ipynb)
    python3 kurs.py test    # führt alle Tests aus (weitere Argumente gehen an pytest)
    python3 kurs.py formgrader  # für Lehrende: nbgrader-Formgrader (Handbewertung), siehe docs/Trainerhandbuch.md

Die Umgebung liegt in .venv/ und wird neu installiert, sobald sich binder/requirements.txt,
binder/postBuild oder pyproject.toml ändern. Es wird nur Python (ab 3.11) mit pip und venv gebraucht.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
INPUTS = [ROOT / "binder" / "requirements.txt", ROOT / "binder" / "postBuild", ROOT / "pyproject.toml"]
STAMP = VENV / "kurs-umgebung.sha256"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")


def fingerprint() -> str:
    digest = hashlib.sha256()
    for path in INPUTS:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def ensure_environment() -> None:
    wanted = fingerprint()
    if STAMP.exists() and STAMP.read_text().strip() == wanted:
        return
    if sys.version_info < (3, 11):
        sys.exit("Der Kurs braucht Python 3.11 oder neuer. Bitte installieren Sie eine neuere Python-Version.")
    print("Richte die Kursumgebung in .venv/ ein (einmalig, einige Minuten) ...", flush=True)
    if not PYTHON.exists():
        venv.create(VENV, with_pip=True)
    subprocess.run([PYTHON, "-m", "pip", "install", "--quiet", "-r", INPUTS[0]], check=True)
    subprocess.run([PYTHON, ROOT / "binder" / "postBuild"], check=True)
    STAMP.write_text(wanted + "\n")


def main(argv: list[str]) -> int:
    commands = {
        # Wurzel ist das Repository (Module, Übungen, Datenkatalog im Dateibrowser), vorne das Start-Notebook.
        "lab": [BIN / "jupyter", "lab", f"--ServerApp.root_dir={ROOT}",
                "--LabApp.default_url=/lab/tree/modules/00_start.ipynb"],
        "test": [PYTHON, "-m", "pytest"],
        # Die Lernumgebung blendet den Formgrader aus (binder/postBuild); hier nur für diesen Start einschalten.
        "formgrader": [
            BIN / "jupyter", "server", "--ServerApp.default_url=/formgrader",
            "--ServerApp.jpserver_extensions={'nbgrader.server_extensions.formgrader': True}",
        ],
    }
    if not argv or argv[0] not in commands:
        print(__doc__)
        return 2
    ensure_environment()
    command = commands[argv[0]]
    if argv[0] == "formgrader":
        (ROOT / "austausch").mkdir(exist_ok=True)  # nbgrader's Austausch-Ordner dieses Kurses (nbgrader_config.py)
    root = hasattr(os, "geteuid") and os.geteuid() == 0
    if argv[0] != "test" and root and not any(arg.startswith("--ServerApp.allow_root") for arg in argv):
        # Jupyter verweigert sonst den Start als root (z. B. in einem Container oder auf einem Kursserver).
        command.append("--ServerApp.allow_root=True")
    return subprocess.run(command + argv[1:], cwd=ROOT).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
