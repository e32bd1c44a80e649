"""Falsche Antworten erzeugen: Mutanten einer Lösungszelle, Typ-Attrappen und hartkodierte Antworten.

Jede Variante ist der vollständige Quelltext, der in einer Abgabe an Stelle der Lösungszelle steht.
- ``mutants``: mit ``ast`` veränderte Lösung (Operatoren, Zahlen, Spaltennamen: Tausch gegen die ähnlichsten
  Textkonstanten aller Lösungszellen, also auch den falschen Nenner; weggelassene oder vertauschte
  Methoden, weggelassene Umwandlungen wie ``int(...)``).
- ``impostor_snippets``: Zeilen, die nach der Lösung die Antwort durch eine Attrappe ersetzen (Objekt, das mit allem
  gleich ist; Unterklasse von float/int/str, die immer gleich ist; falscher Datentyp; Series statt DataFrame;
  falscher Index oder falsche Schlüssel). Sie hängen vom Typ der richtigen Antwort ab.
- ``hardcoded_literals``: die Werte, mit denen die sichtbaren Tests die Antwort vergleichen.
"""
from __future__ import annotations

import ast
import difflib
from collections.abc import Iterator
from dataclasses import dataclass

OPERATOR = "Operator"
CONSTANT = "Zahl/Konstante"
COLUMN = "Spalte/Schlüssel"
METHOD = "Methode"
IMPOSTOR = "Typ-Attrappe"
HARDCODED = "hartkodiert"
CATEGORIES = [OPERATOR, CONSTANT, COLUMN, METHOD, IMPOSTOR, HARDCODED]

BINOP_SWAPS = {
    ast.Add: [ast.Sub, ast.Mult], ast.Sub: [ast.Add, ast.Div], ast.Mult: [ast.Div, ast.Add],
    ast.Div: [ast.Mult, ast.FloorDiv, ast.Sub], ast.FloorDiv: [ast.Div, ast.Mult], ast.Mod: [ast.FloorDiv],
    ast.Pow: [ast.Mult], ast.BitAnd: [ast.BitOr], ast.BitOr: [ast.BitAnd],
}
CMPOP_SWAPS = {
    ast.Lt: [ast.LtE, ast.Gt], ast.LtE: [ast.Lt, ast.GtE], ast.Gt: [ast.GtE, ast.Lt], ast.GtE: [ast.Gt, ast.LtE],
    ast.Eq: [ast.NotEq], ast.NotEq: [ast.Eq], ast.In: [ast.NotIn], ast.NotIn: [ast.In],
}
METHOD_SWAPS = {
    "sum": ["mean", "count"], "mean": ["sum", "median"], "median": ["mean"], "max": ["min"], "min": ["max"],
    "idxmax": ["idxmin"], "idxmin": ["idxmax"], "nlargest": ["nsmallest"], "nsmallest": ["nlargest"],
    "head": ["tail"], "tail": ["head"], "first": ["last"], "last": ["first"], "count": ["nunique", "sum"],
    "nunique": ["count"], "cumsum": ["cumprod"], "any": ["all"], "all": ["any"],
}
SIMILAR_STRINGS = 3  # je Textkonstante: Tausch gegen die ähnlichsten Texte (z. B. einwohner -> einwohner_unter_65)
DROPPABLE_FUNCTIONS = {"int", "float", "str", "round", "abs", "sorted", "list", "bool"}


@dataclass(frozen=True)
class Variant:
    """Eine falsche Antwort für eine Aufgabe (die Lösungszelle ``task``)."""

    task: str  # grade_id der Lösungszelle
    category: str  # eine der CATEGORIES
    description: str  # kurze deutsche Beschreibung der Änderung
    source: str  # Quelltext der Lösungszelle in dieser Variante


