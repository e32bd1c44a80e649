"""``build``: erzeugt exercises/ aus solutions/ neu, deterministisch und ohne Ausgaben.

Für jede Übung (jeden Ordner in solutions/) läuft nbgrader ``generate_assignment`` in einem temporären
Kursordner (die Bewertungsdatenbank landet dort, nicht im Repository). Die erzeugten Notebooks werden mit
festem JSON-Format geschrieben, sodass zwei Läufe byteweise dieselben Dateien ergeben.
"""
import argparse
import logging
import shutil
import tempfile
from pathlib import Path

import nbformat

from sozialraum.course.nbconfig import course_config, ensure_tools_on_path, find_course_root

SOURCE = "solutions"
RELEASE = "exercises"


def assignments(course_root: Path) -> list[str]:
    """Namen aller Übungen (Unterordner von solutions/ mit mindestens einem Notebook), sortiert."""
    source = course_root / SOURCE
    return sorted(p.name for p in source.iterdir() if p.is_dir() and any(p.glob("*.ipynb")))


def normalize_notebook(path: Path) -> None:
    """Schreibt ein Notebook ohne Ausgaben und mit festem JSON-Format (sortierte Schlüssel, Einrückung 1)."""
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        cell.metadata.pop("execution", None)
    nb.metadata.pop("widgets", None)
    path.write_text(nbformat.writes(nb) + "\n", encoding="utf-8", newline="\n")


def generate(course_root: Path, assignment: str, out_dir: Path) -> None:
    """Erzeugt die Ausgabe einer Übung mit nbgrader in ``out_dir`` (wird ersetzt)."""
    from nbgrader.apps import NbGraderAPI

    ensure_tools_on_path()
    with tempfile.TemporaryDirectory(prefix="sozialraum-build-") as tmp:
        tmp_root = Path(tmp)
        shutil.copytree(course_root / SOURCE / assignment, tmp_root / SOURCE / assignment,
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
        config = course_config(course_root)
        config.CourseDirectory.root = str(tmp_root)
        config.CourseDirectory.db_url = f"sqlite:///{tmp_root / 'gradebook.db'}"
        config.NbGraderAPI.log_level = logging.WARNING
        api = NbGraderAPI(config=config)
        result = api.generate_assignment(assignment, force=True, create=True)
        if not result["success"]:
            raise RuntimeError(f"nbgrader konnte die Übung {assignment!r} nicht erzeugen:\n{result['error']}\n"
                               f"{result.get('log', '')}")
        released = tmp_root / RELEASE / assignment
        for notebook in released.rglob("*.ipynb"):
            normalize_notebook(notebook)
        if out_dir.exists():
            shutil.rmtree(out_dir)
        shutil.copytree(released, out_dir)


def build(course_root: Path, names: list[str] | None = None, out_root: Path | None = None) -> list[str]:
    """Baut die genannten (sonst alle) Übungen nach ``out_root`` (Standard: exercises/); gibt die Namen zurück."""
    out_root = out_root or course_root / RELEASE
    if not names:  # alles bauen: Ausgaben ohne Quelle entfernen
        names = assignments(course_root)
        for stale in (p for p in out_root.glob("*") if p.is_dir() and p.name not in names):
            shutil.rmtree(stale)
    for name in names:
        if not (course_root / SOURCE / name).is_dir():
            raise FileNotFoundError(f"Übung {name!r} gibt es nicht in {SOURCE}/. "
                                    f"Tipp: vorhandene Übungen: {', '.join(assignments(course_root))}")
        generate(course_root, name, out_root / name)
    return names


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("assignments", nargs="*", metavar="UEBUNG", help="nur diese Übungen bauen (Standard: alle)")
    parser.add_argument("--kurs", type=Path, default=None, help="Kursordner (Standard: Wurzel des Repositorys)")


def run(args: argparse.Namespace) -> int:
    course_root = args.kurs or find_course_root()
    try:
        names = build(course_root, args.assignments or None)
    except (FileNotFoundError, RuntimeError) as error:
        print(f"Fehler: {error}")
        return 1
    for name in names:
        print(f"gebaut: {RELEASE}/{name}/")
    return 0
