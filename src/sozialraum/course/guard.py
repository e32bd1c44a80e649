"""Wächter für Testzellen: erkennt, ob eine Abgabe die Testumgebung verändert hat (importiert kein nbgrader).

Vor der ersten Zelle einer Abgabe läuft im Kernel ``PROLOGUE``: es merkt sich die Originale (alle Builtins, die
Funktionen der Module, auf die sich Tests stützen, samt Code-Objekten, die Methoden wichtiger Klassen, die
Eingriffspunkte von IPython). Jede Testzelle wird mit einer Prüfung davor und danach ausgeführt
(``wrap``); jede Prüfung meldet mit einem Zufallswort, das die Abgabe vorher nicht kennt, ``ok`` oder was
verändert ist. ``verdict`` wertet die Ausgaben im Elternprozess aus: fehlt eine Meldung oder meldet sie eine
Veränderung, gilt die Testzelle als nicht bestanden und die Abgabe wird zur Prüfung von Hand markiert. Eine
Abgabe kann so keine vollen Punkte still erschleichen: sie kann die Prüfung höchstens verhindern, und dann fehlt
die Meldung.
"""
from __future__ import annotations

import ast
import re
import secrets

TAG = "SOZIALRAUM-PRUEFUNG"
ENAME = "Manipulationsverdacht"
WATCHED_MODULES = ["math", "cmath", "operator", "numbers", "statistics", "functools", "numpy", "numpy.testing",
                   "pandas", "pandas.testing", "geopandas", "shapely", "sozialraum", "sozialraum.data"]
WATCHED_CLASSES = {"pandas": ["DataFrame", "Series", "Index"], "geopandas": ["GeoDataFrame", "GeoSeries"]}

PROLOGUE = r'''
def _sozialraum_pruefung_einrichten(watched, classes):
    import builtins, sys, types, importlib
    shell = get_ipython()
    for name in watched:
        try:
            importlib.import_module(name)
        except Exception:
            pass
    _id, _getattr, _vars, _list, _dict, _isinstance, _len = id, getattr, vars, list, dict, isinstance, len
    _FunctionType = types.FunctionType
    orig_builtins = _dict(_vars(builtins))
    modules = {}
    for name in watched:
        module = sys.modules.get(name)
        if module is not None:
            members = _dict(_vars(module))
            codes = {k: v.__code__ for k, v in members.items() if _isinstance(v, _FunctionType)}
            modules[name] = (module, members, codes)
    klassen = {}
    for name, names in classes.items():
        module = sys.modules.get(name)
        for cls_name in names:
            cls = _getattr(module, cls_name, None) if module is not None else None
            if cls is not None:
                klassen[name + "." + cls_name] = (cls, _dict(_vars(cls)))
    hook_names = ["run_cell", "run_cell_async", "run_ast_nodes", "run_code", "transform_cell", "showtraceback",
                  "_showtraceback", "showsyntaxerror", "should_run_async", "ex", "ev", "push"]
    lists = {"ast_transformers": _list(shell.ast_transformers),
             "input_transformers_post": _list(shell.input_transformers_post),
             "input_transformers_cleanup": _list(shell.input_transformers_cleanup)}
    trusted = tuple(p for p in {sys.prefix, sys.base_prefix, sys.modules["sozialraum"].__path__[0]
                                if "sozialraum" in sys.modules else sys.prefix})
    stdout_type = type(sys.stdout)

    def foreign(obj):
        """True für Code, der nicht aus der Python-Installation oder dem Kit stammt (also aus der Abgabe)."""
        code = _getattr(_getattr(obj, "__func__", obj), "__code__", None)
        if code is None:
            code = _getattr(_getattr(type(obj), "__call__", None), "__code__", None)
        return code is not None and not code.co_filename.startswith(trusted)
    user_ns = shell.user_ns
    # was IPython selbst im Namensraum vorgibt (z. B. sein eigenes ``open``), gilt als Original
    orig_names = {k: user_ns[k] for k in orig_builtins if k in user_ns}
    # von IPython/ipykernel je Ausführung neu gesetzt
    volatile = {"_", "__", "___", "input", "get_ipython", "display", "exit", "quit", "getpass"}

    def pruefe(wort, phase, names):
        problems = []
        if sys.modules.get("builtins") is not builtins:
            problems.append("Modul builtins ersetzt")
        for key, value in orig_builtins.items():
            if key not in volatile and builtins.__dict__.get(key, pruefe) is not value:
                problems.append("builtins." + key)
        for key in names + ["__import__", "__builtins__", "__build_class__"]:
            if key in volatile:
                continue
            if key in user_ns and key in orig_builtins and user_ns[key] is not orig_names.get(key, orig_builtins[key]):
                if not (key == "__builtins__" and user_ns[key] in (builtins, builtins.__dict__)):
                    problems.append("Name " + key + " verdeckt")
        for name, (module, members, codes) in modules.items():
            if sys.modules.get(name) is not module:
                problems.append("Modul " + name + " ersetzt")
            now = module.__dict__
            for key, value in members.items():
                if now.get(key, pruefe) is not value:
                    problems.append(name + "." + key)
            for key, code in codes.items():
                if members[key].__code__ is not code:
                    problems.append(name + "." + key + ".__code__")
        for name, (cls, members) in klassen.items():
            now = cls.__dict__
            for key, value in members.items():
                if now.get(key, pruefe) is not value:
                    problems.append(name + "." + key)
            for key in now:
                if key not in members:
                    problems.append(name + "." + key + " (neu)")
        for key in hook_names:
            if foreign(_getattr(shell, key, None)):
                problems.append("IPython " + key)
        for key, value in lists.items():
            if _list(_getattr(shell, key)) != value:
                problems.append("IPython " + key)
        for key, callbacks in shell.events.callbacks.items():
            if any(foreign(callback) for callback in callbacks):
                problems.append("IPython events " + key)
        if shell.custom_exceptions:
            problems.append("IPython custom_exceptions")
        if foreign(sys.excepthook) or foreign(sys.displayhook) or foreign(builtins.__import__):
            problems.append("sys.excepthook/displayhook")
        if sys.gettrace() is not None or sys.getprofile() is not None:
            problems.append("sys.settrace/setprofile")
        if type(sys.stdout) is not stdout_type:
            problems.append("sys.stdout")
        verdict = "ok" if not problems else "veraendert " + ",".join(problems[:12])
        sys.stdout.write("\n%s %s %s %s\n" % ("''' + TAG + r'''", wort, phase, verdict))
        sys.stdout.flush()

    module = types.ModuleType("_sozialraum_pruefung")
    module.pruefe = pruefe
    sys.modules["_sozialraum_pruefung"] = module


_sozialraum_pruefung_einrichten(@WATCHED@, @CLASSES@)
del _sozialraum_pruefung_einrichten
'''


