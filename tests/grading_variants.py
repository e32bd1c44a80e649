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


# ---- feindliche Abgaben je Klasse aus Issue 12 (jeweils mit erwartetem Ergebnis in test_grade.py) ----

XSS = "xss-merkmal-4711"


def script_everywhere(release):
    """Klassen 1/2: HTML und Skripte in Markdown-Antwort, Ausgaben und Rohzelle; die Antworten stimmen."""
    notebook = answered(release, a1_loesung=(
        "from IPython.display import HTML, Javascript, display\n"
        f"display(HTML('<script>document.title=\"{XSS}\"</script><img src=x onerror=\"document.title=\\'{XSS}\\'\">'))\n"
        f"display(HTML('<iframe srcdoc=\"<script>parent.document.title=1</script>\"></iframe>'))\n"
        f"display(Javascript('document.title=\"{XSS}\"'))\n"
        "summe = 1 + 2 + 3"))
    cell(notebook, "a3_antwort")["source"] = (f"Ein Viertel. <img src=x onerror=\"document.title='{XSS}'\">"
                                             f"<script>document.title='{XSS}'</script>")
    notebook["cells"].append({"cell_type": "raw", "metadata": {"format": "text/html"}, "id": "roh",
                              "source": f"<script>document.title='{XSS}'</script>"})
    return dumps(notebook)


def socket_prober(release, socket_path: str):
    """Klasse 3: verbindet sich mit einem Unix-Socket des Rechners (Pfad und abstrakt); Antworten richtig."""
    code = f"""import socket
ergebnis = []
for adresse in [{socket_path!r}, '\\0' + {socket_path!r}]:
    try:
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(2)
        s.connect(adresse)
        s.sendall(b'echo eingedrungen\\n')
        ergebnis.append('offen')
    except OSError:
        ergebnis.append('zu')
print('SOCKET', ','.join(ergebnis))
summe = 6"""
    return dumps(answered(release, a1_loesung=code))


def shm_and_forks(release, marker: str):
    """Klasse 4: schreibt nach /dev/shm und /tmp, startet 700 Prozesse; Antworten richtig."""
    code = f"""import os, time
for ort in ['/dev/shm/{marker}', '/tmp/{marker}']:
    try:
        open(ort, 'w').write('bleibt?')
    except OSError:
        pass
kinder = 0
try:
    for _ in range(700):
        pid = os.fork()
        if pid == 0:
            time.sleep(2)
            os._exit(0)
        kinder += 1
except OSError:
    pass
print('KINDER', kinder)
summe = 6"""
    return dumps(answered(release, a1_loesung=code))


def gradebook_trigger(release):
    """Klasse 5: sucht jedes gradebook.db und setzt per Trigger alle Punkte auf voll; keine Antwort."""
    code = """import os, sqlite3
treffer = []
for start in ['/', os.path.expanduser('~')]:
    for ordner, unter, dateien in os.walk(start):
        unter[:] = [u for u in unter if u not in ('proc', 'sys', 'dev', 'usr', 'lib', '.venv', '.pyenv', 'versions')]
        for name in dateien:
            if name.endswith('.db'):
                pfad = os.path.join(ordner, name)
                try:
                    db = sqlite3.connect(pfad)
                    db.execute("CREATE TRIGGER voll AFTER UPDATE ON grade BEGIN "
                               "UPDATE grade SET auto_score = 99; END")
                    db.commit()
                    treffer.append(pfad)
                except Exception:
                    pass
print('GRADEBOOK', treffer)
raise NotImplementedError()"""
    notebook = answered(release, a1_loesung=code, a2_loesung="raise NotImplementedError()")
    return dumps(notebook)


def shadow_builtins(release):
    """Klasse 6a: isinstance/type im Notebook verdeckt, falsche Summe."""
    return dumps(answered(release, a1_loesung="isinstance = lambda *a: True\ntype = lambda x: int\nsumme = 5"))


def patch_builtins_module(release):
    """Klasse 6b: builtins.abs dauerhaft ersetzt, falsche Quote (der Test vergleicht mit abs(...) < 1e-9)."""
    return dumps(answered(release, a2_loesung="import builtins\nbuiltins.abs = lambda x: 0\n" + WRONG_QUOTE))


def patch_during_test(release):
    """Klasse 6c: erst während des Tests: quote() ersetzt abs und liefert Falsches."""
    code = ("def quote(zaehler, nenner):\n    import builtins\n    builtins.abs = lambda x: 0\n"
            "    return 1.5")
    return dumps(answered(release, a2_loesung=code))


def patch_math(release):
    """Klasse 6d: math.isclose und operator.eq ersetzt (immer beobachtete Module), sonst richtig."""
    code = ("import math, operator\nmath.isclose = lambda *a, **k: True\noperator.eq = lambda a, b: True\n"
            "summe = 1 + 2 + 3")
    return dumps(answered(release, a1_loesung=code))


def patch_data_load(release):
    """Klasse 6e: sozialraum.data.load ersetzt (das Notebook importiert sozialraum: beobachtet), sonst richtig."""
    code = "from sozialraum import data\ndata.load = lambda *a, **k: None\nsumme = 1 + 2 + 3"
    return dumps(answered(release, a1_loesung=code))


