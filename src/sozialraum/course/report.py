"""Ausgaben der Bewertung: Notentabelle (Excel-CSV und XLSX) und Rückmeldungen als HTML (deutsch)."""
from __future__ import annotations

import csv
import html
import io
import os
import tempfile
from pathlib import Path

# Keine Skripte in Rückmeldungen: auch was der Bereinigung entginge, führt der Browser nicht aus.
CSP = ('<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; img-src data:; '
       'style-src \'unsafe-inline\'; font-src data:">')
NO_RESPONSE = "No response."  # nbgrader's automatischer Kommentar zu einer unveränderten Antwortzelle
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

def write_atomic(path: Path, text: str | bytes) -> None:
    """Schreibt erst in eine Datei daneben und ersetzt dann: nie eine halbe Datei, auch nicht bei vollem Datenträger."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(text.encode("utf-8") if isinstance(text, str) else text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def as_text(value) -> str:
    """Text, den eine Tabellenkalkulation nie als Formel liest (führendes Apostroph vor = + - @)."""
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def problem_page(path: Path, assignment: str, name: str, message: str) -> None:
    """Rückmeldung für eine Abgabe, die nicht bewertet werden konnte (z. B. keine gültige Notebook-Datei)."""
    write_atomic(path,
        '<!DOCTYPE html>\n<html lang="de"><head><meta charset="utf-8">' + CSP +
        f"<title>Rückmeldung {html.escape(assignment)}</title></head>\n<body>\n"
        f"<h1>Rückmeldung zur Übung {html.escape(assignment)}</h1>\n"
        f"<p>{html.escape(f'Hallo {name},' if name else 'Hallo,')}</p>\n"
        f"<p>Ihre Abgabe konnte leider nicht automatisch bewertet werden: {html.escape(message)}</p>\n"
        "<p>Tipp: Öffnen Sie die Übung in JupyterLab, speichern Sie sie (Strg+S) und laden Sie die Datei "
        "über <i>File → Download</i> erneut herunter. Schicken Sie dann diese Datei.</p>\n</body></html>\n")


def german_number(value) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        text = f"{float(value):.2f}".rstrip("0").rstrip(".")
        return text.replace(".", ",")
    return as_text(value)


def write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    """Tabelle für deutsches Excel: Semikolon, UTF-8 mit BOM, Dezimalkomma."""
    handle = io.StringIO(newline="")
    writer = csv.writer(handle, delimiter=";", lineterminator="\r\n")
    writer.writerow([as_text(name) for name in header])
    writer.writerows([[german_number(value) for value in row] for row in rows])
    write_atomic(path, "\ufeff" + handle.getvalue())


def write_xlsx(path: Path, header: list[str], rows: list[list], title: str) -> None:
    """Dieselbe Tabelle als XLSX: Zahlen bleiben Zahlen, Kopfzeile fett und fixiert, Autofilter."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = title[:31]
    sheet.append(header)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append([None if value == "" else value for value in row])
    for line in sheet.iter_rows():
        for cell in line:
            if isinstance(cell.value, str):
                cell.data_type = "s"  # nie eine Formel, auch wenn der Text mit = beginnt
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = sheet.dimensions
    for index, name in enumerate(header, start=1):
        width = max([len(str(name))] + [len(str(row[index - 1])) for row in rows]) + 2
        sheet.column_dimensions[get_column_letter(index)].width = min(width, 60)
    buffer = io.BytesIO()
    workbook.save(buffer)
    write_atomic(path, buffer.getvalue())


def points_text(score, maximum) -> str:
    """„9 von 20 Punkten“, „1 von 1 Punkt“, „2,5 von 4 Punkten“ (deutsche Zahlen, Einzahl bei 1).

    >>> points_text(9.0, 20.0), points_text(0, 1), points_text(2.5, 4)
    ('9 von 20 Punkten', '0 von 1 Punkt', '2,5 von 4 Punkten')
    """
    unit = "Punkt" if float(maximum) == 1 else "Punkten"
    return f"{german_number(float(score or 0))} von {german_number(float(maximum))} {unit}"
