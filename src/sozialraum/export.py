"""Exporte, wie Ämter sie brauchen – Excel-CSV, XLSX, GeoPackage mit QGIS-Stil – und eine Prüfung auf Barrierefreiheit.

Modul 08 baut jeden Export einmal von Hand; danach erledigen diese Funktionen dasselbe in einer Zeile:

- :func:`write_excel_csv`: CSV für deutsches Excel (Semikolon, Dezimalkomma, UTF-8 mit BOM, damit Umlaute stimmen),
- :func:`write_xlsx`: XLSX mit echten Zahlen, Zahlenformaten und einem Blatt „Spalten“, das jede Spalte beschreibt,
- :func:`qgis_style` und :func:`write_geopackage`: ein GeoPackage in EPSG:25832, das sich in QGIS gleich mit Farben,
  Legende und schraffierten gesperrten Flächen öffnet (Stil in der Tabelle ``layer_styles``, die QGIS liest),
- :func:`check_accessibility`: prüft eine Abbildung nach BITV NRW (farbfehlsichtig lesbare Farben, nie Farbe allein,
  Alternativtext, Tabelle zu jeder Karte),
- :func:`notebook_html`: ein ausgeführtes Notebook als eine HTML-Datei mit gespeicherten Widgets, ohne CDN.

Beispiele
---------
>>> import pandas as pd
>>> tabelle = pd.DataFrame({"stadtteil_id": ["0101"], "name": ["Altstadt"], "quote": [21.25]})
>>> write_excel_csv(tabelle, "/tmp/beispiel.csv").read_bytes()
b'\\xef\\xbb\\xbfstadtteil_id;name;quote\\r\\n0101;Altstadt;21,25\\r\\n'
"""
from __future__ import annotations

import re
from pathlib import Path
from xml.sax.saxutils import quoteattr

import matplotlib.colors as mcolors
import pandas as pd
from matplotlib.collections import PatchCollection, PolyCollection
from matplotlib.figure import Figure

from sozialraum.formatting import MISSING_TEXT

CRS = "EPSG:25832"
ASSETS = Path(__file__).resolve().parent / "assets"
WIDGET_EMBED = ASSETS / "html-manager-1.0.15" / "embed.js"

# Farbverläufe, die auch bei Rot-Grün-Schwäche lesbar bleiben (Helligkeit steigt gleichmäßig) – auch umgekehrt (_r)
SAFE_COLORMAPS = {
    "viridis", "cividis", "magma", "inferno", "plasma", "YlGnBu", "YlOrBr", "YlOrRd", "OrRd", "PuBu", "BuPu",
    "Blues", "Greens", "Greys", "Oranges", "Purples", "PuOr", "RdBu", "BrBG",
}  # fmt: skip
MIN_ALT_WORDS = 8


def write_excel_csv(table: pd.DataFrame, path, index: bool = False) -> Path:
    """Eine Tabelle als CSV für deutsches Excel: Semikolon, Dezimalkomma, UTF-8 mit BOM, Zeilenende ``\\r\\n``.

    Ohne BOM zeigt Excel Umlaute falsch („MÃ¼lheim“), mit Komma als Trennzeichen landet alles in einer Spalte,
    mit Dezimalpunkt wird aus 21.25 ein Datum oder Text. Gesperrte oder fehlende Werte bleiben leer. Schlüssel
    (``stadtteil_id``) als Text übergeben, dann bleiben führende Nullen in der Datei.

    >>> import pandas as pd
    >>> tabelle = pd.DataFrame({"bezirk": ["Rüttenscheid"], "quote": [7.5], "kinder": pd.array([pd.NA], "Int64")})
    >>> text = write_excel_csv(tabelle, "/tmp/beispiel.csv").read_text(encoding="utf-8-sig")
    >>> text.splitlines()
    ['bezirk;quote;kinder', 'Rüttenscheid;7,5;']
    """
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"write_excel_csv erwartet eine Tabelle (pd.DataFrame), nicht {type(table).__name__}.")
    path = Path(path)
    table.to_csv(path, sep=";", decimal=",", encoding="utf-8-sig", index=index, na_rep="", lineterminator="\r\n")
    return path


def _number_format(column: pd.Series) -> str:
    if pd.api.types.is_integer_dtype(column):
        return "#,##0"
    return "#,##0.0"


