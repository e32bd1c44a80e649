"""Exporte für Ämter (sozialraum.export): Excel-CSV, XLSX, GeoPackage mit QGIS-Stil, Barrierefreiheit, HTML ohne CDN."""
import sqlite3
import xml.etree.ElementTree as ET

import geopandas as gpd
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import nbformat  # noqa: E402
import pandas as pd  # noqa: E402
import pyogrio  # noqa: E402
import pytest  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from openpyxl import load_workbook  # noqa: E402
from shapely.geometry import box  # noqa: E402

from sozialraum import export  # noqa: E402

TABLE = pd.DataFrame({
    "stadtteil_id": ["0101", "0102"],
    "name": ["Altstadt", "Süderfeld"],
    "kinder": pd.array([1234, pd.NA], dtype="Int64"),
    "quote": [21.25, float("nan")],
})  # fmt: skip
DESCRIPTIONS = {"stadtteil_id": "Schlüssel", "name": "Name", "kinder": "Kinder (Anzahl)", "quote": "Quote in %"}


def areas(crs="EPSG:25832"):
    return gpd.GeoDataFrame({"klasse": ["bis 10 %", "über 10 %", "keine Angabe"]},
                            geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1), box(2, 0, 3, 1)], crs="EPSG:25832").to_crs(crs)


def test_excel_csv_has_bom_semicolon_decimal_comma_and_empty_suppressed_cells(tmp_path):
    raw = export.write_excel_csv(TABLE, tmp_path / "t.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    lines = raw[3:].decode("utf-8").split("\r\n")
    assert lines[0] == "stadtteil_id;name;kinder;quote"
    assert lines[1] == "0101;Altstadt;1234;21,25"
    assert lines[2] == "0102;Süderfeld;;"
    back = pd.read_csv(tmp_path / "t.csv", sep=";", decimal=",", encoding="utf-8-sig", dtype={"stadtteil_id": str})
    assert back["stadtteil_id"].tolist() == ["0101", "0102"] and back["quote"].iloc[0] == 21.25


def test_excel_csv_rejects_a_series(tmp_path):
    with pytest.raises(TypeError, match="pd.DataFrame"):
        export.write_excel_csv(TABLE["quote"], tmp_path / "t.csv")


def test_xlsx_stores_real_numbers_with_formats_and_describes_every_column(tmp_path):
    path = export.write_xlsx(TABLE, tmp_path / "t.xlsx", DESCRIPTIONS, number_formats={"quote": "0.0"})
    book = load_workbook(path)
    assert book.sheetnames == ["Daten", "Spalten"]
    data = book["Daten"]
    assert [cell.value for cell in data[1]] == list(TABLE.columns)
    assert data["A2"].value == "0101" and data["C2"].value == 1234 and isinstance(data["D2"].value, float)
    assert data["C2"].number_format == "#,##0" and data["D2"].number_format == "0.0"
    assert data["C3"].value is None and data["D3"].value is None  # gesperrt: leer, keine 0
    assert data.freeze_panes == "A2"
    legend = {row[0]: row[1] for row in book["Spalten"].iter_rows(min_row=2, values_only=True) if row[0]}
    assert {column: legend[column] for column in TABLE.columns} == DESCRIPTIONS
    assert legend["Quelle"].startswith("Daten: synthetisch")


def test_xlsx_refuses_a_column_without_description(tmp_path):
    with pytest.raises(ValueError, match="quote"):
        export.write_xlsx(TABLE, tmp_path / "t.xlsx", {k: v for k, v in DESCRIPTIONS.items() if k != "quote"})


def test_qgis_style_is_valid_xml_with_one_category_per_class_and_hatched_missing():
    qml = export.qgis_style("klasse", {"bis 10 %": "#ffffcc", "über 10 %": "#253494"})
    root = ET.fromstring(qml.split("\n", 1)[1])
    renderer = root.find("renderer-v2")
    assert renderer.get("type") == "categorizedSymbol" and renderer.get("attr") == "klasse"
    categories = renderer.findall("categories/category")
    assert [c.get("value") for c in categories] == ["bis 10 %", "über 10 %", "keine Angabe"]
    styles = {s.get("name"): {o.get("name"): o.get("value") for o in s.iter("Option") if o.get("name")}
              for s in renderer.findall("symbols/symbol")}
    assert styles["0"]["color"] == "255,255,204,255" and styles["0"]["style"] == "solid"
    assert styles["2"]["style"] == "b_diagonal"


def test_geopackage_is_in_25832_with_default_style_in_layer_styles(tmp_path):
    path = tmp_path / "m.gpkg"
    style = export.qgis_style("klasse", {"bis 10 %": "#ffffcc", "über 10 %": "#253494"})
    export.write_geopackage(areas("EPSG:4326"), path, "kinderarmut", style=style)
    export.write_geopackage(areas(), path, "sgb2", style=style)
    export.write_geopackage(areas(), path, "kinderarmut", style=style.replace("#", ""), style_name="neu")
    assert gpd.read_file(path, layer="kinderarmut").crs.to_epsg() == 25832
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT f_table_name, f_geometry_column, styleName, useAsDefault, styleQML "
                          "FROM layer_styles ORDER BY f_table_name").fetchall()
        geometry = dict(db.execute("SELECT table_name, column_name FROM gpkg_geometry_columns").fetchall())
        kind = dict(db.execute("SELECT table_name, data_type FROM gpkg_contents").fetchall())
    assert [(r[0], r[2], r[3]) for r in rows] == [("kinderarmut", "neu", 1), ("sgb2", "Kit-Stil", 1)]
    assert "#" not in rows[0][4] and rows[1][4] == style  # der Stil der ersetzten Ebene ist neu, der andere bleibt
    assert all(r[1] == geometry[r[0]] for r in rows)
    assert kind["layer_styles"] == "attributes"
    assert rows[0][4].startswith("<!DOCTYPE qgis")
    assert set(pyogrio.list_layers(path)[:, 0]) == {"kinderarmut", "sgb2", "layer_styles"}