def swallow_failures(release):
    """Klasse 6e: IPython schluckt AssertionError, Testzellen werden zu ``pass``; falsche Antworten."""
    code = ("ip = get_ipython()\nip.set_custom_exc((AssertionError,), lambda *a, **k: None)\n"
            "ip.input_transformers_post.append(lambda lines: ['pass\\n'] if any('assert' in l for l in lines) "
            "else lines)\nsumme = 5")
    return dumps(answered(release, a1_loesung=code, a2_loesung=WRONG_QUOTE))


def hidden_test_thief(release, targets: list[str]):
    """Klasse 7: liest verborgene Tests aus Eingabehistorie, Dateien und dem Aufrufer und gibt sie aus;
    sucht Lösungen, Teilnehmendenliste und Kurs (absolute Pfade). Antworten richtig."""
    code = f"""import os, sys, linecache
gefunden = []
for start in ['/', *{targets!r}]:
    for ordner, unter, dateien in os.walk(start):
        unter[:] = [u for u in unter if u not in ('proc', 'sys', 'dev', 'usr', 'lib', '.venv', '.pyenv', 'versions')]
        for name in dateien:
            pfad = os.path.join(ordner, name)
            if name.endswith(('.ipynb', '.csv', '.db')) and 'site-packages' not in pfad:
                try:
                    inhalt = open(pfad, encoding='utf-8', errors='replace').read()
                    gefunden.append(pfad)
                    if 'summe =' + '= 6' in inhalt:  # so steht der gesuchte Text nicht im eigenen Code
                        print('GEHEIM', inhalt[:3000])
                except OSError:
                    pass
print('PFADE', gefunden[:30])
print('HISTORIE', [zeile for zeile in In if 'summe' in zeile])
def quote(zaehler, nenner):
    aufrufer = sys._getframe(1).f_code.co_filename
    text = ''.join(linecache.getlines(aufrufer))
    if 'quote(3,' + ' 8)' in text:
        raise AssertionError('GEHEIM ' + text)
    return 100.0 * zaehler / nenner"""
    return dumps(answered(release, a2_loesung=code))


def fill_disk(release):
    """Klasse 10: schreibt 400 MB ins Arbeitsverzeichnis und in den Sandbox-Ordner; Antworten richtig."""
    code = """import os
geschrieben = 0
for ziel in ['grosse_datei.bin', os.path.join(os.environ.get('HOME', '/tmp'), 'noch_eine.bin')]:
    try:
        with open(ziel, 'wb') as f:
            for _ in range(40):
                f.write(b'x' * 10_000_000)
                geschrieben += 10
    except OSError:
        pass
for ordner in os.listdir('/tmp'):
    pass
print('MB', geschrieben)
summe = 6"""
    return dumps(answered(release, a1_loesung=code))


def copied_test_above_answer(release):
    """Klasse 12: Testzelle samt Metadaten über die Antwort kopiert (JupyterLab), sonst richtig."""
    notebook = answered(release)
    test = copy.deepcopy(cell(notebook, "a2_test"))
    test["id"] = "kopie-a2"
    notebook["cells"].insert(notebook["cells"].index(cell(notebook, "a2_loesung")), test)
    return dumps(notebook)


def module_notebook(release):
    """Klasse 15: ein Modul-Notebook (keine Zelle der Übung) statt der Abgabe."""
    return dumps({"cells": [{"cell_type": "markdown", "metadata": {}, "id": "m1", "source": "# Modul 01"},
                            {"cell_type": "code", "metadata": {}, "id": "m2", "source": "x = 1",
                             "outputs": [], "execution_count": None}],
                  "metadata": release["metadata"], "nbformat": 4, "nbformat_minor": 5})


def lingerer(release):
    """Gegen die Vorlage der Kernel: zeigt, was der Kernel sieht (Prozesse, Capabilities, Kennung, Elternprozess,
    eigener Arbeitsordner, ob Python-Umgebung und Paket beschreibbar sind), und lässt einen abgelösten Prozess zurück, der 30 s lang alles Sichtbare beendet und fremde Arbeitsordner sucht;
    Antworten richtig."""
    code = """import os, signal, time
summe = 6
status = dict(z.split(':', 1) for z in open('/proc/self/status').read().splitlines() if ':' in z)
prozesse = [int(p) for p in os.listdir('/proc') if p.isdigit()]
print('PROZESSE', len(prozesse), 'ICH', os.getpid(), 'ELTERN', os.getppid(), 'UID', os.getuid(),
      'CAP', status['CapEff'].strip() + status['CapPrm'].strip(), 'NNP', status['NoNewPrivs'].strip())
import sys
arbeit = os.path.dirname(sys.argv[sys.argv.index('-f') + 1])  # Arbeitsordner mit der Verbindungsdatei
print('ORDNER', os.path.basename(arbeit), os.listdir(os.path.dirname(arbeit)))
schreibbar = []
for ort in [sys.prefix, os.path.dirname(os.path.dirname(__import__('sozialraum').__file__))]:
    try:
        open(os.path.join(ort, 'eingedrungen'), 'w').close()
        schreibbar.append(ort)
    except OSError:
        pass
print('SCHREIBBAR', schreibbar)
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        time.sleep(1)
        ende = time.time() + 30
        while time.time() < ende:
            try:
                os.kill(-1, signal.SIGKILL)
            except OSError:
                pass
            for ordner, _, dateien in os.walk('/tmp'):
                for name in dateien:
                    try:
                        open(os.path.join(ordner, name), 'a').write('kaputt')
                    except OSError:
                        pass
            time.sleep(0.05)
    os._exit(0)"""
    return dumps(answered(release, a1_loesung=code))
