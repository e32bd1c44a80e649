"""Bewertung einer Kursgruppe (``python -m sozialraum.course grade``) mit feindlichen Abgaben (Issue 12).

Ein einziger Lauf bewertet alle Abgaben gemeinsam (parallel): die üblichen Fälle und je Klasse aus Issue 12
eigene Angriffe. Jede Abgabe hat ihr erwartetes Ergebnis, und die gutartigen bekommen genau die Punkte, die sie
allein bekämen. Danach ein zweiter Lauf über die Kommandozeile (als ZIP-Datei): nur die geänderte Abgabe wird neu
bewertet, Handbewertungen bleiben. Eigene Tests für Sperre, Strg+C/SIGKILL, Hub-Ordner, Teilnehmendenlisten und
Eingaben, wie Lehrende sie bekommen.
"""
import csv
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import unicodedata
import zipfile
from pathlib import Path

import pytest
from openpyxl import load_workbook

import grading_variants as gv
from sozialraum.course import report, sandbox
from sozialraum.course.__main__ import main
from sozialraum.course.grade import BLANK_FLAG, PENDING, TAMPERED_FLAG, course_lock, grade_cohort
from sozialraum.course.submissions import InputError, collect, read_roster

ROSTER = """id;nachname;vorname;email
alt;Alt;Anna;anna.alt@example.org
berg;Berg;Bernd;
cem;Cem;Can;
dieb;Dieb;Dana;
dorn;Dorn;Dora;
ernst;Ernst;Emil;
falk;Falk;Fiona;
falsch;Falsch;Franz;
formel;Formel;Fritz;
gold;Gold;Gustav;
haas;Haas;Hanna;
illes;Illés;Ivo;
jung;Jung;Jana;
kopie;Kopie;Karla;
kurz;Kurz;Karl;
lang;Lang;Lea;
mai;Mai;Mia;
mueller;Müller;Jürgen;
noll;Noll;Nina;
otto;Otto;Olga;
pohl;Pohl;Paul;
quast;Quast;Quirin;
roth;Roth;Rosa;
schulz;Schulz;Sina;
sommer;Sommer;Sven;
tigges;Tigges;Tom;
voll;Voll;Viktor;
vogt;Vogt;Vera;
weber;Weber;Willi;
wolf;Wolf;Wanda;
xander;Xander;Xaver;
yilmaz;Yılmaz;Yusuf;
zander;Zander;Zoë;
zorn;Zorn;Zeno;
"""
# Spalten der Notentabelle: die Namen der Aufgaben aus dem Notebook
A1 = "Aufgabe 1: Speichern Sie die Summe von 1, 2 und 3 als int in summe."
A2 = "Aufgabe 2: Schreiben Sie quote(zaehler, nenner), die den Anteil in …"
A3 = "Aufgabe 3: Was bedeutet eine Quote von 25 %? Antworten Sie in einem … (von Hand)"
NFD = lambda text: unicodedata.normalize("NFD", text)  # noqa: E731 - Namen aus macOS-ZIP-Dateien
SHM_MARKER = f"sozialraum-test-{os.getpid()}"