def test_geopackage_without_crs_is_refused(tmp_path):
    with pytest.raises(ValueError, match="Koordinatensystem"):
        export.write_geopackage(areas().set_crs(None, allow_override=True), tmp_path / "m.gpkg", "x")


ALT = "Liniengrafik der Kinderarmut von Stadt und Stadtteil über zehn Jahre im Vergleich."


def lines(styles, cmap=None):
    fig, ax = plt.subplots()
    for number, style in enumerate(styles):
        ax.plot([0, 1], [number, number + 1], label=f"Linie {number}", **style)
    if cmap:
        ax.imshow([[0, 1], [1, 0]], cmap=cmap)
    return fig


def test_accessibility_accepts_distinct_lines_and_a_safe_colormap():
    fig = lines([{"color": "#0072B2"}, {"color": "#D55E00", "linestyle": "--", "marker": "s"}], cmap="viridis")
    assert export.check_accessibility(fig, ALT) == []
    plt.close(fig)


def test_accessibility_flags_rainbow_colour_only_lines_and_a_short_alt_text():
    fig = lines([{"color": "green"}, {"color": "red"}], cmap="jet")
    problems = export.check_accessibility(fig, "Grafik")
    plt.close(fig)
    assert len(problems) == 3
    assert "Alternativtext" in problems[0] and "jet" in problems[1] and "nur in der Farbe" in problems[2]


def map_figure(legend):
    fig, ax = plt.subplots()
    areas().plot(ax=ax, color=["#ffffcc", "#253494", "#bdbdbd"])
    if legend:
        ax.legend(handles=[Patch(facecolor="#ffffcc", label="bis 10 %")])
    return fig


def test_accessibility_wants_a_legend_and_a_table_for_every_map():
    bare, good = map_figure(legend=False), map_figure(legend=True)
    problems = export.check_accessibility(bare, ALT)
    assert any("Legende" in p for p in problems) and any("Tabelle" in p for p in problems)
    assert export.check_accessibility(good, ALT, table=pd.DataFrame({"gebiet": ["a"], "wert": [1]})) == []
    plt.close("all")


def widget_notebook():
    """Ein Notebook mit gespeichertem Widget-Zustand, wie nbclient es nach dem Ausführen schreibt."""
    model = "5b1c1a5e0d4f4e6f8a9b0c1d2e3f4a5b"
    state = {"state": {model: {"model_name": "HTMLModel", "model_module": "@jupyter-widgets/controls",
                               "model_module_version": "2.0.0", "state": {"value": "<b>Monitor</b>"}}},
             "version_major": 2, "version_minor": 0}
    notebook = nbformat.v4.new_notebook(metadata={"widgets": {"application/vnd.jupyter.widget-state+json": state}})
    cell = nbformat.v4.new_code_cell("widgets.HTML('<b>Monitor</b>')", outputs=[nbformat.v4.new_output(
        "display_data", data={"application/vnd.jupyter.widget-view+json":
                              {"model_id": model, "version_major": 2, "version_minor": 0},
                              "text/plain": "HTML(value='<b>Monitor</b>')"})])
    notebook.cells = [nbformat.v4.new_markdown_cell("# Monitor"), cell]
    return notebook


def test_widget_asset_can_be_inlined():
    code = export.WIDGET_EMBED.read_text(encoding="utf-8")
    assert "</script" not in code.lower() and len(code) > 1_000_000
    assert (export.WIDGET_EMBED.parent / "LICENSE").read_text().startswith("Copyright (c) 2015 Project Jupyter")


def test_notebook_html_inlines_the_widget_renderer_and_loads_nothing_from_the_internet(tmp_path):
    html = export.notebook_html(widget_notebook(), tmp_path / "m.html").read_text(encoding="utf-8")
    assert export.WIDGET_EMBED.read_text(encoding="utf-8") in html
    assert "unpkg.com" not in html and "require.min.js" not in html and "mermaid.esm" not in html
    assert not export.EXTERNAL_LOADS.search(html)
    first_script = html.index("<script")
    assert html.startswith('<script src="data:text/javascript,"></script>', first_script)
    assert 'type="application/vnd.jupyter.widget-state+json"' in html


def test_notebook_html_without_widgets_carries_no_renderer(tmp_path):
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Bericht")])
    html = export.notebook_html(notebook, tmp_path / "b.html").read_text(encoding="utf-8")
    assert "_jupyter_widget_embedder" not in html and not export.EXTERNAL_LOADS.search(html)
