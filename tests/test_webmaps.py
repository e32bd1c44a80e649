"""folium-Karten ohne Internet (sozialraum.webmaps): mitgelieferte Bibliotheken statt CDN-Verweisen.

Schnelle Prüfungen ohne Browser; ob Leaflet die Karten wirklich zeichnet, prüft tests/test_browser.py in Chromium.
"""
import re
import subprocess
import sys
from pathlib import Path

import branca.colormap
import folium
import pytest

import sozialraum  # noqa: F401  (schaltet die mitgelieferten Bibliotheken ein)
from sozialraum import webmaps

EXTERNAL_LOADS = re.compile(r'<(?:script[^>]*\ssrc|link[^>]*\shref)="(https?://[^"]+)"')
DISTRICT = {
    "type": "FeatureCollection",
    "features": [{
        "type": "Feature",
        "properties": {"name": "Altstadt", "quote": 12.5},
        "geometry": {"type": "Polygon", "coordinates": [[[7.0, 51.5], [7.1, 51.5], [7.1, 51.6], [7.0, 51.5]]]},
    }],
}  # fmt: skip


def kit_map() -> folium.Map:
    """Eine Karte wie in den Modulen: ohne Kacheln, GeoJson mit Tooltip, Farblegende, Ebenenschalter."""
    karte = folium.Map(tiles=None)
    farbskala = branca.colormap.linear.YlOrRd_09.scale(0, 20)
    folium.GeoJson(
        DISTRICT, name="Bezirke",
        style_function=lambda feature: {"fillColor": farbskala(feature["properties"]["quote"])},
        tooltip=folium.GeoJsonTooltip(["name", "quote"]),
    ).add_to(karte)  # fmt: skip
    folium.Marker([51.55, 7.05], popup="Familienzentrum").add_to(karte)
    farbskala.add_to(karte)
    folium.LayerControl().add_to(karte)
    return karte


def test_every_library_folium_declares_is_shipped_or_deliberately_left_out():
    declared = {url for _, url in folium.Map.default_js + folium.Map.default_css}
    handled = set(webmaps.INLINE_JS) | set(webmaps.INLINE_CSS) | webmaps.DROPPED | webmaps.AWESOME_MARKERS
    assert declared <= handled, f"folium lädt Neues, das webmaps nicht kennt: {declared - handled}"
    for url, name in webmaps.INLINE_JS.items():  # die Datei trägt die Version, die folium anfordert
        version = re.search(r"\d+\.\d+\.\d+", url).group(0)
        assert name.startswith(f"{name.split('-')[0]}-{version}/"), f"{name} passt nicht zu {url}"
        assert version in (webmaps.ASSETS / name).read_text(encoding="utf-8"), f"{name}: Version {version} fehlt"


def test_saved_map_loads_nothing_from_the_internet(tmp_path):
    path = tmp_path / "karte.html"
    kit_map().save(path)
    html = path.read_text(encoding="utf-8")
    assert EXTERNAL_LOADS.findall(html) == []
    assert "url(images/" not in html  # Bilder aus leaflet.css als data:-Adresse
    assert html.count("Leaflet 1.9.3") == 1 and html.count("jQuery v3.7.1") == 1
    assert 'version:"3.5.5"' in html  # D3 für die Farblegende (branca)
    assert "bootstrap" not in html.lower()
    assert "L.Icon.Default.mergeOptions" in html  # Standard-Markierung als eingebettetes Bild


def test_each_library_is_embedded_whole():
    html = kit_map().get_root().render()
    for name in webmaps.INLINE_JS.values():
        code = (webmaps.ASSETS / name).read_text(encoding="utf-8")
        assert "</script" not in code.lower()  # sonst endete das eingebettete <script> mitten im Code
        assert f"<script>{code}</script>" in html, f"{name} fehlt oder ist unvollständig"
    css = (webmaps.ASSETS / "leaflet-1.9.3" / "leaflet.css").read_text(encoding="utf-8")
    assert "</style" not in css and css.split("url(images/")[0] in html


def test_notebook_display_is_inline_and_german():
    shown = kit_map()._repr_html_()
    assert "Make this Notebook Trusted" not in shown
    assert webmaps.GERMAN_HINT in shown
    assert "cdn.jsdelivr.net" not in shown and "code.jquery.com" not in shown
    assert "srcdoc=" in shown  # folium zeigt die Karte weiter als iframe, nun mit eingebetteten Bibliotheken


def test_online_basemap_stays_an_explicit_option():
    karte = kit_map()
    folium.TileLayer("OpenStreetMap").add_to(karte)
    html = karte.get_root().render()
    assert "tile.openstreetmap.org" in html
    assert "tileerror" in html  # Hinweis, falls die Kacheln gesperrt sind
    assert EXTERNAL_LOADS.findall(html) == []


def test_maps_with_folium_icon_keep_their_icon_libraries():
    karte = folium.Map(tiles=None)
    folium.Marker([51.5, 7.0], icon=folium.Icon(color="green")).add_to(karte)
    loads = EXTERNAL_LOADS.findall(karte.get_root().render())
    assert sorted(loads) == sorted(webmaps.AWESOME_MARKERS)


@pytest.mark.parametrize("order", ["import sozialraum.data; import folium", "import folium; import sozialraum.data"])
def test_active_after_importing_sozialraum_in_either_order(order):
    code = f"{order}\nprint(folium.Map(tiles=None).get_root().render().count('cdn.jsdelivr.net'))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "0"


def test_without_sozialraum_folium_is_unchanged():
    code = "import folium\nprint(folium.Map(tiles=None).get_root().render().count('cdn.jsdelivr.net'))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert int(result.stdout) >= 2  # Gegenprobe: der Test oben misst wirklich das Kit


def test_course_tooling_does_not_load_folium():
    code = "import sys, sozialraum.course\nprint([m for m in ('folium', 'branca') if m in sys.modules])"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_every_shipped_file_is_listed_with_its_licence():
    listing = (webmaps.ASSETS / "LICENSES").read_text(encoding="utf-8")
    shipped = [p for p in webmaps.ASSETS.rglob("*") if p.is_file() and p.name not in {"LICENSES"}]
    licence_files = {p for p in shipped if p.name.startswith("LICENSE")}
    for path in set(shipped) - licence_files:
        relative = path.relative_to(webmaps.ASSETS).as_posix()
        line = next((row for row in listing.splitlines() if row.startswith(relative + " ")), None)
        assert line, f"{relative} fehlt in assets/LICENSES"
        licence = re.search(r"\(([^)]+/LICENSE[^)]*)\)", line)
        assert licence is None or (webmaps.ASSETS / licence.group(1)).is_file(), line
    assert Path(webmaps.ASSETS / "leaflet-1.9.3" / "LICENSE").read_text().startswith("BSD 2-Clause")