# Datei -> (Variante, Klasse aus Issue 12, erwartete Punkte a1/a2, Hinweise, die vorkommen müssen)
CASES = {
    "Alt_Anna_mini.ipynb": ("untouched", "-", (0, 0), [BLANK_FLAG]),
    "Berg_Bernd_mini.ipynb": ("correct", "-", (1, 2), []),
    "Cem_Can_mini.ipynb": ("partly_correct", "-", (1, 0), []),
    "Dorn_Dora_mini.ipynb": ("tampered_test", "-", (0, 2), ["Testzellen verändert"]),
    "Ernst_Emil_mini.ipynb": ("deleted_test", "-", (1, 0), ["Testzellen gelöscht"]),
    "Falk_Fiona_mini.ipynb": ("reordered", "-", (1, 2), []),
    "Gold_Gustav_mini.ipynb": ("changed_cell_type", "-", (0, 2), ["Testzellen verändert"]),
    "Haas_Hanna_mini.ipynb": ("infinite_loop", "-", (0, 0), ["Zeitüberschreitung"]),
    NFD("Illés_Ivo_mini.ipynb"): ("kernel_crash", "13", (0, 0), ["Absturz"]),
    "Jung_Jana_mini.ipynb": ("memory_hog", "-", (1, 2), ["Speicherlimit"]),
    "Kurz_Karl_mini.ipynb": ("always_equal", "-", (0, 2), []),
    "Lang_Lea_mini.ipynb": ("stderr_warning", "-", (1, 2), []),
    "Mai_Mia_mini.ipynb": ("invalid_json", "-", (0, 0), ["ungültige Datei"]),
    "Noll_Nina_mini.ipynb": ("empty_file", "-", (0, 0), ["ungültige Datei"]),
    "Unbekannt_Udo_mini.ipynb": ("correct", "-", (1, 2), ["unbekannt"]),
    "abgabe_final.ipynb": ("correct", "-", (1, 2), ["Dateiname unerwartet", "unbekannt"]),
    "Otto_Olga_mini.ipynb": ("untouched", "13", None, None),  # ältere Abgabe: wird von der neueren ersetzt
    "Otto_Olga_mini (1).ipynb": ("correct", "13", (1, 2), ["doppelte Abgabe"]),
    "Pohl_Paul_mini.ipynb": ("snooper", "7", (1, 2), []),
    "Quast_Quirin_mini.ipynb": ("huge_output", "10", (1, 2), []),
    "Roth_Rosa_mini.ipynb": ("untouched", "13", None, None),
    "Roth_Rosa_mini-Copy1.ipynb": ("correct", "13", (1, 2), ["doppelte Abgabe"]),
    NFD("Müller_Jürgen_mini.ipynb"): ("correct", "13", (1, 2), []),
    "Xander_Xaver_mini.ipynb": ("script_everywhere", "1/2", (1, 2), []),
    "Sommer_Sven_mini.ipynb": ("socket_prober", "3", (1, 2), []),
    "Schulz_Sina_mini.ipynb": ("shm_and_forks", "4", (1, 2), []),
    "Tigges_Tom_mini.ipynb": ("gradebook_trigger", "5", (0, 0), []),
    "Vogt_Vera_mini.ipynb": ("shadow_builtins", "6", (0, 0), [TAMPERED_FLAG]),
    "Weber_Willi_mini.ipynb": ("patch_builtins_module", "6", (1, 0), [TAMPERED_FLAG]),
    "Wolf_Wanda_mini.ipynb": ("patch_during_test", "6", (1, 0), [TAMPERED_FLAG]),
    "Yilmaz_Yusuf_mini.ipynb": ("patch_math", "6", (0, 0), [TAMPERED_FLAG]),
    "Zorn_Zeno_mini.ipynb": ("swallow_failures", "6", (0, 0), [TAMPERED_FLAG]),
    "Dieb_Dana_mini.ipynb": ("hidden_test_thief", "7", (1, 0), []),
    "Voll_Viktor_mini.ipynb": ("fill_disk", "10", (1, 2), []),
    "Falsch_Franz_mini.ipynb": ("module_notebook", "10/15", (0, 0), ["ungültige Datei"]),
    "Kopie_Karla_mini.ipynb": ("copied_test_above_answer", "12", (1, 2), []),
    "=Formel_Fritz_mini.ipynb": ("correct", "15", (1, 2), []),
}
IDS = {"Unbekannt_Udo_mini.ipynb": "unbekannt_udo", "abgabe_final.ipynb": "abgabe_final",
       "Otto_Olga_mini (1).ipynb": "otto", NFD("Illés_Ivo_mini.ipynb"): "illes", "Roth_Rosa_mini-Copy1.ipynb": "roth",
       NFD("Müller_Jürgen_mini.ipynb"): "mueller", "=Formel_Fritz_mini.ipynb": "formel"}
BENIGN = ["berg", "falk", "lang", "otto", "pohl", "quast", "roth", "mueller", "xander", "sommer", "schulz", "voll",
          "kopie", "formel", "unbekannt_udo", "abgabe_final"]


def participant_id(filename: str) -> str:
    return IDS.get(filename, filename.split("_")[0].lower())


