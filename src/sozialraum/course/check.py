"""``check``: beweist für jede Übung, dass ihre Tests richtige Antworten annehmen und falsche ablehnen.

Für jede Übung (oder die genannten), jeweils durch nbgrader's echtes Autograde (``sozialraum.course.autograde``):
1. die Lösung bekommt alle automatisch vergebenen Punkte;
2. die unveränderte Ausgabe (exercises/) bekommt null Punkte;
3. falsche Antworten verlieren die Punkte der Aufgabe, die sie verfälschen: Mutanten jeder Lösungszelle,
   Typ-Attrappen und hartkodierte Werte aus den sichtbaren Tests (siehe ``mutate``). Eine Variante, die keine
   Antwort ändert (gleichwertige Mutante), zählt nicht; das klärt eine schnelle Vorprüfung (``prescreen``).
   Varianten mit gleichen Antworten werden nur einmal bewertet; lief in der Vorprüfung schon eine Zelle länger als
   die Zeitgrenze je Zelle, bewertet nbgrader die Variante mit einer kurzen Zeitgrenze.
4. statische Prüfung (``lint``).
Ausgabe: eine Tabelle je Übung; Rückgabewert 1 bei jedem Überlebenden oder Befund.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from sozialraum.course import build, mutate
from sozialraum.course.lint import lint
from sozialraum.course.nbconfig import find_course_root
from sozialraum.course.tasks import Task, meta, split_hidden, tasks_of

SOLUTION_KEY = "loesung"
RELEASE_KEY = "ausgabe-unveraendert"
CONTROL = "Kontrolle"
# Zeitgrenze je Zelle für Varianten, bei denen schon in der Vorprüfung eine Zelle länger als die Zeitgrenze
# (prescreen.CHILD_TIMEOUT) lief: auch nbgrader bricht sie dann ab, das zeigt eine kurze Grenze genauso
ENDLESS_CELL_TIMEOUT = 10


@dataclass
class Outcome:
    """Ergebnis einer Variante."""

    variant: dict
    state: str  # "gleichwertig" | "abgelehnt" | "überlebt"
    note: str = ""


@dataclass
class Report:
    assignment: str
    problems: list[str] = field(default_factory=list)  # Befunde (lint, Lösung, Ausgabe, Fehler)
    outcomes: list[Outcome] = field(default_factory=list)
    graded: int = 0  # Anzahl echter Autograde-Läufe
    seconds: float = 0.0

    @property
    def survivors(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.state == "überlebt"]

    @property
    def ok(self) -> bool:
        return not self.problems and not self.survivors


def hardcoded_variants(task: Task) -> list[dict]:
    out = []
    for cell in task.tests:
        visible, _ = split_hidden(cell.source)
        for name in task.answers:
            for literal in mutate.hardcoded_literals(visible, name):
                out.append({"category": mutate.HARDCODED, "description": f"{name} = {literal}",
                            "source": f"{task.source}\n{name} = {literal}\n"})
    return out


def variants_of(tasks: list[Task]) -> list[dict]:
    """Mutanten, hartkodierte Antworten und je Aufgabe eine Kontrolle (die unveränderte Lösung)."""
    pool = mutate.string_pool([task.source for task in tasks])
    out = []
    for task in tasks:
        found = [{"category": v.category, "description": v.description, "source": v.source}
                 for v in mutate.mutants(task.grade_id, task.source, pool)]
        found += hardcoded_variants(task)
        found.append({"category": CONTROL, "description": "unveränderte Lösung", "source": task.source})
        for number, variant in enumerate(found):
            out.append({"key": f"{task.grade_id}-{number:03d}", "task": task.grade_id, **variant})
    return out


def prescreen(source: nbformat.NotebookNode, tasks: list[Task], variants: list[dict], workdir: Path,
              course_root: Path) -> dict:
    test_of = {test_id: t.grade_id for t in tasks for test_id in t.test_ids}
    cells = [{"task": meta(cell).get("grade_id") if meta(cell).get("solution") else None,
              "test_of": test_of.get(meta(cell).get("grade_id")), "source": cell.source}
             for cell in source.cells if cell.cell_type == "code"]
    job = {"workdir": str(workdir), "cells": cells, "tasks": {t.grade_id: t.answers for t in tasks},
           "variants": variants}
    env = {**os.environ, "MPLBACKEND": "Agg"}
    if (course_root / "datasets").is_dir():
        env["SOZIALRAUM_DATEN"] = str(course_root / "datasets")
    done = subprocess.run([sys.executable, "-m", "sozialraum.course.prescreen"], input=json.dumps(job),
                          capture_output=True, text=True, env=env, cwd=workdir)
    if done.returncode != 0:
        raise RuntimeError(f"Vorprüfung abgebrochen:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout)


def submission(release: nbformat.NotebookNode, sources: dict[str, str]) -> nbformat.NotebookNode:
    """Die Ausgabe, in der die Lösungszellen ``sources`` (grade_id -> Quelltext) ausgefüllt sind."""
    nb = nbformat.from_dict(json.loads(json.dumps(release)))
    for cell in nb.cells:
        grade_id = meta(cell).get("grade_id")
        if meta(cell).get("solution") and grade_id in sources:
            cell.source = sources[grade_id]
    return nb


def _points(result, ids: list[str]) -> tuple[float, float]:
    return sum(result.scores.get(i, 0.0) for i in ids), sum(result.max_scores.get(i, 0.0) for i in ids)


def check_assignment(course_root: Path, assignment: str, workers: int = 2, cell_timeout: int = 120) -> Report:
    started = time.perf_counter()
    report = Report(assignment)
    notebooks = sorted((course_root / build.SOURCE / assignment).glob("*.ipynb"))
    if len(notebooks) != 1:
        report.problems.append(f"erwartet genau ein Notebook in {build.SOURCE}/{assignment}/, gefunden: "
                               f"{len(notebooks)}")
        return report
    name = notebooks[0].name
    source = nbformat.read(notebooks[0], as_version=4)
    with tempfile.TemporaryDirectory(prefix=f"sozialraum-check-{assignment}-") as tmp:
        tmp = Path(tmp)
        build.generate(course_root, assignment, tmp / "ausgabe")
        release = nbformat.read(tmp / "ausgabe" / name, as_version=4)
        report.problems += [f"Lint: {p}" for p in lint(source, release)]
        tasks = tasks_of(source)
        screened = prescreen(source, tasks, variants_of(tasks), tmp / "ausgabe", course_root)
        solution_sources = {meta(c)["grade_id"]: c.source for c in source.cells if meta(c).get("solution")}
        for cell_id, error in screened["solution_errors"].items():
            report.problems.append(f"Lösung: Zelle {cell_id} bricht mit {error} ab")
        to_grade, groups, outcomes = _plan(tasks, screened, report)
        grade = _Grader(course_root, assignment, name, release, solution_sources, tmp, workers, cell_timeout)
        verdicts = grade.variants(to_grade, groups, {SOLUTION_KEY: {}, RELEASE_KEY: None})
        _judge_reference(verdicts, report)
        for variant in to_grade:
            state, note = _judge(variant, groups[variant["key"]], tasks, verdicts[variant["key"]], report)
            outcomes += [Outcome(member["variant"], state, note) for member in groups[variant["key"]]]
        report.graded = grade.runs
    report.outcomes = outcomes
    report.seconds = time.perf_counter() - started
    return report


class _Grader:
    """Schreibt Abgaben (Ausgabe mit ausgefüllten Lösungszellen) und bewertet sie mit der echten Maschine."""

    def __init__(self, course_root, assignment, name, release, solution_sources, tmp, workers, cell_timeout):
        self.course_root, self.assignment, self.name, self.release = course_root, assignment, name, release
        self.solution_sources, self.tmp, self.workers, self.cell_timeout = solution_sources, tmp, workers, cell_timeout
        self.runs = 0

    def __call__(self, submissions: dict[str, dict | None], cell_timeout: int | None = None) -> dict:
        """Bewertet {Schlüssel: {grade_id: Quelltext} (Lösung mit diesen Zellen) oder None (leere Ausgabe)}."""
        from sozialraum.course.autograde import autograde_notebooks

        paths = {}
        for key, changes in submissions.items():
            nb = self.release if changes is None else submission(self.release, {**self.solution_sources, **changes})
            paths[key] = self.tmp / "abgaben" / key / self.name
            paths[key].parent.mkdir(parents=True)
            nbformat.write(nb, paths[key])
        self.runs += len(paths)
        return autograde_notebooks(self.course_root, self.assignment, paths, workers=self.workers,
                                   cell_timeout=cell_timeout or self.cell_timeout, progress=False,
                                   workdir=self.tmp / "sandboxen" / f"lauf-{self.runs}")

    def variants(self, to_grade: list[dict], groups: dict, extra: dict) -> dict:
        """Bewertung je Variante (und je Schlüssel in ``extra``, siehe ``__call__``). Varianten, die nur ihre eigene Aufgabe ändern, werden gebündelt: eine Abgabe
        trägt je Aufgabe eine Variante. Scheitert ein Bündel als Ganzes (Zeit, Speicher), einzeln nachbewerten."""
        endless = [v for v in to_grade if groups[v["key"]][0]["endless"]]
        alone = [v for v in to_grade if not groups[v["key"]][0]["batchable"] and v not in endless]
        by_task: dict[str, list[dict]] = {}
        for variant in to_grade:
            if groups[variant["key"]][0]["batchable"]:
                by_task.setdefault(variant["task"], []).append(variant)
        batches = [[queue[i] for queue in by_task.values() if i < len(queue)]
                   for i in range(max((len(q) for q in by_task.values()), default=0))]
        jobs = {**extra, **{v["key"]: {v["task"]: v["source"]} for v in alone}}
        jobs.update({f"buendel-{i:03d}": {v["task"]: v["source"] for v in batch} for i, batch in enumerate(batches)})
        results = self(jobs)
        if endless:  # eine Zelle lief in der Vorprüfung länger als die Zeitgrenze: hier nicht noch einmal so lange
            results.update(self({v["key"]: {v["task"]: v["source"]} for v in endless},
                                cell_timeout=min(self.cell_timeout, ENDLESS_CELL_TIMEOUT)))
        verdicts = {key: results[key] for key in [*extra, *(v["key"] for v in alone + endless)]}
        retry = []
        for i, batch in enumerate(batches):
            result = results[f"buendel-{i:03d}"]
            if result.status == "ok":
                verdicts.update({v["key"]: result for v in batch})
            else:
                retry += batch
        if retry:
            again = self({v["key"]: {v["task"]: v["source"]} for v in retry})
            verdicts.update({v["key"]: again[v["key"]] for v in retry})
        return verdicts


def _plan(tasks: list[Task], screened: dict, report: Report):
    """Gleichwertige Varianten aussortieren, die übrigen nach ihren Antworten gruppieren."""
    solution = screened["solution"]
    results = screened["results"]
    unstable = set()
    for variant in screened["variants"]:
        if variant["category"] == CONTROL and _changed_tasks(tasks, variant["task"], results[variant["key"]], solution):
            unstable.add(variant["task"])
            report.problems.append(f"Vorprüfung: Antworten der Aufgabe {variant['task']} sind nicht reproduzierbar "
                                   "(zufällig?); alle Varianten werden bewertet")
    outcomes, groups, to_grade, representative = [], {}, [], {}
    for variant in screened["variants"]:
        if variant["category"] == CONTROL:
            continue
        result = results[variant["key"]]
        answers = result.get("answers")
        changed = _changed_tasks(tasks, variant["task"], result, solution)
        hardcoded = variant["category"] == mutate.HARDCODED
        if not changed and not hardcoded and variant["task"] not in unstable:
            outcomes.append(Outcome(variant, "gleichwertig"))
            continue
        if hardcoded:
            changed = sorted(set(changed) | {variant["task"]})
        batchable = answers is not None and not result.get("ran_later") and changed == [variant["task"]]
        verdict = [tuple(v) for v in result.get("verdict") or []]
        failing = {task for task, outcome in verdict if outcome}
        predicted_reject = answers is not None and set(changed) <= failing and variant["task"] not in unstable
        # gleiche vorhergesagte Fehlerstellen in den Tests: ein Vertreter genügt; sonst einzeln bewerten
        signature = (variant["task"], batchable, tuple(verdict)) if predicted_reject else (variant["key"],)
        member = {"variant": variant, "changed": changed, "batchable": batchable,
                  "predicted_failure": answers is None or bool(result.get("failed")) or bool(failing),
                  "endless": bool(result.get("timeout"))}
        if signature in representative:
            groups[representative[signature]].append(member)
        else:
            representative[signature] = variant["key"]
            groups[variant["key"]] = [member]
            to_grade.append(variant)
    return to_grade, groups, outcomes


def _changed_tasks(tasks: list[Task], own: str, result: dict, solution: dict) -> list[str]:
    """Aufgaben, deren Antworten die Variante ändert (spätere nur, wenn die Vorprüfung sie neu berechnet hat)."""
    answers = result.get("answers")
    if answers is None:
        return [own]
    order = [t.grade_id for t in tasks]
    later = set(order[order.index(own) + 1:])
    return [t.grade_id for t in tasks if (t.grade_id not in later or result.get("ran_later"))
            and any(answers.get(n) != solution.get(n) for n in t.answers)]


def _judge_reference(results: dict, report: Report) -> None:
    solution, release = results[SOLUTION_KEY], results[RELEASE_KEY]
    if solution.status != "ok":
        report.problems.append(f"Lösung: Bewertung {solution.status}: {solution.message}")
    for grade_id, points in solution.max_scores.items():
        if solution.scores.get(grade_id, 0.0) < points:
            report.problems.append(f"Lösung: Testzelle {grade_id} gibt {solution.scores.get(grade_id, 0.0):g} "
                                   f"von {points:g} Punkten")
    if release.total > 0:
        report.problems.append(f"Unveränderte Ausgabe bekommt {release.total:g} Punkte statt 0")


def _judge(variant: dict, members: list[dict], tasks: list[Task], result, report: Report) -> tuple[str, str]:
    """(Zustand, Notiz) für eine bewertete Variante; gilt für alle Varianten ihrer Gruppe."""
    if result.status in ("timeout", "memory", "crash"):
        if members[0]["predicted_failure"]:  # auch die Vorprüfung sah hier einen Fehler
            return "abgelehnt", f"Bewertung: {result.status}"
        report.problems.append(f"Variante {variant['key']} ({variant['description']}): Bewertung {result.status}, "
                               "die Vorprüfung sah keinen Fehler; Ergebnis unklar. Tipp: erneut prüfen, "
                               "evtl. mit weniger parallelen Bewertungen (--workers 1)")
        return "abgelehnt", result.status
    if result.status != "ok":
        report.problems.append(f"Variante {variant['key']}: Bewertung {result.status}: {result.message}")
        return "abgelehnt", result.status
    by_id = {t.grade_id: t for t in tasks}
    kept = []
    for task_id in members[0]["changed"]:
        earned, possible = _points(result, by_id[task_id].test_ids)
        if earned >= possible:
            kept.append(task_id)
    if kept:
        return "überlebt", f"volle Punkte in {', '.join(kept)}"
    return "abgelehnt", ""


def table(report: Report) -> str:
    """Deutsche Tabelle: versucht / gleichwertig / abgelehnt / überlebt je Kategorie."""
    counts = {c: Counter() for c in mutate.CATEGORIES}
    for outcome in report.outcomes:
        counts[outcome.variant["category"]][outcome.state] += 1
    header = f"{'Kategorie':<18}{'versucht':>10}{'gleichwertig':>14}{'abgelehnt':>11}{'überlebt':>10}"
    lines = [f"Übung {report.assignment}", header, "-" * len(header)]
    total = Counter()
    for category, count in counts.items():
        tried = sum(count.values())
        total.update(count)
        lines.append(f"{category:<18}{tried:>10}{count['gleichwertig']:>14}{count['abgelehnt']:>11}"
                     f"{count['überlebt']:>10}")
    lines.append("-" * len(header))
    lines.append(f"{'Summe':<18}{sum(total.values()):>10}{total['gleichwertig']:>14}{total['abgelehnt']:>11}"
                 f"{total['überlebt']:>10}")
    lines.append(f"Echte Autograde-Läufe: {report.graded}; Zeit: {report.seconds:.1f} s")
    for outcome in report.survivors:
        v = outcome.variant
        lines.append(f"ÜBERLEBT [{v['category']}] Aufgabe {v['task']}: {v['description']} ({outcome.note})")
    for problem in report.problems:
        lines.append(f"BEFUND: {problem}")
    lines.append("Ergebnis: " + ("bestanden" if report.ok else "NICHT bestanden"))
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("assignments", nargs="*", metavar="UEBUNG", help="nur diese Übungen prüfen (Standard: alle)")
    parser.add_argument("--kurs", type=Path, default=None, help="Kursordner (Standard: Wurzel des Repositorys)")
    parser.add_argument("--workers", type=int, default=2, help="parallele Bewertungen (Standard: 2)")


def run(args: argparse.Namespace) -> int:
    course_root = (args.kurs or find_course_root()).resolve()
    names = args.assignments or build.assignments(course_root)
    failed, started = False, time.perf_counter()
    for name in names:
        if not (course_root / build.SOURCE / name).is_dir():
            print(f"Fehler: Übung {name!r} gibt es nicht in {build.SOURCE}/. Tipp: vorhandene Übungen: "
                  f"{', '.join(build.assignments(course_root))}")
            return 1
        report = check_assignment(course_root, name, workers=args.workers)
        print(table(report) + "\n", flush=True)
        failed |= not report.ok
    print(f"Geprüft: {len(names)} Übung(en) in {time.perf_counter() - started:.0f} s; "
          + ("mindestens eine NICHT bestanden." if failed else "alle bestanden."))
    return 1 if failed else 0
