"""Benchmark: eine Kursgruppe synthetischer Abgaben einer Übung bewerten – mit dem Kit und mit nbgrader allein.

    .venv/bin/python benchmarks/grading.py [--aufgabe 00_start] [--anzahl 20] [--parallel 2]

Beide laufen im selben Aufruf auf denselben Dateien, jeweils in einer frischen Kopie des Kurses:
(1) das Kit: ``sozialraum.course grade`` (nbgrader's Schritte in einem Prozess je Kern, Kernel in bubblewrap,
Wächter, Gradebook, Rückmeldungen, Tabellen); (2) ``nbgrader autograde AUFGABE`` mit nbgrader's Standardschritten
(ohne Sandbox), nacheinander, wie nbgrader es von sich aus tut.
Die Abgaben: abwechselnd Lösung (volle Punkte), unbearbeitete Übung (0) und Lösung mit einer leeren Antwort.
Am Ende: Zeiten, Zeit je Abgabe, Verhältnis, und ob beide Wege dieselben Punkte vergeben.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def course_copy(target: Path, assignment: str) -> Path:
    target.mkdir(parents=True)
    shutil.copy(ROOT / "nbgrader_config.py", target / "nbgrader_config.py")
    for folder in ("solutions", "exercises"):
        shutil.copytree(ROOT / folder / assignment, target / folder / assignment)
    (target / "datasets").symlink_to(ROOT / "datasets")
    return target


def synthetic_submissions(assignment: str, count: int, folder: Path) -> dict[str, Path]:
    solution = json.loads((ROOT / "solutions" / assignment / f"{assignment}.ipynb").read_text(encoding="utf-8"))
    release = json.loads((ROOT / "exercises" / assignment / f"{assignment}.ipynb").read_text(encoding="utf-8"))
    folder.mkdir(parents=True)
    files = {}
    for index in range(count):
        if index % 3 == 1:
            notebook = release
        else:
            notebook = json.loads(json.dumps(release))
            answers = [c for c in solution["cells"] if c["metadata"].get("nbgrader", {}).get("solution")]
            for number, cell in enumerate(answers):
                if index % 3 == 2 and number == 0:
                    continue  # eine Antwort bleibt leer
                grade_id = cell["metadata"]["nbgrader"]["grade_id"]
                target = next(c for c in notebook["cells"]
                              if c["metadata"].get("nbgrader", {}).get("grade_id") == grade_id)
                target["source"] = "".join(cell["source"]).replace("### BEGIN SOLUTION\n", "").replace(
                    "### END SOLUTION", "")
        name = f"Person{index:02d}_Test_{assignment}.ipynb"
        (folder / name).write_text(json.dumps(notebook, ensure_ascii=False), encoding="utf-8")
        files[f"person{index:02d}_test"] = folder / name
    return files


PLAIN = """
# Benchmark: nbgrader ohne die Schritte des Kits (kein Sandbox-Kernel, kein Wächter)
from nbgrader.converters import Autograde as _Autograde
c.Autograde.sanitize_preprocessors = _Autograde.class_traits()["sanitize_preprocessors"].default()
c.Autograde.autograde_preprocessors = _Autograde.class_traits()["autograde_preprocessors"].default()
"""


def plain_nbgrader(course: Path, assignment: str, files: dict[str, Path]) -> tuple[float, dict[str, float]]:
    with open(course / "nbgrader_config.py", "a", encoding="utf-8") as config:
        config.write(PLAIN)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "SOZIALRAUM_DATEN": str(ROOT / "datasets")}
    subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", assignment, "--force",
                    f"--CourseDirectory.release_directory={course / 'release'}"],
                   cwd=course, env=env, check=True, capture_output=True)
    for student, path in files.items():
        folder = course / "submitted" / student / assignment
        folder.mkdir(parents=True)
        shutil.copy(path, folder / f"{assignment}.ipynb")
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "nbgrader", "autograde", assignment], cwd=course, env=env, check=True,
                   capture_output=True)
    seconds = time.perf_counter() - start
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        totals = {s: gradebook.find_submission(assignment, s).code_score for s in files}
    return seconds, totals


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--aufgabe", default="00_start")
    parser.add_argument("--anzahl", type=int, default=20)
    parser.add_argument("--parallel", type=int, default=2)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "src"))
    from sozialraum.course.grade import grade_cohort

    with tempfile.TemporaryDirectory(prefix="benchmark-bewertung-") as tmp:
        base = Path(tmp)
        files = synthetic_submissions(args.aufgabe, args.anzahl, base / "abgaben")

        kit_course = course_copy(base / "kit", args.aufgabe)
        start = time.perf_counter()
        outcome = grade_cohort(kit_course, args.aufgabe, base / "abgaben", workers=args.parallel, progress=False)
        kit_seconds = time.perf_counter() - start
        kit_totals = {row["id"]: row["summe"] for row in outcome.rows}

        plain_seconds, plain_totals = plain_nbgrader(course_copy(base / "nbgrader", args.aufgabe), args.aufgabe,
                                                     files)

    n = args.anzahl
    print(f"Übung {args.aufgabe}, {n} synthetische Abgaben, {os.cpu_count()} Kerne")
    print(f"Kit (grade, {args.parallel} parallel, abgeschottet, inkl. Import/Rückmeldung/Tabellen): "
          f"{kit_seconds:6.1f} s  = {kit_seconds / n:5.2f} s je Abgabe")
    print(f"nbgrader autograde (nacheinander, ohne Sandbox):                         "
          f"{plain_seconds:6.1f} s  = {plain_seconds / n:5.2f} s je Abgabe")
    print(f"Verhältnis nbgrader / Kit: {plain_seconds / kit_seconds:.2f}")
    different = {s: (kit_totals[s], plain_totals[s] or 0.0) for s in files
                 if abs(kit_totals[s] - (plain_totals[s] or 0.0)) > 1e-9}
    same = not different
    print(f"gleiche automatische Punkte auf beiden Wegen: {'ja' if same else 'NEIN'}")
    for student, (kit, plain) in different.items():
        print(f"  {student}: Kit {kit:g}, nbgrader {plain:g}")
    print(outcome.isolation)
    print("Last des Rechners (1, 5, 15 min): " + ", ".join(f"{x:.1f}" for x in os.getloadavg()))
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