def write_xlsx(table: pd.DataFrame, path, descriptions: dict[str, str], number_formats: dict[str, str] | None = None,
               sheet: str = "Daten", source: str = "Daten: synthetisch (Sozialraum-Kit)") -> Path:
    """Eine Tabelle als XLSX: echte Zahlen mit Zahlenformat, Kopfzeile fixiert, dazu ein Blatt „Spalten“.

    ``descriptions`` beschreibt **jede** Spalte (Bedeutung, Einheit, Zähler/Nenner); fehlt eine, bricht die Funktion
    ab. ``number_formats`` legt Excel-Formate fest, z. B. ``{"quote": "0.0"}``; sonst gilt ``#,##0`` für ganze und
    ``#,##0.0`` für Kommazahlen. Excel-Formate stehen in der Datei immer in englischer Schreibweise – ein deutsches
    Excel zeigt ``#,##0.0`` als „1.234,5“. Gesperrte Werte (``<NA>``) bleiben leere Zellen, keine Nullen.

    >>> import pandas as pd
    >>> from openpyxl import load_workbook
    >>> tabelle = pd.DataFrame({"name": ["Altstadt"], "quote": [21.25]})
    >>> pfad = write_xlsx(tabelle, "/tmp/beispiel.xlsx", {"name": "Stadtteil", "quote": "SGB-II-Quote in %"})
    >>> mappe = load_workbook(pfad)
    >>> mappe.sheetnames, mappe["Daten"]["B2"].value, mappe["Daten"]["B2"].number_format
    (['Daten', 'Spalten'], 21.25, '#,##0.0')
    """
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"write_xlsx erwartet eine Tabelle (pd.DataFrame), nicht {type(table).__name__}.")
    missing = [str(column) for column in table.columns if not str(descriptions.get(column, "")).strip()]
    if missing:
        raise ValueError(f"Für diese Spalten fehlt eine Beschreibung: {', '.join(missing)}. "
                         "Tipp: descriptions={'spalte': 'Bedeutung, Einheit'} für jede Spalte angeben.")
    formats = {column: _number_format(table[column]) for column in table.columns
               if pd.api.types.is_numeric_dtype(table[column]) and not pd.api.types.is_bool_dtype(table[column])}
    formats.update(number_formats or {})
    path = Path(path)
    data = table.astype(object).where(table.notna(), None)  # <NA> -> leere Zelle
    legend = pd.DataFrame({"Spalte": [str(c) for c in table.columns],
                           "Beschreibung": [descriptions[c] for c in table.columns]})
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        data.to_excel(writer, sheet_name=sheet, index=False)
        legend.to_excel(writer, sheet_name="Spalten", index=False, startrow=0)
        sheet_data, sheet_legend = writer.sheets[sheet], writer.sheets["Spalten"]
        sheet_data.freeze_panes = "A2"
        for number, column in enumerate(table.columns, start=1):
            letter = sheet_data.cell(row=1, column=number).column_letter
            width = max(len(str(column)), *(len(str(v)) for v in table[column].head(200))) if len(table) else 10
            sheet_data.column_dimensions[letter].width = min(width + 2, 60)
            if column in formats:
                for row in range(2, len(table) + 2):
                    sheet_data.cell(row=row, column=number).number_format = formats[column]
        sheet_legend.column_dimensions["A"].width = 24
        sheet_legend.column_dimensions["B"].width = 90
        sheet_legend.cell(row=len(legend) + 3, column=1, value="Quelle")
        sheet_legend.cell(row=len(legend) + 3, column=2, value=source)
    return path


def _rgba(colour: str) -> str:
    red, green, blue, alpha = (round(part * 255) for part in mcolors.to_rgba(colour))
    return f"{red},{green},{blue},{alpha}"


def _fill_symbol(name: str, colour: str, style: str) -> str:
    return (
        f'<symbol type="fill" name="{name}" alpha="1" clip_to_extent="1" force_rhr="0">'
        '<layer class="SimpleFill" enabled="1" locked="0" pass="0"><Option type="Map">'
        f'<Option type="QString" name="color" value="{_rgba(colour)}"/>'
        f'<Option type="QString" name="style" value="{style}"/>'
        '<Option type="QString" name="outline_color" value="255,255,255,255"/>'
        '<Option type="QString" name="outline_width" value="0.26"/>'
        '<Option type="QString" name="outline_width_unit" value="MM"/>'
        "</Option></layer></symbol>"
    )