def _children(node: ast.AST) -> Iterator[tuple[str, int | None, ast.AST]]:
    for name, value in ast.iter_fields(node):
        if isinstance(value, list):
            for index, item in enumerate(value):
                if isinstance(item, ast.AST):
                    yield name, index, item
        elif isinstance(value, ast.AST):
            yield name, None, value


def _put(parent: ast.AST, name: str, index: int | None, node: ast.AST) -> None:
    if index is None:
        setattr(parent, name, node)
    else:
        getattr(parent, name)[index] = node


def _const(value) -> ast.expr:
    if isinstance(value, (int, float)) and value < 0:
        return ast.UnaryOp(op=ast.USub(), operand=ast.Constant(-value))
    return ast.Constant(value)


def _replacements(node: ast.AST, parent: ast.AST, strings: list[str]) -> Iterator[tuple[str, str, ast.AST]]:
    """(Kategorie, Beschreibung, Ersatzknoten) für einen Knoten."""
    if isinstance(node, ast.operator):
        for new in BINOP_SWAPS.get(type(node), []):
            yield OPERATOR, f"{type(node).__name__} -> {new.__name__}", new()
    elif isinstance(node, ast.cmpop):
        for new in CMPOP_SWAPS.get(type(node), []):
            yield OPERATOR, f"{type(node).__name__} -> {new.__name__}", new()
    elif isinstance(node, ast.boolop):
        new = ast.Or if isinstance(node, ast.And) else ast.And
        yield OPERATOR, f"{type(node).__name__} -> {new.__name__}", new()
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.Not, ast.Invert)):
        yield OPERATOR, f"{type(node.op).__name__} weggelassen", node.operand
    elif isinstance(node, ast.Constant) and not isinstance(parent, ast.JoinedStr):
        value = node.value
        if isinstance(value, bool):
            yield CONSTANT, f"{value} -> {not value}", ast.Constant(not value)
        elif isinstance(value, int):
            yield CONSTANT, f"{value} -> {value + 1}", _const(value + 1)
            yield CONSTANT, f"{value} -> {value - 1}", _const(value - 1)
        elif isinstance(value, float):
            for new in ([1.0] if value == 0 else [value * 1.1, value * 0.9]):
                yield CONSTANT, f"{value!r} -> {new!r}", _const(new)
        elif isinstance(value, str) and value in strings:
            others = [other for other in strings if other != value]
            for other in difflib.get_close_matches(value, others, n=SIMILAR_STRINGS, cutoff=0.0):
                yield COLUMN, f"{value!r} -> {other!r}", ast.Constant(other)
    elif isinstance(node, ast.Call):
        func = node.func
        if isinstance(func, ast.Attribute):
            yield METHOD, f".{func.attr}(...) weggelassen", func.value
            for other in METHOD_SWAPS.get(func.attr, []):
                swapped = ast.Call(func=ast.Attribute(value=func.value, attr=other, ctx=ast.Load()),
                                   args=node.args, keywords=node.keywords)
                yield METHOD, f".{func.attr}() -> .{other}()", swapped
        elif isinstance(func, ast.Name) and func.id in DROPPABLE_FUNCTIONS and node.args:
            yield METHOD, f"{func.id}(...) weggelassen", node.args[0]


def string_pool(sources: list[str]) -> list[str]:
    """Alle kurzen Textkonstanten (Spaltennamen, Schlüssel, Datensätze) der Lösungszellen, sortiert."""
    pool = set()
    for source in sources:
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for parent in ast.walk(tree):
            if isinstance(parent, ast.JoinedStr):
                continue
            for _, _, node in _children(parent):
                if isinstance(node, ast.Constant) and isinstance(node.value, str) and 0 < len(node.value) <= 40:
                    pool.add(node.value)
    return sorted(pool)