def digest(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


class HostSocket:
    """Ein Unix-Socket des Rechners (wie der eines tmux-Servers), der jede Verbindung zählt."""

    def __init__(self, path: Path):
        self.path, self.connections = path, 0
        self.server = socket.socket(socket.AF_UNIX)
        self.server.bind(str(path))
        self.abstract = socket.socket(socket.AF_UNIX)
        self.abstract.bind("\0" + str(path))
        for server in (self.server, self.abstract):
            server.listen(5)
            server.settimeout(0.2)
        self.running = True
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while self.running:
            for server in (self.server, self.abstract):
                try:
                    server.accept()[0].close()
                    self.connections += 1
                except OSError:
                    pass

    def close(self):
        self.running = False
        self.thread.join(2)
        self.server.close()
        self.abstract.close()


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    base = tmp_path_factory.mktemp("gruppe")
    course = gv.make_course(base / "kurs")
    release = gv.release_notebook(course)
    inbox = base / "eingang"
    inbox.mkdir()
    roster = course / "teilnehmende.csv"  # wie im Handbuch: die Liste liegt im Kursordner
    roster.write_text(ROSTER.replace("Yılmaz", "Yilmaz"), encoding="cp1252")  # so speichert Excel unter Windows
    host_socket = HostSocket(base / "tmux-0")
    for name, (variant, _, _, _) in CASES.items():
        if variant == "snooper":
            text = gv.snooper(release, [str(course), str(inbox)])
        elif variant == "socket_prober":
            text = gv.socket_prober(release, str(host_socket.path))
        elif variant == "shm_and_forks":
            text = gv.shm_and_forks(release, SHM_MARKER)
        elif variant == "hidden_test_thief":
            text = gv.hidden_test_thief(release, [str(course), str(inbox), str(roster)])
        else:
            text = getattr(gv, variant)(release)
        (inbox / name).write_text(text, encoding="utf-8")
    hour_ago = time.time() - 3600
    for older in ("Otto_Olga_mini.ipynb", "Roth_Rosa_mini.ipynb"):
        os.utime(inbox / older, (hour_ago, hour_ago))
    before = digest(inbox)
    limits = sandbox.Limits(cell_timeout=15, notebook_timeout=45, memory_mb=1000)
    try:
        outcome = grade_cohort(course, gv.ASSIGNMENT, inbox, roster_path=roster, workers=2, limits=limits,
                               progress=False)
    finally:
        host_socket.close()
    rows = {row["id"]: row for row in read_table(outcome.csv_path)}
    return {"course": course, "inbox": inbox, "roster": roster, "outcome": outcome, "rows": rows,
            "before": before, "release": release, "socket": host_socket}


def read_table(path):
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), "CSV für Excel braucht ein BOM"
    return list(csv.DictReader(raw.decode("utf-8-sig").splitlines(), delimiter=";"))


def autograded_outputs(course, pid, only_answers=False):
    notebook = json.loads((course / "autograded" / pid / "mini" / "mini.ipynb").read_text(encoding="utf-8"))
    texts = []
    for c in notebook["cells"]:
        nbgrader = c["metadata"].get("nbgrader", {})
        if only_answers and nbgrader.get("grade") and not nbgrader.get("solution"):
            continue
        for output in c.get("outputs", []):
            texts.append("".join(output.get("text", "")) + output.get("evalue", "")
                         + json.dumps(output.get("data", {})))
    return "\n".join(texts)


def active_html(page: str) -> list[tuple[str, list, str]]:
    """(Tag, Attribute, Inhalt bei script) aller echten Tags einer Seite (escapter Text zählt nicht)."""
    from html.parser import HTMLParser

    found = []

    class Parser(HTMLParser):
        def handle_starttag(self, tag, attrs):
            found.append([tag, attrs, ""])

        def handle_data(self, data):
            if found and found[-1][0] == "script":
                found[-1][2] += data

    Parser().feed(page)
    return [tuple(t) for t in found]


def feedback(course, pid):
    return (course / "feedback" / pid / "mini" / "mini.html").read_text(encoding="utf-8")