def qgis_style(column: str, colours: dict[str, str], missing: str = MISSING_TEXT) -> str:
    """Ein QGIS-Stil (QML) nach Kategorien: jede Klasse von ``column`` in ihrer Farbe, gesperrte Flächen schraffiert.

    ``colours`` ordnet jeder Klassenbeschriftung (z. B. aus ``class_labels``) eine Farbe zu, in der Reihenfolge der
    Legende. Flächen mit der Beschriftung ``missing`` („keine Angabe“) werden grau **schraffiert** – so sind sie
    auch ohne Farbe zu erkennen. Das Ergebnis übergeben Sie an :func:`write_geopackage`.

    >>> qml = qgis_style("klasse", {"bis 10 %": "#fde725", "über 10 %": "#21918c"})
    >>> 'attr="klasse"' in qml and 'label="bis 10 %"' in qml and 'value="b_diagonal"' in qml
    True
    """
    labels = list(colours) + ([missing] if missing not in colours else [])
    categories, symbols = [], []
    for number, label in enumerate(labels):
        categories.append(f'<category symbol="{number}" value={quoteattr(label)} label={quoteattr(label)} '
                          'render="true"/>')
        if label == missing:
            symbols.append(_fill_symbol(str(number), "#8c8c8c", "b_diagonal"))
        else:
            symbols.append(_fill_symbol(str(number), colours[label], "solid"))
    return (
        "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"
        '<qgis version="3.28.0" styleCategories="Symbology">'
        f'<renderer-v2 type="categorizedSymbol" attr={quoteattr(column)} symbollevels="0" enableorderby="0" '
        'forceraster="0">'
        f"<categories>{''.join(categories)}</categories><symbols>{''.join(symbols)}</symbols>"
        "</renderer-v2></qgis>\n"
    )


def write_geopackage(frame, path, layer: str, style: str | None = None, style_name: str = "Kit-Stil") -> Path:
    """Eine Ebene in ein GeoPackage schreiben, immer in EPSG:25832, auf Wunsch mit QGIS-Stil (Standardstil der Ebene).

    Der Stil landet in der Tabelle ``layer_styles`` im GeoPackage – dort sucht QGIS beim Öffnen einer Ebene
    ihren Standardstil (``useAsDefault``). Eine vorhandene Ebene gleichen Namens wird ersetzt, andere bleiben.

    >>> import geopandas as gpd
    >>> import sqlite3
    >>> from shapely.geometry import box
    >>> flaechen = gpd.GeoDataFrame({"klasse": ["bis 10 %"]}, geometry=[box(0, 0, 1, 1)], crs="EPSG:25832")
    >>> pfad = write_geopackage(flaechen, "/tmp/beispiel.gpkg", "quote",
    ...                         style=qgis_style("klasse", {"bis 10 %": "#fde725"}))
    >>> sqlite3.connect(pfad).execute("SELECT f_table_name, useAsDefault FROM layer_styles").fetchall()
    [('quote', 1)]
    """
    import geopandas as gpd
    import pyogrio

    if not isinstance(frame, gpd.GeoDataFrame):
        raise TypeError(f"write_geopackage erwartet einen GeoDataFrame, nicht {type(frame).__name__}.")
    if frame.crs is None:
        raise ValueError("Die Geodaten haben kein Koordinatensystem. Tipp: frame.set_crs('EPSG:25832') "
                         "(nur wenn die Koordinaten wirklich ETRS89/UTM 32 sind).")
    path = Path(path)
    frame.to_crs(CRS).to_file(path, layer=layer, driver="GPKG")
    if style is None:
        return path
    geometry_column = pyogrio.read_info(path, layer=layer)["geometry_name"] or "geom"
    rows = []
    if "layer_styles" in pyogrio.list_layers(path)[:, 0]:
        rows = [pyogrio.read_dataframe(path, layer="layer_styles", read_geometry=False)]
        rows[0] = rows[0][rows[0]["f_table_name"] != layer]
    rows.append(pd.DataFrame({
        "f_table_catalog": [""], "f_table_schema": [""], "f_table_name": [layer],
        "f_geometry_column": [geometry_column], "styleName": [style_name], "styleQML": [style], "styleSLD": [""],
        "useAsDefault": [True], "description": [f"Stil aus dem Sozialraum-Kit für {layer}"], "owner": [""],
        "ui": [""], "update_time": [pd.Timestamp.now(tz="UTC").floor("s")],
    }))
    styles = pd.concat(rows, ignore_index=True)
    pyogrio.write_dataframe(styles, path, layer="layer_styles", layer_options={"FID": "id", "OVERWRITE": "YES"})
    return path


