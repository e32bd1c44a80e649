"""Abgaben für die Bewertungstests: die Übung ``mini`` aus tests/fixtures/grading, freundlich und feindlich.

Jede Variante ist eine Funktion ``(release_cells) -> Text der .ipynb-Datei`` und ein erwartetes Ergebnis.
"""
import copy
import json
import shutil
import subprocess
import sys
from pathlib import Path

FIXTURE_COURSE = Path(__file__).parent / "fixtures" / "grading" / "kurs"
ASSIGNMENT = "mini"
ANSWERS = {
    "a1_loesung": "summe = 1 + 2 + 3",
    "a2_loesung": "def quote(zaehler, nenner):\n    return 100.0 * zaehler / nenner",
    "a3_antwort": "Ein Viertel der Bezugsgruppe ist betroffen.",
}
WRONG_QUOTE = "def quote(zaehler, nenner):\n    return float(zaehler / nenner)"


def make_course(target: Path) -> Path:
    """Kopiert den Fixture-Kurs nach ``target`` und erzeugt exercises/ mit nbgrader (wie der Kurs)."""
    shutil.copytree(FIXTURE_COURSE, target)
    env_path = f"{Path(sys.executable).parent}:/usr/bin:/bin"
    subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", ASSIGNMENT, "--force"],
                   cwd=target, check=True, capture_output=True, env={"PATH": env_path, "HOME": str(target)})
    (target / "gradebook.db").unlink()  # der Kurs beginnt ohne Gradebook, wie nach einem frischen Klonen
    return target


def release_notebook(course: Path) -> dict:
    return json.loads((course / "exercises" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_text(encoding="utf-8"))


def cell(notebook: dict, grade_id: str) -> dict:
    return next(c for c in notebook["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") == grade_id)


def answered(release: dict, **overrides: str) -> dict:
    """Release mit den richtigen Antworten, einzelne Zellen durch ``overrides`` ersetzt."""
    notebook = copy.deepcopy(release)
    for grade_id, source in {**ANSWERS, **overrides}.items():
        cell(notebook, grade_id)["source"] = source
    return notebook


def dumps(notebook: dict) -> str:
    return json.dumps(notebook, ensure_ascii=False, indent=1)


def untouched(release):
    return dumps(release)


def correct(release):
    return dumps(answered(release))


def partly_correct(release):
    return dumps(answered(release, a2_loesung=WRONG_QUOTE))


def tampered_test(release):
    notebook = answered(release, a1_loesung="summe = 5")
    cell(notebook, "a1_test")["source"] = "pass  # Test ausgehebelt"
    return dumps(notebook)


def deleted_test(release):
    notebook = answered(release, a2_loesung=WRONG_QUOTE)
    notebook["cells"].remove(cell(notebook, "a2_test"))
    return dumps(notebook)


def reordered(release):
    notebook = answered(release)
    task2 = [cell(notebook, gid) for gid in ("a2_text", "a2_loesung", "a2_test")]
    rest = [c for c in notebook["cells"] if c not in task2]
    notebook["cells"] = task2 + rest
    return dumps(notebook)


def changed_cell_type(release):
    notebook = answered(release, a1_loesung="summe = 5")
    test = cell(notebook, "a1_test")
    test["cell_type"] = "markdown"
    test.pop("outputs", None)
    test.pop("execution_count", None)
    return dumps(notebook)


def infinite_loop(release):
    loop = ("summe = 6\nwhile True:\n    try:\n        while True:\n            pass\n"
            "    except KeyboardInterrupt:\n        pass")
    return dumps(answered(release, a1_loesung=loop))


def kernel_crash(release):
    return dumps(answered(release, a1_loesung="import os\nos._exit(1)"))


def memory_hog(release):
    hog = "summe = 6\nberg = []\nwhile True:\n    berg.append(bytearray(50 * 1024 * 1024))"
    return dumps(answered(release, a1_loesung=hog))


def always_equal(release):
    impostor = ("class Immer(int):\n    def __eq__(self, other):\n        return True\n    __hash__ = int.__hash__\n\n"
                "class Alles:\n    def __eq__(self, other):\n        return True\n\n"
                "summe = Immer(0)")
    return dumps(answered(release, a1_loesung=impostor))


def stderr_warning(release):
    warning = ("import sys, warnings\n\ndef quote(zaehler, nenner):\n"
               "    warnings.warn('Achtung: kleine Fallzahlen')\n"
               "    print('Hinweis: Daten vorläufig', file=sys.stderr)\n"
               "    return 100.0 * zaehler / nenner")
    return dumps(answered(release, a2_loesung=warning))


def invalid_json(release):
    return '{"cells": [ {"cell_type": "code", '


def empty_file(release):
    return ""


def huge_output(release):
    return dumps(answered(release, a1_loesung="summe = 6\nprint('x' * 30_000_000)\nfor i in range(5000):\n"
                                              "    print(i)"))


def snooper(release, targets: list[str]) -> str:
    """Sucht fremde Abgaben, Sandboxen und Gradebooks (auch über absolute Pfade) und versucht, sie zu ändern.

    Gibt aus: ``PFAD <pfad>`` je gefundener und lesbarer fremder Datei (höchstens 50), ``GEAENDERT [...]``,
    ``NETZ offen|zu`` und ``ORT <arbeitsverzeichnis>``.
    """
    code = f"""import os, socket
summe = 6
ziele = {targets!r}
eigene = os.path.dirname(os.path.dirname(os.path.dirname(os.getcwd())))  # die eigene Sandbox
gefunden = []
for start in [os.getcwd(), os.path.expanduser('~'), '/tmp', *ziele]:
    gesehen = 0
    for ordner, _, dateien in os.walk(start):
        gesehen += len(dateien)
        if gesehen > 20000:
            break
        for name in dateien:
            pfad = os.path.join(ordner, name)
            fremd = any(pfad.startswith(z) for z in ziele) or '/abgabe-' in pfad or name == 'gradebook.db'
            if fremd and not pfad.startswith(eigene) and name.endswith(('.ipynb', '.db', '.csv', '.json')):
                try:
                    with open(pfad, 'rb') as f:
                        f.read(10)
                    gefunden.append(pfad)
                except OSError:
                    pass
geaendert = []
for ziel in ziele:
    for ordner, _, dateien in os.walk(ziel):
        for name in dateien:
            try:
                with open(os.path.join(ordner, name), 'ab') as f:
                    f.write(b'kaputt')
                geaendert.append(name)
            except OSError:
                pass
try:
    socket.create_connection(('1.1.1.1', 53), timeout=2)
    netz = 'offen'
except OSError:
    netz = 'zu'
for pfad in sorted(set(gefunden))[:50]:
    print('PFAD', pfad)
print('GEAENDERT', geaendert[:20])
print('NETZ', netz)
print('ORT', os.getcwd())"""
    return dumps(answered(release, a1_loesung=code))