def mutants(task: str, source: str, strings: list[str]) -> list[Variant]:
    """Alle Mutanten der Lösungszelle ``source`` (jede mit genau einer Änderung), ohne Duplikate."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    original = ast.unparse(tree)
    seen, result = {original}, []
    for parent in list(ast.walk(tree)):
        for name, index, node in list(_children(parent)):
            for category, description, new in list(_replacements(node, parent, strings)):
                _put(parent, name, index, new)
                try:
                    text = ast.unparse(ast.fix_missing_locations(tree))
                finally:
                    _put(parent, name, index, node)
                if text not in seen:
                    seen.add(text)
                    result.append(Variant(task, category, description, text))
    return result


IMPOSTOR_CLASSES = '''
class _Attrappe:  # erbt von nichts, gleicht und ordnet sich mit allem
    def __init__(self, wert):
        object.__setattr__(self, "_wert", wert)
    def __eq__(self, other):
        return True
    def __ne__(self, other):
        return False
    __lt__ = __le__ = __gt__ = __ge__ = __contains__ = __eq__
    def __hash__(self):
        return 0
    def __bool__(self):
        return True
    def __getattr__(self, name):
        return getattr(object.__getattribute__(self, "_wert"), name)
    def __repr__(self):
        return repr(self._wert)
    def __str__(self):
        return str(self._wert)
    def __len__(self):
        return len(self._wert)
    def __iter__(self):
        return iter(self._wert)
    def __getitem__(self, key):
        return self._wert[key]
    def __float__(self):
        return float(self._wert)
    def __int__(self):
        return int(self._wert)
    def __index__(self):
        return int(self._wert)
    def __abs__(self):
        return self
    def __neg__(self):
        return self
    def _selbst(self, *args):
        return self
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __truediv__ = __rtruediv__ = _selbst
    __and__ = __rand__ = __or__ = __ror__ = __invert__ = _selbst

def _immer_gleich(basis):
    return type("_Immer" + basis.__name__, (basis,), {
        "__eq__": lambda self, other: True, "__ne__": lambda self, other: False,
        "__lt__": lambda self, other: True, "__le__": lambda self, other: True,
        "__gt__": lambda self, other: True, "__ge__": lambda self, other: True,
        "__hash__": basis.__hash__})
'''


def _first_column(frame, kinds: str):
    for column in frame.columns:
        if frame[column].dtype.kind in kinds:
            return column
    return None


def impostor_snippets(name: str, value) -> list[tuple[str, str]]:
    """(Beschreibung, Zeilen) die nach der Lösung ``name`` durch eine Attrappe ersetzen, passend zu ``value``."""
    import pandas as pd

    out = [("Objekt, das mit allem gleich ist (erbt von nichts)", f"{name} = _Attrappe({name})")]
    if type(value) is int:
        out += [("int als float", f"{name} = float({name})"), ("int als str", f"{name} = str({name})"),
                ("int-Unterklasse, immer gleich, falscher Wert", f"{name} = _immer_gleich(int)({name} + 1)")]
    elif isinstance(value, float):
        out += [("float als str", f"{name} = str({name})"), ("float gerundet zu int", f"{name} = round({name})"),
                ("float-Unterklasse, immer gleich, falscher Wert",
                 f"{name} = _immer_gleich(float)({name} * 1.5 + 1)")]
    elif isinstance(value, str):
        out += [("str-Unterklasse, immer gleich, falscher Wert", f"{name} = _immer_gleich(str)('falsch')"),
                ("Liste statt str", f"{name} = [{name}]")]
    elif isinstance(value, bool):
        out += [("bool als int", f"{name} = int({name})")]
    elif isinstance(value, pd.DataFrame):
        out += [("Series statt DataFrame", f"{name} = {name}.iloc[:, -1]"),
                ("dict statt DataFrame", f"{name} = {name}.to_dict()"),
                ("eine Zeile fehlt", f"{name} = {name}.iloc[:-1]"),
                ("Spaltenname falsch", f"{name} = {name}.rename(columns={{{name}.columns[-1]: 'falsch'}})")]
        out.append(_wrong_index(name, value.index))
        numeric = _first_column(value, "f")
        if numeric is not None:
            out += [("Gleitkommaspalte als Text", f"{name} = {name}.astype({{{numeric!r}: str}})"),
                    ("Gleitkommaspalte als int", f"{name} = {name}.assign(**{{{numeric!r}: "
                                                  f"{name}[{numeric!r}].fillna(0).round().astype(int)}})")]
        integer = _first_column(value, "iu")
        if integer is not None:
            out.append(("Ganzzahlspalte als float", f"{name} = {name}.astype({{{integer!r}: float}})"))
        if hasattr(value, "crs") and value.crs is not None:
            out += [("DataFrame statt GeoDataFrame", f"import pandas as _pd\n{name} = _pd.DataFrame({name})"),
                    ("falsches Koordinatensystem", f"{name} = {name}.to_crs(4326)")]
    elif isinstance(value, pd.Series):
        out += [("DataFrame statt Series", f"{name} = {name}.to_frame()"),
                ("dict statt Series", f"{name} = {name}.to_dict()"),
                ("Array statt Series", f"{name} = {name}.to_numpy()"),
                ("ein Eintrag fehlt", f"{name} = {name}.iloc[:-1]"),
                ("Werte als Text", f"{name} = {name}.astype(str)"), _wrong_index(name, value.index)]
        if value.dtype.kind == "f":
            out.append(("Gleitkommawerte als int", f"{name} = {name}.fillna(0).round().astype(int)"))
    elif isinstance(value, dict):
        out += [("ein Schlüssel fehlt", f"{name} = dict(list({name}.items())[:-1])"),
                ("Werte als Text", f"{name} = {{k: str(v) for k, v in {name}.items()}}")]
        if value and all(isinstance(k, str) and k.isdigit() for k in value):
            out.append(("Schlüssel als Zahl", f"{name} = {{int(k): v for k, v in {name}.items()}}"))
    elif isinstance(value, (list, tuple)):
        other = "tuple" if isinstance(value, list) else "list"
        out += [(f"{other} statt {type(value).__name__}", f"{name} = {other}({name})"),
                ("umgekehrte Reihenfolge", f"{name} = type({name})(reversed({name}))")]
    return out


def _wrong_index(name: str, index) -> tuple[str, str]:
    import pandas as pd

    if index.dtype.kind not in "iuf" and all(isinstance(k, str) and k.isdigit() for k in index[:50]):
        return "Index-Schlüssel als Zahl statt Text", f"{name} = {name}.set_axis({name}.index.astype(int))"
    if isinstance(index, pd.RangeIndex):
        return "falscher Index (ab 1 statt ab 0)", f"{name} = {name}.set_axis(range(1, len({name}) + 1))"
    return "falscher Index (durchnummeriert)", f"{name} = {name}.reset_index(drop=True)"


def impostor_source(solution: str, snippet: str) -> str:
    """Lösung, danach die Klassen der Attrappen und die Zeilen, die die Antwort ersetzen."""
    return f"{solution}\n{IMPOSTOR_CLASSES}\n{snippet}\n"


def _asserts(source: str) -> list[ast.Assert]:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    return [node for node in ast.walk(tree) if isinstance(node, ast.Assert)]


def hardcoded_literals(visible_test: str, name: str) -> list[str]:
    """Quelltext der Literale, mit denen sichtbare Zusicherungen über ``name`` die Antwort vergleichen."""
    found = []
    for statement in _asserts(visible_test):
        names = {n.id for n in ast.walk(statement.test) if isinstance(n, ast.Name)}
        if name not in names:
            continue
        for node in ast.walk(statement.test):
            if isinstance(node, (ast.Constant, ast.List, ast.Tuple, ast.Set, ast.Dict, ast.UnaryOp)):
                try:
                    value = ast.literal_eval(node)
                except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                    continue
                text = repr(value)
                if value is not None and not isinstance(value, type) and text not in found:
                    found.append(text)
    return found