def _colormap_names(fig: Figure) -> set[str]:
    names = set()
    for ax in fig.axes:
        for artist in [*ax.collections, *ax.images]:
            cmap = getattr(artist, "get_cmap", lambda: None)()
            if cmap is not None and artist.get_array() is not None:
                names.add(cmap.name)
    return names


def _is_map(ax) -> bool:
    return any(isinstance(c, (PatchCollection, PolyCollection)) and len(c.get_paths()) >= 3 for c in ax.collections)


def check_accessibility(fig: Figure, alt_text: str, table: pd.DataFrame | None = None) -> list[str]:
    """Prüft eine Abbildung nach BITV NRW; gibt die Befunde als deutsche Sätze zurück (leer = in Ordnung).

    Geprüft wird:

    1. **Alternativtext**: mindestens acht Wörter, die sagen, was die Abbildung zeigt (für Screenreader, Vorlagen).
    2. **Farben**: jeder Farbverlauf ist farbfehlsichtig lesbar (``viridis``, ``cividis``, ``YlGnBu`` …, nicht
       ``jet``, ``rainbow`` oder ``RdYlGn``).
    3. **Nie Farbe allein**: mehrere Linien in einem Diagramm unterscheiden sich auch in Linienart oder Marker; eine
       Karte hat eine Legende mit Klassenbeschriftungen.
    4. **Tabelle zu jeder Karte**: Zu einer Karte (Achse mit Flächen) gehört ``table``, eine Tabelle mit denselben
       Werten.

    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> _ = ax.plot([2020, 2024], [10, 12], color="#0072B2", label="Stadt")
    >>> _ = ax.plot([2020, 2024], [14, 13], color="#D55E00", label="Altstadt")
    >>> check_accessibility(fig, "Linien")
    ['Der Alternativtext ist zu kurz (1 Wörter, mindestens 8). Tipp: sagen, was die Abbildung zeigt und was daraus folgt.', 'Die Linien „Stadt“ und „Altstadt“ unterscheiden sich nur in der Farbe. Tipp: linestyle="--" oder marker="s" für eine davon.']
    >>> plt.close(fig)
    """
    if not isinstance(fig, Figure):
        raise TypeError("check_accessibility erwartet eine matplotlib-Abbildung (fig).")
    problems = []
    words = len(str(alt_text or "").split())
    if words < MIN_ALT_WORDS:
        problems.append(f"Der Alternativtext ist zu kurz ({words} Wörter, mindestens {MIN_ALT_WORDS}). "
                        "Tipp: sagen, was die Abbildung zeigt und was daraus folgt.")
    for name in sorted(_colormap_names(fig)):
        if name.removesuffix("_r") not in SAFE_COLORMAPS:
            problems.append(f"Der Farbverlauf „{name}“ ist bei Farbfehlsichtigkeit schwer zu lesen. "
                            "Tipp: cmap=\"viridis\", \"cividis\" oder \"YlGnBu\".")
    for ax in fig.axes:
        lines = [line for line in ax.get_lines() if not line.get_label().startswith("_")]
        for number, first in enumerate(lines):
            for second in lines[number + 1:]:
                same_style = first.get_linestyle() == second.get_linestyle()
                same_marker = first.get_marker() == second.get_marker()
                if same_style and same_marker:
                    problems.append(f"Die Linien „{first.get_label()}“ und „{second.get_label()}“ unterscheiden "
                                    "sich nur in der Farbe. Tipp: linestyle=\"--\" oder marker=\"s\" für eine davon.")
        if _is_map(ax):
            legend = ax.get_legend()
            if legend is None or not [t for t in legend.get_texts() if t.get_text().strip()]:
                problems.append("Die Karte hat keine Legende mit Klassen. Tipp: legend=True und "
                                "legend_kwds={\"labels\": class_labels(...)}.")
            if not isinstance(table, pd.DataFrame) or table.empty:
                problems.append("Zur Karte fehlt eine Tabelle mit denselben Werten (Tabellenalternative). "
                                "Tipp: table=... mit Gebiet und Wert übergeben.")
    return problems


