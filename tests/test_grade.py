"""Bewertung einer Kursgruppe (``python -m sozialraum.course grade``) mit feindlichen Abgaben.

Ein einziger Lauf bewertet alle Abgaben gemeinsam (parallel); jede hat ihr erwartetes Ergebnis, und die
gutartigen Abgaben bekommen genau die Punkte, die sie allein bekämen. Danach ein zweiter Lauf über die
Kommandozeile (als ZIP-Datei): nur die geänderte Abgabe wird neu bewertet, Handbewertungen bleiben.
"""
import csv
import hashlib
import json
import os
import time
import zipfile

import pytest
from openpyxl import load_workbook

import grading_variants as gv
from sozialraum.course import report
from sozialraum.course.__main__ import main
from sozialraum.course.autograde import isolation
from sozialraum.course.grade import grade_cohort
from sozialraum.course.submissions import collect, read_roster

ROSTER = """id;nachname;vorname;email
alt;Alt;Anna;anna.alt@example.org
berg;Berg;Bernd;
cem;Cem;Can;
dorn;Dorn;Dora;
ernst;Ernst;Emil;
falk;Falk;Fiona;
gold;Gold;Gustav;
haas;Haas;Hanna;
illes;Illés;Ivo;
jung;Jung;Jana;
kurz;Kurz;Karl;
lang;Lang;Lea;
mai;Mai;Mia;
noll;Noll;Nina;
otto;Otto;Olga;
pohl;Pohl;Paul;
quast;Quast;Quirin;
zander;Zander;Zoë;
"""

# Datei -> (Variante, erwartete Punkte a1/a2, erwartete Hinweise, die vorkommen müssen)
CASES = {
    "Alt_Anna_mini.ipynb": ("untouched", (0, 0), []),
    "Berg_Bernd_mini.ipynb": ("correct", (1, 2), []),
    "Cem_Can_mini.ipynb": ("partly_correct", (1, 0), []),
    "Dorn_Dora_mini.ipynb": ("tampered_test", (0, 2), ["Testzellen verändert"]),
    "Ernst_Emil_mini.ipynb": ("deleted_test", (1, 0), ["Testzellen gelöscht"]),
    "Falk_Fiona_mini.ipynb": ("reordered", (1, 2), []),
    "Gold_Gustav_mini.ipynb": ("changed_cell_type", (0, 2), ["Testzellen verändert"]),
    "Haas_Hanna_mini.ipynb": ("infinite_loop", (0, 0), ["Zeitüberschreitung"]),
    "Illés_Ivo_mini.ipynb": ("kernel_crash", (0, 0), ["Absturz"]),
    "Jung_Jana_mini.ipynb": ("memory_hog", (1, 2), ["Speicherlimit"]),
    "Kurz_Karl_mini.ipynb": ("always_equal", (0, 2), []),
    "Lang_Lea_mini.ipynb": ("stderr_warning", (1, 2), []),
    "Mai_Mia_mini.ipynb": ("invalid_json", (0, 0), ["ungültige Datei"]),
    "Noll_Nina_mini.ipynb": ("empty_file", (0, 0), ["ungültige Datei"]),
    "Unbekannt_Udo_mini.ipynb": ("correct", (1, 2), ["unbekannt"]),
    "abgabe_final.ipynb": ("correct", (1, 2), ["Dateiname unerwartet", "unbekannt"]),
    "Otto_Olga_mini.ipynb": ("untouched", None, None),  # ältere Abgabe: wird von der neueren ersetzt
    "Otto_Olga_mini (1).ipynb": ("correct", (1, 2), ["doppelte Abgabe"]),
    "Pohl_Paul_mini.ipynb": ("snooper", (1, 2), []),
    "Quast_Quirin_mini.ipynb": ("huge_output", (1, 2), []),
}
IDS = {"Unbekannt_Udo_mini.ipynb": "unbekannt_udo", "abgabe_final.ipynb": "abgabe_final",
       "Otto_Olga_mini (1).ipynb": "otto", "Illés_Ivo_mini.ipynb": "illes"}


def participant_id(filename: str) -> str:
    return IDS.get(filename, filename.split("_")[0].lower())