@pytest.mark.parametrize("filename", [name for name, case in CASES.items() if case[2] is not None])
def test_each_submission_gets_its_expected_outcome(cohort, filename):
    _, _, (a1, a2), flags = CASES[filename]
    row = cohort["rows"][participant_id(filename)]
    assert (row[A1], row[A2]) == (str(a1), str(a2)), row
    assert row["summe"] == str(a1 + a2)
    for flag in flags:
        assert flag in row["hinweise"], row
    if not flags:
        assert row["hinweise"] in ("", PENDING), row


def test_nothing_is_lost_and_originals_are_unchanged(cohort):
    rows, course = cohort["rows"], cohort["course"]
    assert digest(cohort["inbox"]) == cohort["before"]
    expected_ids = {participant_id(name) for name, case in CASES.items() if case[2] is not None} | {"zander"}
    assert set(rows) == expected_ids  # keine Phantome wie "copy1" oder "unbekannt" für NFD-Namen
    assert rows["zander"]["hinweise"] == "fehlt" and rows["zander"]["vorname"] == "Zoë"
    assert rows["illes"]["nachname"] == "Illés" and rows["mueller"]["vorname"] == "Jürgen"
    assert rows["otto"]["datei"] == "Otto_Olga_mini (1).ipynb"
    assert rows["roth"]["datei"] == "Roth_Rosa_mini-Copy1.ipynb"
    for pid in expected_ids - {"zander", "mai", "noll", "falsch"}:
        assert (course / "autograded" / pid / "mini" / "mini.ipynb").exists(), pid
    assert not (course / "submitted").exists()  # bewertet wurde eine temporäre Kopie
    listing = (course / "bewertung" / "mini" / "dateien.csv").read_text(encoding="utf-8-sig")
    assert "Otto_Olga_mini.ipynb;nicht bewertet: ältere Abgabe von otto" in listing
    assert not list(Path(os.environ.get("TMPDIR", "/tmp")).glob(f"sozialraum-*-{os.getpid()}-*"))


def test_others_are_unaffected_by_hostile_neighbours(cohort):
    """Die gutartigen Abgaben haben exakt die Punkte, die sie allein bekommen (siehe test_autograde)."""
    rows = cohort["rows"]
    for pid in BENIGN:
        assert (rows[pid][A1], rows[pid][A2], rows[pid]["summe"]) == ("1", "2", "3"), rows[pid]
        assert TAMPERED_FLAG not in rows[pid]["hinweise"], rows[pid]
    assert rows["alt"]["summe"] == "0"


def test_class_1_2_no_script_survives_in_formgrader_notebook_or_feedback(cohort):
    course = cohort["course"]
    stored = json.loads((course / "autograded" / "xander" / "mini" / "mini.ipynb").read_text(encoding="utf-8"))
    shown = json.dumps([c["source"] for c in stored["cells"] if c["cell_type"] != "code"]
                       + [c.get("outputs", []) for c in stored["cells"]])  # Code selbst erscheint nur als Text
    assert "Ein Viertel" in shown
    assert "onerror" not in shown and "<script" not in shown and "srcdoc" not in shown
    assert "application/javascript" not in shown
    page = feedback(course, "xander")
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    tags = active_html(page)
    assert not [t for t in tags if t[0] in ("iframe", "object", "embed")], tags
    assert not [t for t in tags if any(name.startswith("on") or name == "srcdoc" for name, _ in t[1])], tags
    assert gv.XSS not in "".join(t[2] for t in tags if t[0] == "script")


def test_class_3_no_host_socket_reachable(cohort):
    assert "SOCKET zu,zu" in autograded_outputs(cohort["course"], "sommer")
    assert cohort["socket"].connections == 0


def test_class_4_private_shm_and_process_limit(cohort):
    text = autograded_outputs(cohort["course"], "schulz")
    children = int(text.split("KINDER ")[1].split()[0])
    assert 0 < children < sandbox.Limits().processes
    assert not Path("/dev/shm", SHM_MARKER).exists() and not Path("/tmp", SHM_MARKER).exists()


def test_class_5_gradebook_out_of_reach(cohort):
    assert "GRADEBOOK []" in autograded_outputs(cohort["course"], "tigges")
    assert cohort["rows"]["tigges"]["summe"] == "0"