# Was nbconvert in eine HTML-Seite schreibt und aus dem Internet lädt; hier ersetzt oder entfernt
_WIDGET_LOADER = re.compile(r"<script>\s*\(function\(\) \{\s*function addWidgetsRenderer\(\).*?</script>", re.S)
_EXTERNAL_SCRIPT = re.compile(r'<script[^>]*\ssrc="https?://[^"]*"[^>]*>\s*</script>')
_MATHJAX_CONFIG = re.compile(r'<script type="text/x-mathjax-config">.*?</script>', re.S)
_MERMAID = re.compile(r'<script type="module">\s*document\.addEventListener\("DOMContentLoaded", async \(\) => \{'
                      r'\s*const diagrams = document\.querySelectorAll\("\.jp-Mermaid.*?</script>', re.S)
EXTERNAL_LOADS = re.compile(r'<(?:script|link|img|iframe)[^>]*\s(?:src|href)="(https?://[^"]+)"'
                            r'|import\s*\(?\s*["\'](https?://[^"\']+)')


def notebook_html(notebook, path) -> Path:
    """Ein ausgeführtes Notebook als eine einzige HTML-Datei, mit gespeicherten Widgets, ohne Internet.

    nbconvert (und in JupyterLab „Datei › Notebook speichern und exportieren als... › HTML“) lädt den
    Widget-Zeichner, require.js und MathJax von CDNs; in einem gesperrten Netz bleiben die Widgets dann leer. Diese
    Funktion schreibt stattdessen den mitgelieferten Zeichner (``assets/html-manager-1.0.15/embed.js``, aus npm) in
    die Seite und lässt require.js, MathJax (Formeln) und Mermaid (Diagramme) weg. Die Widgets zeigen den
    gespeicherten Zustand (letzte Auswahl, Karte, Grafik, Tabelle); Auswahlfelder ändern ohne laufenden Kernel nichts
    mehr. Wirft ``ValueError``, wenn ein Verweis ins Internet übrig bleibt.

    ``notebook``: Pfad oder ``nbformat.NotebookNode``, mit Ausgaben und mit Widget-Zustand in den Metadaten
    (nbclient speichert ihn beim Ausführen; in JupyterLab „Einstellungen › Save Widget State Automatically“
    anhaken, dann speichern).
    """
    import nbformat
    from nbconvert import HTMLExporter

    if not isinstance(notebook, nbformat.NotebookNode):
        notebook = nbformat.read(notebook, as_version=4)
    exporter = HTMLExporter(template_name="lab")
    html, _ = exporter.from_notebook_node(notebook)
    embed = WIDGET_EMBED.read_text(encoding="utf-8")  # enthält kein "</script" (Test)
    html = _MERMAID.sub("", _MATHJAX_CONFIG.sub("", html))  # Notebooks des Kits haben keine Formeln, keine Diagramme
    html = _EXTERNAL_SCRIPT.sub("", html)
    if "application/vnd.jupyter.widget-state+json" in html:
        html, found = _WIDGET_LOADER.subn(lambda _: f"<script>{embed}</script>", html, count=1)
        if not found or html.count("<head>") != 1:
            raise ValueError("Der Widget-Lader von nbconvert hat sich geändert. Tipp: nbconvert-Version prüfen.")
        # embed.js (webpack) sucht seinen Ablageort über das src des ersten <script> der Seite; ein leeres
        # data:-Skript ganz vorn genügt (es lädt nichts, auch keine Schriftarten aus dem Netz).
        html = html.replace("<head>", '<head>\n<script src="data:text/javascript,"></script>', 1)
    left = [m.group(1) or m.group(2) for m in EXTERNAL_LOADS.finditer(html)]
    if left:
        raise ValueError(f"Die Seite lädt noch aus dem Internet: {', '.join(sorted(set(left)))}.")
    path = Path(path)
    path.write_text(html, encoding="utf-8")
    return path

