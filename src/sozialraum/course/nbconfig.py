"""Kursordner finden und seine nbgrader-Konfiguration (nbgrader_config.py) laden."""
import os
import sys
from pathlib import Path

from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

CONFIG_FILE = "nbgrader_config.py"


def find_course_root(start: Path | None = None) -> Path:
    """Der nächste Ordner ab ``start`` (Standard: aktueller Ordner) aufwärts, der nbgrader_config.py enthält."""
    start = (start or Path.cwd()).resolve()
    for folder in (start, *start.parents):
        if (folder / CONFIG_FILE).is_file():
            return folder
    raise FileNotFoundError(f"Kein Kursordner gefunden: {CONFIG_FILE} fehlt in {start} und darüber. "
                            "Tipp: Rufen Sie den Befehl im Repository auf oder geben Sie --kurs an.")


def course_config(course_root: Path) -> Config:
    """Die Konfiguration aus ``course_root/nbgrader_config.py`` (eine Kopie, die der Aufrufer ändern darf)."""
    return PyFileConfigLoader(CONFIG_FILE, path=str(course_root)).load_config()


def ensure_tools_on_path() -> None:
    """nbgrader ruft ``alembic`` über PATH auf; ohne aktivierte Umgebung fehlt es dort. Ordner davor setzen."""
    tools = str(Path(sys.executable).parent)
    if tools not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = tools + os.pathsep + os.environ.get("PATH", "")