def test_class_7_hidden_tests_solutions_and_roster_stay_secret(cohort):
    course = cohort["course"]
    said = autograded_outputs(course, "dieb", only_answers=True)
    assert "summe == 6" not in said and "quote(3, 8)" not in said
    paths = said.split("PFADE ")[1].split("\n")[0]
    for secret in (str(course), str(cohort["inbox"]), "solutions", "teilnehmende", "gradebook"):
        assert secret not in paths, paths
    for pid in ("dieb", "pohl", "berg", "dorn", "ernst"):
        page = feedback(course, pid)
        assert "summe == 6" not in page and "37.5" not in page and "quote(3, 8)" not in page
        assert "HIDDEN" not in page and "anna.alt@example.org" not in page
    assert "Ergebnis: 3 von 4 Punkten" in feedback(course, "berg") and "Score" not in feedback(course, "berg")


def test_class_10_wrong_file_and_full_disk_are_isolated(cohort):
    row = cohort["rows"]["falsch"]
    assert "ungültige Datei" in row["hinweise"]
    page = feedback(cohort["course"], "falsch")
    assert "falsche Datei" in page and "Hallo Franz Falsch," in page
    assert "MB " in autograded_outputs(cohort["course"], "voll")


def test_feedback_notes_changed_tests_and_invalid_files(cohort):
    course = cohort["course"]
    assert "Testzellen wurden verändert" in feedback(course, "dorn")
    assert "Testumgebung wurde verändert" in feedback(course, "vogt")
    invalid = feedback(course, "mai")
    assert "kein gültiges Notebook" in invalid and "Hallo Mia Mai," in invalid


def test_manual_answers_wait_for_the_formgrader_and_blank_ones_are_named(cohort):
    rows = cohort["rows"]
    assert rows["berg"][A3] == PENDING and rows["berg"]["hinweise"] == PENDING
    assert PENDING not in rows["mai"]["hinweise"]  # ungültig: nichts im Formgrader
    assert rows["alt"][A3] == "0" and rows["alt"]["hinweise"] == BLANK_FLAG  # nbgrader's automatische 0
    assert rows["zander"][A1] == "" and rows["zander"]["summe"] == "0"  # fehlt: keine Punkte, keine Nullen


def test_huge_output_is_limited(cohort):
    autograded = cohort["course"] / "autograded" / "quast" / "mini" / "mini.ipynb"
    assert autograded.stat().st_size < 500_000


def test_xlsx_matches_csv_and_holds_no_formula(cohort):
    sheet = load_workbook(cohort["outcome"].xlsx_path).active
    header = [cell.value for cell in sheet[1]]
    assert header[:4] == ["id", "nachname", "vorname", "email"]
    assert header[4:7] == [A1, A2, A3] and header[7:] == ["abzug", "summe", "max", "hinweise", "datei"]
    rows = {row[0].value: row for row in sheet.iter_rows(min_row=2)}
    assert rows["berg"][header.index("summe")].value == 3.0 and rows["berg"][header.index("max")].value == 4.0
    datei = rows["formel"][header.index("datei")]
    assert datei.value == "=Formel_Fritz_mini.ipynb" and datei.data_type == "s"
    assert cohort["rows"]["formel"]["datei"] == "'=Formel_Fritz_mini.ipynb"


def test_rerun_regrades_only_changes_and_keeps_manual_grades(cohort, capsys):
    from nbgrader.api import Gradebook

    course, inbox = cohort["course"], cohort["inbox"]
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:  # wie im Formgrader
        grade = gradebook.find_grade("a3_antwort", "mini", "mini", "berg")
        grade.manual_score = 1.0
        grade.needs_manual_grade = False
        gradebook.db.commit()
    (inbox / "Cem_Can_mini.ipynb").write_text(gv.correct(cohort["release"]), encoding="utf-8")
    archive = inbox.parent / "abgaben.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for path in sorted(inbox.iterdir()):
            if path.name not in ("Haas_Hanna_mini.ipynb",):
                zipped.write(path, f"Abgaben Kurs/{path.name}")
        zipped.writestr("Abgaben Kurs/Anleitung.pdf", b"%PDF-1.4")
    before = dict(cohort["rows"])

    code = main(["grade", "mini", str(archive), "--teilnehmende", str(cohort["roster"]), "--kurs", str(course),
                 "--zeit-zelle", "15", "--zeit-notebook", "45", "--speicher", "1000"])
    printed = capsys.readouterr().out
    assert code == 0
    assert "neu bewertet: 1, unverändert übernommen: " in printed
    assert "Anleitung.pdf: keine Notebook-Datei" in printed
    rows = {row["id"]: row for row in read_table(course / "bewertung" / "mini" / "noten.csv")}
    assert rows["cem"]["summe"] == "3"
    assert rows["berg"][A3] == "1" and rows["berg"]["summe"] == "4"
    assert rows["berg"]["hinweise"] == ""
    assert rows["haas"] == before["haas"]  # nicht mehr in der Eingabe: die Zeile bleibt
    for pid in set(before) - {"cem", "berg"}:
        assert rows[pid] == before[pid], pid


