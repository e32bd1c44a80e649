"""check: die Tests jeder Übung lehnen alle falschen Antworten ab; eine absichtlich schwache Übung fällt durch.
Dazu Bausteine: Mutanten, Attrappen, hartkodierte Werte, Lint, Feedback ohne verborgene Tests."""
from pathlib import Path

import nbformat
import pytest

from sozialraum.course import check, mutate
from sozialraum.course.feedback import strip_hidden_tests
from sozialraum.course.lint import lint, message_problem
from sozialraum.course.tasks import tasks_of

ROOT = Path(__file__).resolve().parent.parent
WEAK = ROOT / "tests" / "fixtures" / "check_schwach"


def weak_notebook():
    return nbformat.read(WEAK / "solutions" / "99_schwach" / "99_schwach.ipynb", as_version=4)


def test_mutants_cover_operators_constants_columns_and_methods():
    source = 'q = int(t.loc[t["jahr"] == 2024, "einwohner"].sum() / 3)'
    found = {(v.category, v.description) for v in mutate.mutants("x", source, ["einwohner", "jahr", "kinder"])}
    assert (mutate.OPERATOR, "Eq -> NotEq") in found and (mutate.OPERATOR, "Div -> Mult") in found
    assert (mutate.CONSTANT, "2024 -> 2023") in found and (mutate.CONSTANT, "3 -> 4") in found
    assert (mutate.COLUMN, "'einwohner' -> 'kinder'") in found
    assert (mutate.METHOD, ".sum(...) weggelassen") in found and (mutate.METHOD, "int(...) weggelassen") in found
    assert (mutate.METHOD, ".sum() -> .mean()") in found


def test_impostors_fool_naive_tests_but_not_strict_ones():
    namespace = {}
    snippets = dict(mutate.impostor_snippets("x", 42))
    exec(mutate.impostor_source("x = 42", snippets["Objekt, das mit allem gleich ist (erbt von nichts)"]), namespace)
    x = namespace["x"]
    assert x == 41 and not x != 42 and x < 0 and abs(x - 1) < 0.1  # eine naive Prüfung fällt darauf herein
    assert type(x) is not int and not isinstance(x, (int, float, str))
    exec(mutate.impostor_source("x = 42", snippets["int-Unterklasse, immer gleich, falscher Wert"]), namespace)
    assert namespace["x"] == 42 and isinstance(namespace["x"], int) and type(namespace["x"]) is not int


def test_hardcoded_literals_come_from_visible_assertions():
    visible = 'assert type(n) is int, "Tipp"\nassert 50 <= n <= 500, "Tipp"\nassert m == 3'
    assert mutate.hardcoded_literals(visible, "n") == ["50", "500"]


def test_lint_finds_weak_tests():
    problems = "\n".join(lint(weak_notebook(), weak_notebook()))
    assert "keine verborgenen Zusicherungen" in problems and "keinen Typ" in problems
    assert "hat keine Meldung" in problems and "Lösungstext" in problems


def test_message_rules():
    import ast

    def msg(text):
        return ast.parse(f"assert x, {text}").body[0].msg

    assert message_problem(msg('"Der Wert stimmt nicht. Tipp: nachrechnen"'), hidden=False) == ""
    assert "nicht deutsch" in message_problem(msg('"Wrong value. Tipp: check"'), hidden=False)
    assert "Hinweis" in message_problem(msg('"Der Wert stimmt nicht."'), hidden=False)
    assert "f-Strings" in message_problem(msg('f"Der Wert ist nicht {x}. Tipp: ..."'), hidden=True)


def test_strip_hidden_tests():
    source = "assert a, 'x'\n    ### BEGIN HIDDEN TESTS\n    assert a == 5\n    ### END HIDDEN TESTS\nprint(1)"
    assert strip_hidden_tests(source) == (
        "assert a, 'x'\n    # (Verborgene Tests sind im Feedback ausgeblendet.)\nprint(1)")


def test_tasks_and_answers_of_00_start():
    source = nbformat.read(ROOT / "solutions" / "00_start" / "00_start.ipynb", as_version=4)
    tasks = {t.grade_id: t.answers for t in tasks_of(source)}
    assert tasks == {"anzahl_bezirke": ["anzahl_bezirke"], "einwohner_2024": ["einwohner_2024"],
                     "hoechste_quote": ["stadtteil_hoechste_quote", "hoechste_quote"]}


@pytest.mark.parametrize("name", sorted(p.name for p in (ROOT / "solutions").iterdir() if p.is_dir()))
def test_check_passes_on_real_exercise(name, capsys):
    report = check.check_assignment(ROOT, name)
    print(check.table(report))
    assert report.ok, check.table(report)
    by_category = {c: [o for o in report.outcomes if o.variant["category"] == c] for c in mutate.CATEGORIES}
    for category in (mutate.OPERATOR, mutate.CONSTANT, mutate.COLUMN, mutate.METHOD, mutate.IMPOSTOR,
                     mutate.HARDCODED):
        assert any(o.state == "abgelehnt" for o in by_category[category]), category


def test_check_rejects_weak_exercise():
    report = check.check_assignment(WEAK, "99_schwach")
    table = check.table(report)
    assert not report.ok and "NICHT bestanden" in table
    survivors = {(o.variant["category"], o.variant["description"]) for o in report.survivors}
    assert (mutate.HARDCODED, "antwort = 42") in survivors
    assert (mutate.IMPOSTOR, "antwort: Objekt, das mit allem gleich ist (erbt von nichts)") in survivors
    assert (mutate.CONSTANT, "30 -> 31") in survivors  # Toleranz 0.01 lässt 31/120 durch
    assert any("keine verborgenen Zusicherungen" in p for p in report.problems)


def test_prescreen_children_report_results_and_timeouts(monkeypatch, tmp_path):
    """Die Kinder der Vorprüfung laufen nebeneinander; eines, das die Zeitgrenze überschreitet, meldet ``timeout``."""
    import time

    from sozialraum.course import prescreen

    monkeypatch.setattr(prescreen, "CHILD_TIMEOUT", 1)
    work, scratch = tmp_path / "arbeit", tmp_path / "kinder"
    work.mkdir()
    scratch.mkdir()
    monkeypatch.chdir(work)
    (work / "ausgabe.txt").write_text("aus dem Elternprozess")
    children = prescreen._Children(2, str(scratch))

    def write_and_read():  # eigene Kopie des Arbeitsordners: Schreiben stört weder Geschwister noch Eltern
        before = Path("ausgabe.txt").read_text()
        Path("ausgabe.txt").write_text("vom Kind")
        time.sleep(0.3)
        return {"vorher": before, "nachher": Path("ausgabe.txt").read_text()}

    children.submit("schreibt-1", write_and_read)
    children.submit("schreibt-2", write_and_read)
    children.submit("lang", lambda: time.sleep(5))
    children.submit("kurz", lambda: {"x": 1})
    children.submit("absturz", lambda: prescreen.os._exit(3))
    assert children.run(lambda: {"y": 2}) == {"y": 2}
    results = children.drain()
    assert results["kurz"] == {"x": 1}
    assert results["lang"]["timeout"] is True
    assert "timeout" not in results["absturz"] and results["absturz"]["error"] == "Absturz"
    for key in ("schreibt-1", "schreibt-2"):
        assert results[key] == {"vorher": "aus dem Elternprozess", "nachher": "vom Kind"}
    assert (work / "ausgabe.txt").read_text() == "aus dem Elternprozess"
    assert not list(scratch.iterdir())