def digest(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    base = tmp_path_factory.mktemp("gruppe")
    course = gv.make_course(base / "kurs")
    release = gv.release_notebook(course)
    inbox = base / "eingang"
    inbox.mkdir()
    for name, (variant, _, _) in CASES.items():
        if variant == "snooper":
            targets = [str(course), str(inbox)] if isolation().namespaces else []  # ohne Namensräume: s. unten
            text = gv.snooper(release, targets)
        else:
            text = getattr(gv, variant)(release)
        (inbox / name).write_text(text, encoding="utf-8")
    hour_ago = time.time() - 3600
    os.utime(inbox / "Otto_Olga_mini.ipynb", (hour_ago, hour_ago))
    roster = base / "teilnehmende.csv"
    roster.write_text(ROSTER, encoding="cp1252")  # so speichert Excel unter Windows
    before = digest(inbox)
    outcome = grade_cohort(course, gv.ASSIGNMENT, inbox, roster_path=roster, workers=2, cell_timeout=5,
                           notebook_timeout=40, memory_mb=1000, progress=False)
    rows = {row["id"]: row for row in read_table(outcome.csv_path)}
    return {"course": course, "inbox": inbox, "roster": roster, "outcome": outcome, "rows": rows,
            "before": before, "release": release}


def read_table(path):
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), "CSV für Excel braucht ein BOM"
    return list(csv.DictReader(raw.decode("utf-8-sig").splitlines(), delimiter=";"))


@pytest.mark.parametrize("filename", [name for name, case in CASES.items() if case[1] is not None])
def test_each_submission_gets_its_expected_outcome(cohort, filename):
    _, (a1, a2), flags = CASES[filename]
    row = cohort["rows"][participant_id(filename)]
    assert (row["a1_test"], row["a2_test"]) == (str(a1), str(a2)), row
    assert row["summe"] == str(a1 + a2)
    for flag in flags:
        assert flag in row["hinweise"], row
    if not flags:
        assert row["hinweise"] in ("", "manuelle Bewertung nötig"), row


def test_nothing_is_lost_and_originals_are_unchanged(cohort):
    rows, course = cohort["rows"], cohort["course"]
    assert digest(cohort["inbox"]) == cohort["before"]
    expected_ids = {participant_id(name) for name, case in CASES.items() if case[1] is not None} | {"zander"}
    assert set(rows) == expected_ids
    assert rows["zander"]["hinweise"] == "fehlt" and rows["zander"]["vorname"] == "Zoë"
    assert rows["illes"]["nachname"] == "Illés"
    assert rows["otto"]["datei"] == "Otto_Olga_mini (1).ipynb"
    for pid in expected_ids - {"zander", "mai", "noll"}:
        assert (course / "submitted" / pid / "mini" / "mini.ipynb").exists(), pid
        assert (course / "autograded" / pid / "mini" / "mini.ipynb").exists(), pid


def test_others_are_unaffected_by_hostile_neighbours(cohort):
    """Die gutartigen Abgaben haben exakt die Punkte, die sie allein bekommen (siehe test_autograde)."""
    rows = cohort["rows"]
    for pid in ["berg", "falk", "lang", "otto", "pohl", "quast", "unbekannt_udo", "abgabe_final"]:
        assert (rows[pid]["a1_test"], rows[pid]["a2_test"], rows[pid]["summe"]) == ("1", "2", "3"), rows[pid]
    assert rows["alt"]["summe"] == "0"


def test_manual_answers_are_flagged_for_formgrader(cohort):
    rows = cohort["rows"]
    assert rows["berg"]["a3_antwort"] == ""
    assert "manuelle Bewertung nötig" in rows["berg"]["hinweise"]
    assert "manuelle Bewertung nötig" not in rows["mai"]["hinweise"]  # ungültig: nichts im Formgrader


def test_huge_output_is_limited(cohort):
    autograded = cohort["course"] / "autograded" / "quast" / "mini" / "mini.ipynb"
    assert autograded.stat().st_size < 500_000


def test_snooper_gets_nothing_and_changes_nothing(cohort):
    course = cohort["course"]
    notebook = json.loads((course / "autograded" / "pohl" / "mini" / "mini.ipynb").read_text(encoding="utf-8"))
    text = "".join("".join(o.get("text", "")) for c in notebook["cells"] for o in c.get("outputs", []))
    lines = [line.split(" ", 1) for line in text.splitlines() if " " in line]
    said = {key: value for key, value in lines}
    found = [value for key, value in lines if key == "PFAD"]
    workdir = said["ORT"].split("/abgabe-")[0]  # Ordner mit allen Sandboxen dieses Laufs
    if isolation().namespaces:
        assert said["NETZ"] == "zu"
        assert said["GEAENDERT"] == "[]"
        for path in found:
            assert not path.startswith(str(cohort["inbox"])), path
            assert not path.startswith(workdir), path  # andere Sandboxen, Vorlage, Protokolle
            for private in ("submitted", "autograded", "feedback", "gradebook.db", "bewertung"):
                assert not path.startswith(str(course / private)), path
    else:  # ohne Namensräume verspricht das Kit das nicht und sagt es in der Zusammenfassung
        assert "eingeschränkt" in cohort["outcome"].isolation
    assert cohort["rows"]["pohl"]["summe"] == "3"
    assert cohort["rows"]["berg"]["summe"] == "3"