def test_class_9_second_run_is_refused_while_one_runs(tmp_path):
    course = gv.make_course(tmp_path / "kurs")
    with course_lock(course):
        with pytest.raises(InputError, match="läuft gerade schon eine Bewertung"):
            grade_cohort(course, "mini", tmp_path, progress=False)


def test_class_8_14_exchange_layout_renamed_notebook_and_names_kept(tmp_path):
    course = gv.make_course(tmp_path / "kurs")
    release = gv.release_notebook(course)
    folder = course / "submitted" / "lea" / "mini"
    folder.mkdir(parents=True)
    (folder / "mini (Lea).ipynb").write_text(gv.partly_correct(release), encoding="utf-8")  # umbenannt
    (folder / "timestamp.txt").write_text("2026-03-01 10:00:00.000000 UTC", encoding="utf-8")
    original = digest(folder)
    roster = tmp_path / "liste.csv"
    roster.write_text("id;nachname;vorname;email\nlea;Lang;Lea;lea@example.org\n", encoding="utf-8")
    limits = sandbox.Limits(cell_timeout=10, notebook_timeout=60, memory_mb=1000)
    grade_cohort(course, "mini", None, roster_path=roster, workers=1, limits=limits, progress=False)
    outcome = grade_cohort(course, "mini", None, workers=1, limits=limits, progress=False)  # ohne Liste
    rows = read_table(outcome.csv_path)
    assert [(r["id"], r["nachname"], r["email"], r["summe"], r["hinweise"]) for r in rows] == [
        ("lea", "Lang", "lea@example.org", "1", PENDING)]
    assert digest(folder) == original
    assert (course / "feedback" / "lea" / "mini" / "mini.html").exists()


def test_class_14_roster_added_on_second_run_does_not_double(tmp_path):
    course = gv.make_course(tmp_path / "kurs")
    release = gv.release_notebook(course)
    inbox = tmp_path / "eingang"
    inbox.mkdir()
    (inbox / "Berg_Bernd_mini.ipynb").write_text(gv.correct(release), encoding="utf-8")
    (inbox / "Cem_Can_mini.ipynb").write_text(gv.untouched(release), encoding="utf-8")
    limits = sandbox.Limits(cell_timeout=10, notebook_timeout=60, memory_mb=1000)
    grade_cohort(course, "mini", inbox, workers=2, limits=limits, progress=False)
    roster = tmp_path / "liste.csv"
    roster.write_text("id;nachname;vorname;email\nb1;Berg;Bernd;b@example.org\nc1;Cem;Can;\n", encoding="utf-8")
    outcome = grade_cohort(course, "mini", inbox, roster_path=roster, workers=2, limits=limits, progress=False)
    rows = read_table(outcome.csv_path)
    assert [(r["id"], r["vorname"], r["summe"]) for r in rows] == [("b1", "Bernd", "3"), ("c1", "Can", "0")]


def _descendants(pid: int) -> list[int]:
    import psutil

    try:
        return [child.pid for child in psutil.Process(pid).children(recursive=True)]
    except psutil.Error:
        return []