def prologue(imported: set[str]) -> str:
    """Kernel-Code vor der ersten Zelle; beobachtet werden die Module, die das Notebook importiert."""
    watched = [m for m in WATCHED_MODULES if m.split(".")[0] in imported or m in ("math", "operator", "numbers")]
    classes = {m: c for m, c in WATCHED_CLASSES.items() if m in watched}
    return PROLOGUE.replace("@WATCHED@", repr(watched)).replace("@CLASSES@", repr(classes))


def imported_modules(sources: list[str]) -> set[str]:
    """Oberste Paketnamen aller Importe in den Zellen (``import pandas as pd``, ``from sozialraum import data``)."""
    found = set()
    for source in sources:
        for match in re.finditer(r"^\s*(?:from|import)\s+([A-Za-z_][\w.]*)", source, flags=re.MULTILINE):
            found.add(match.group(1).split(".")[0])
    return found


def names_used(source: str) -> list[str]:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    return sorted({node.id for node in ast.walk(tree) if isinstance(node, ast.Name)})


def wrap(source: str) -> tuple[str, str]:
    """(Quelltext mit Prüfung davor und danach, Zufallswort) für eine Testzelle."""
    word = secrets.token_hex(8)
    call = "__import__('sys').modules['_sozialraum_pruefung'].pruefe(%r, %r, %r)"
    names = names_used(source)
    # Magics (%...) bleiben unverändert: die Prüfung steht in eigenen Zeilen davor und danach.
    return "\n".join([call % (word, "vor", names), source, call % (word, "nach", names)]), word


LINE = re.compile(rf"^{TAG} (\w+) (vor|nach) (.*)$")


def verdict(outputs: list[dict], word: str) -> tuple[list[dict], str]:
    """Entfernt die Prüfmeldungen aus den Ausgaben; gibt (Ausgaben, Problem) zurück, Problem leer, wenn alles gut.

    Eine Testzelle mit Fehler braucht nur die Meldung ``vor`` (danach lief der Rest nicht mehr); eine ohne
    Fehler beide.
    """
    seen: dict[str, str] = {}
    kept = []
    for output in outputs:
        if output.get("output_type") == "stream" and output.get("name") == "stdout":
            text = output.get("text", "")
            lines = []
            for line in text.split("\n"):
                match = LINE.match(line)
                if match and match.group(1) == word:
                    seen.setdefault(match.group(2), match.group(3))
                elif not (match and line.startswith(TAG)):
                    lines.append(line)
            text = "\n".join(lines).strip("\n")
            if text:
                kept.append({**output, "text": text + "\n"})
            continue
        kept.append(output)
    failed = any(o.get("output_type") == "error" for o in kept)
    needed = ["vor"] if failed else ["vor", "nach"]
    problems = []
    for phase in needed:
        if phase not in seen:
            problems.append(f"Prüfung {phase} dem Test fehlt (abgefangen?)")
        elif seen[phase] != "ok":
            problems.append(f"{phase} dem Test verändert: {seen[phase].removeprefix('veraendert ')}")
    return kept, "; ".join(problems)