def test_feedback_is_german_and_hides_hidden_tests(cohort):
    feedback = cohort["course"] / "feedback"
    for pid in ["berg", "cem", "dorn", "ernst"]:
        page = (feedback / pid / "mini" / "mini.html").read_text(encoding="utf-8")
        assert "Punkte:" in page and "Score" not in page
        assert "summe == 6" not in page and "37.5" not in page and "HIDDEN" not in page
    assert "Testzellen wurden verändert" in (feedback / "dorn" / "mini" / "mini.html").read_text(encoding="utf-8")
    invalid = (feedback / "mai" / "mini" / "mini.html").read_text(encoding="utf-8")
    assert "kein gültiges Notebook" in invalid and "Hallo Mia Mai," in invalid


def test_xlsx_matches_csv(cohort):
    sheet = load_workbook(cohort["outcome"].xlsx_path).active
    header = [cell.value for cell in sheet[1]]
    assert header[:4] == ["id", "nachname", "vorname", "email"]
    assert {"a1_test", "a2_test", "a3_antwort", "summe", "max", "hinweise"} <= set(header)
    berg = next(row for row in sheet.iter_rows(min_row=2, values_only=True) if row[0] == "berg")
    assert berg[header.index("summe")] == 3.0 and berg[header.index("max")] == 4.0


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
            zipped.write(path, f"Abgaben Kurs/{path.name}")
    before = {pid: row for pid, row in cohort["rows"].items()}

    code = main(["grade", "mini", str(archive), "--teilnehmende", str(cohort["roster"]), "--kurs", str(course),
                 "--zeit-zelle", "5", "--zeit-notebook", "40", "--speicher", "1000"])
    printed = capsys.readouterr().out
    assert code == 0
    assert "neu bewertet: 1, unverändert übernommen: 18" in printed
    assert "Bewertung der Übung mini abgeschlossen" in printed
    rows = {row["id"]: row for row in read_table(course / "bewertung" / "mini" / "noten.csv")}
    assert rows["cem"]["summe"] == "3"
    assert rows["berg"]["a3_antwort"] == "1" and rows["berg"]["summe"] == "4"
    assert "manuelle Bewertung nötig" not in rows["berg"]["hinweise"]
    for pid in set(before) - {"cem", "berg"}:
        assert rows[pid] == before[pid], pid


def test_exchange_layout_after_nbgrader_collect(tmp_path):
    course = gv.make_course(tmp_path / "kurs")
    release = gv.release_notebook(course)
    folder = course / "submitted" / "lea" / "mini"
    folder.mkdir(parents=True)
    (folder / "mini.ipynb").write_text(gv.partly_correct(release), encoding="utf-8")
    (folder / "timestamp.txt").write_text("2026-03-01 10:00:00.000000 UTC", encoding="utf-8")
    original = (folder / "mini.ipynb").read_bytes()
    outcome = grade_cohort(course, "mini", None, workers=1, cell_timeout=10, notebook_timeout=60,
                           memory_mb=1000, progress=False)
    rows = read_table(outcome.csv_path)
    assert [(row["id"], row["summe"], row["hinweise"]) for row in rows] == [
        ("lea", "1", "manuelle Bewertung nötig")]
    assert (folder / "mini.ipynb").read_bytes() == original
    assert (course / "feedback" / "lea" / "mini" / "mini.html").exists()


def test_collect_understands_folders_per_person_and_roster_variants(tmp_path):
    roster_file = tmp_path / "liste.csv"
    roster_file.write_text("Kennung;Name;Vorname;E-Mail\nmm;Müller;Jürgen;j.mueller@example.org\n"
                           "sw;Schulz-Weber;Ömer;\n", encoding="utf-8-sig")
    roster = read_roster(roster_file)
    assert [(p.id, p.last_name, p.first_name) for p in roster] == [("mm", "Müller", "Jürgen"),
                                                                  ("sw", "Schulz-Weber", "Ömer")]
    inbox = tmp_path / "eingang"
    for folder in ["Mueller_Juergen", "Schulz-Weber_Ömer", ".ipynb_checkpoints"]:
        (inbox / folder).mkdir(parents=True)
        (inbox / folder / "mini.ipynb").write_text("{}", encoding="utf-8")
    found = collect(inbox, tmp_path, "mini", roster, tmp_path / "tmp")
    assert [(s.participant.id, s.path is not None, s.flags) for s in found] == [
        ("mm", True, []), ("sw", True, [])]


def test_german_numbers_in_csv(tmp_path):
    path = tmp_path / "t.csv"
    report.write_csv(path, ["id", "punkte"], [["a", 2.5], ["b", 3.0], ["c", ""]])
    assert path.read_bytes().decode("utf-8-sig").splitlines() == ["id;punkte", "a;2,5", "b;3", "c;"]