def _start_grading(course: Path, inbox: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "sozialraum.course", "grade", "mini", str(inbox), "--kurs",
                             str(course), "--zeit-zelle", "60", "--zeit-notebook", "90"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_kernels(process: subprocess.Popen, count: int, seconds: float = 120) -> list[int]:
    import psutil

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        family = _descendants(process.pid)
        kernels = [p for p in family if _is_kernel(p)]
        if len(kernels) >= count:
            return family
        time.sleep(0.3)
    process.kill()
    pytest.fail("Die Bewertung hat keine Kernel gestartet")
    return psutil.pids()


def _is_kernel(pid: int) -> bool:
    """Ein Kernel ist ein Enkel der Vorlage (forkserver): Vorlage -> Zwischenprozess -> Kernel."""
    import psutil

    try:
        process = psutil.Process(pid)
        chain = [process, process.parent(), process.parent().parent()]
        return all(p is not None and "sozialraum.course.forkserver" in " ".join(p.cmdline()) for p in chain)
    except (psutil.Error, AttributeError):
        return False


def _cmdline(pid):
    import psutil

    try:
        return psutil.Process(pid).cmdline()
    except psutil.Error:
        return []


def test_class_11_ctrl_c_keeps_finished_and_sigkill_leaves_no_orphans(tmp_path):
    import psutil

    course = gv.make_course(tmp_path / "kurs")
    release = gv.release_notebook(course)
    inbox = tmp_path / "eingang"
    inbox.mkdir()
    (inbox / "Berg_Bernd_mini.ipynb").write_text(gv.correct(release), encoding="utf-8")
    slow = gv.dumps(gv.answered(release, a1_loesung="import time\ntime.sleep(80)\nsumme = 6"))
    for name in ("Cem_Can_mini.ipynb", "Dorn_Dora_mini.ipynb", "Ernst_Emil_mini.ipynb"):
        (inbox / name).write_text(slow, encoding="utf-8")

    process = _start_grading(course, inbox)
    deadline = time.monotonic() + 120
    manifest = course / "bewertung" / "mini" / "abgaben.json"
    while time.monotonic() < deadline and not (manifest.exists() and "berg" in manifest.read_text()):
        time.sleep(0.3)
    family = _wait_for_kernels(process, 1)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "Abgebrochen (Strg+C)" in err and "Traceback" not in err
    rows = {row["id"]: row for row in read_table(course / "bewertung" / "mini" / "noten.csv")}
    assert rows["berg_bernd"]["summe"] == "3"  # ohne Liste: ID aus dem Dateinamen
    time.sleep(1)
    assert not [p for p in family if psutil.pid_exists(p) and psutil.Process(p).status() != "zombie"]
    assert not list(Path("/tmp").glob(f"sozialraum-*-{process.pid}-*"))

    process = _start_grading(course, inbox)
    family = _wait_for_kernels(process, 2)
    process.kill()
    process.wait()
    time.sleep(3)
    alive = [p for p in family if psutil.pid_exists(p) and psutil.Process(p).status() != "zombie"]
    assert not alive, [_cmdline(p) for p in alive]
    stale = list(Path("/tmp").glob(f"sozialraum-lauf-{process.pid}-*"))
    sandbox.run_folder()  # der nächste Lauf räumt die Reste auf
    assert not [p for p in stale if p.exists()]


def test_roster_encodings_are_detected_or_refused(tmp_path):
    text = "id;nachname;vorname;email\nmm;Müller;Jürgen;j@example.org\nsw;Weiß;Ömer;\n"
    for encoding in ("utf-8", "utf-8-sig", "cp1252", "mac_roman", "cp850", "utf-16"):
        path = tmp_path / f"liste-{encoding}.csv"
        path.write_bytes(text.replace(";", "\t" if encoding == "utf-16" else ";").encode(encoding))
        assert [(p.id, p.last_name, p.first_name) for p in read_roster(path)] == [
            ("mm", "Müller", "Jürgen"), ("sw", "Weiß", "Ömer")], encoding
    garbage = tmp_path / "kaputt.csv"
    garbage.write_bytes(b"id;nachname\n" + bytes(range(128, 256)) * 3)
    with pytest.raises(InputError, match="Kodierung"):
        read_roster(garbage)


def test_class_15_every_input_file_is_graded_or_listed(tmp_path):
    inbox = tmp_path / "eingang"
    inbox.mkdir()
    notebook = json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
    (inbox / "Berg_Bernd_mini.ipynb.txt").write_text(notebook, encoding="utf-8")
    (inbox / "Cem_Can_mini.json").write_text(notebook, encoding="utf-8")
    (inbox / "notizen.txt").write_text("keine Abgabe", encoding="utf-8")
    inner = tmp_path / "innen.zip"
    with zipfile.ZipFile(inner, "w") as zipped:
        zipped.writestr(NFD("Müller_Jürgen_mini.ipynb"), notebook)
    with zipfile.ZipFile(inbox / "paket.zip", "w") as zipped:
        zipped.write(inner, "innen.zip")
        zipped.writestr("__MACOSX/._x", b"")
    roster = tmp_path / "liste.csv"
    roster.write_text("id;nachname;vorname\nberg;Berg;Bernd\ncem;Cem;Can\nmm;Müller;Jürgen\n", encoding="utf-8")
    found = collect(inbox, tmp_path, "mini", read_roster(roster), tmp_path / "tmp")
    assert sorted((s.participant.id, s.path is not None) for s in found.submissions) == [
        ("berg", True), ("cem", True), ("mm", True)]
    listed = dict(found.listing)
    assert len(listed) == 5 and listed["notizen.txt"].startswith("nicht bewertet: keine Notebook-Datei")
    assert listed["paket.zip/__MACOSX/._x"].startswith("nicht bewertet: versteckte Datei")
    assert listed["paket.zip/innen.zip/Müller_Jürgen_mini.ipynb"] == "bewertet als mm"


def test_german_numbers_and_no_formulas_in_csv(tmp_path):
    path = tmp_path / "t.csv"
    report.write_csv(path, ["id", "punkte"], [["a", 2.5], ["b", 3.0], ["c", ""], ["=1+1", 1.0]])
    assert path.read_bytes().decode("utf-8-sig").splitlines() == ["id;punkte", "a;2,5", "b;3", "c;", "'=1+1;1"]


def test_no_grading_without_sandbox(tmp_path, monkeypatch):
    """Ohne bubblewrap läuft keine Abgabe: der Befehl bricht vorher mit einer deutschen Meldung ab."""
    course = gv.make_course(tmp_path / "kurs")
    release = gv.release_notebook(course)
    inbox = tmp_path / "eingang"
    inbox.mkdir()
    (inbox / "Berg_Bernd_mini.ipynb").write_text(gv.correct(release), encoding="utf-8")
    monkeypatch.setattr(sandbox, "available", lambda: False)
    with pytest.raises(InputError, match="bubblewrap fehlt"):
        grade_cohort(course, gv.ASSIGNMENT, inbox, progress=False)
    assert not (course / "autograded").exists() and not (course / "bewertung").exists()


def test_submission_secret_is_carried_but_no_link_to_another_file(tmp_path):
    """Das Geheimnis aus nbgrader collect kommt in die Rückmeldung; ein Link an seiner Stelle holt nichts Fremdes."""
    course = gv.make_course(tmp_path / "kurs")
    release = gv.release_notebook(course)
    private = tmp_path / "privat.txt"
    private.write_text("nur für die Lehrende", encoding="utf-8")
    for student, secret in (("lea", None), ("max", private)):
        folder = course / "submitted" / student / "mini"
        folder.mkdir(parents=True)
        (folder / "mini.ipynb").write_text(gv.correct(release), encoding="utf-8")
        (folder / "timestamp.txt").write_text("2026-03-01 10:00:00.000000 UTC", encoding="utf-8")
        if secret is None:
            (folder / "submission_secret.txt").write_text("a1b2c3", encoding="utf-8")
        else:
            (folder / "submission_secret.txt").symlink_to(secret)
    limits = sandbox.Limits(cell_timeout=10, notebook_timeout=60, memory_mb=1000)
    grade_cohort(course, "mini", None, workers=1, limits=limits, progress=False)
    assert (course / "feedback" / "lea" / "mini" / "submission_secret.txt").read_text() == "a1b2c3"
    leaked = [p for p in course.rglob("*") if p.is_file() and not p.is_symlink()
              and "nur für die Lehrende" in p.read_text(encoding="utf-8", errors="ignore")]
    assert leaked == []
