"""Webkarten ohne Internet: folium-Karten bringen Leaflet und Co. aus dem Kurspaket mit.

folium lädt Leaflet, jQuery und weitere Bibliotheken beim Anzeigen einer Karte aus dem Internet (von CDNs). In
vielen Verwaltungsnetzen sind diese Adressen gesperrt, im Schulungsraum fehlt manchmal das Netz ganz: Dann bleibt
die Karte leer. Sobald ein Notebook ``sozialraum`` importiert hat (z. B. ``from sozialraum import data``), schreibt
folium die Bibliotheken deshalb **direkt in die Karte** – aus Dateien, die mit dem Kurspaket geliefert werden
(``sozialraum/assets/``, Versionen und Lizenzen in ``assets/LICENSES``). Das gilt für die Anzeige im Notebook
ebenso wie für ``Map.save(...)``: Die gespeicherte HTML-Datei funktioniert auch per Mail und ohne Netz.

Die folium-Befehle bleiben dieselben (``folium.Map(tiles=None)``, ``GeoJson``, ``GeoJsonTooltip``,
``LayerControl``, ``Map.save``). Eine Hintergrundkarte aus dem Internet bleibt möglich
(``folium.TileLayer("OpenStreetMap").add_to(karte)``); ist sie gesperrt, zeigt die Karte einen kurzen Hinweis und
funktioniert ohne sie weiter.

>>> import folium
>>> from sozialraum import webmaps
>>> html = folium.Map(tiles=None).get_root().render()
>>> "cdn.jsdelivr.net" in html
False

Technisch: Beim ersten Import von ``branca.element`` (folium tut das) ersetzt :func:`inline_assets` in der
fertigen HTML-Seite jeden Verweis auf eine mitgelieferte Bibliothek durch deren Inhalt. Bootstrap lädt folium mit,
braucht es für Karten aber nicht; es entfällt. Die Bibliotheken für ``folium.Icon`` (Awesome Markers mit
Schriftsymbolen) liefert das Kit nicht mit: Nur Karten mit ``folium.Icon`` laden sie weiter aus dem Internet; ohne
Netz zeigen sie an deren Stelle die Standard-Markierung. Für Karten ohne Netz: ``folium.CircleMarker`` oder
``folium.Marker`` ohne ``icon``.
"""
from __future__ import annotations

import base64
import functools
import importlib.util
import sys
from pathlib import Path

ASSETS = Path(__file__).resolve().parent / "assets"

# Adressen, die folium 0.20 und branca 0.8 in jede Seite schreiben -> mitgelieferte Datei (Version wie in der Adresse)
INLINE_JS = {
    "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js": "leaflet-1.9.3/leaflet.js",
    "https://code.jquery.com/jquery-3.7.1.min.js": "jquery-3.7.1/jquery.min.js",  # Popups (folium.Popup)
    "https://cdnjs.cloudflare.com/ajax/libs/d3/3.5.5/d3.min.js": "d3-3.5.5/d3.min.js",  # Farblegende (branca)
}
INLINE_CSS = {
    "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.css": "leaflet-1.9.3/leaflet.css",
}
# Lädt folium immer mit, keine Karte des Kits braucht es: entfällt.
DROPPED = {
    "https://cdn.jsdelivr.net/npm/bootstrap@5.2.2/dist/js/bootstrap.bundle.min.js",
    "https://cdn.jsdelivr.net/npm/bootstrap@5.2.2/dist/css/bootstrap.min.css",
}
# Nur für folium.Icon (L.AwesomeMarkers): bleibt in Karten, die es verwenden, sonst entfällt es.
AWESOME_MARKERS = {
    "https://cdnjs.cloudflare.com/ajax/libs/Leaflet.awesome-markers/2.0.2/leaflet.awesome-markers.js",
    "https://netdna.bootstrapcdn.com/bootstrap/3.0.0/css/bootstrap-glyphicons.css",
    "https://cdn.jsdelivr.net/npm/@fortawesome/fontawesome-free@6.2.0/css/all.min.css",
    "https://cdnjs.cloudflare.com/ajax/libs/Leaflet.awesome-markers/2.0.2/leaflet.awesome-markers.css",
    "https://cdn.jsdelivr.net/gh/python-visualization/folium/folium/templates/leaflet.awesome.rotate.min.css",
}
LEAFLET_JS = "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js"

# folium schreibt diesen Platzhalter unter jede Karte; sichtbar ist er nur, solange die Karte nicht geladen ist.
TRUST_HINT = "Make this Notebook Trusted to load map: File -> Trust Notebook"
GERMAN_HINT = (
    "Hier erscheint eine interaktive Karte. Bleibt die Fläche leer, führen Sie die Zelle erneut aus "
    "(Umschalt + Eingabe)."
)


def _script_tag(url: str) -> str:
    return f'<script src="{url}"></script>'  # so schreibt branca.element.JavascriptLink


def _css_tag(url: str) -> str:
    return f'<link rel="stylesheet" href="{url}"/>'  # so schreibt branca.element.CssLink


def _data_url(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


@functools.cache
def _replacements() -> dict[str, str]:
    """HTML-Schnipsel je Verweis: die Bibliothek als <script>/<style>, leer für Entfallendes."""
    images = ASSETS / "leaflet-1.9.3" / "images"
    out = {}
    for url, name in INLINE_JS.items():
        code = (ASSETS / name).read_text(encoding="utf-8")  # enthält kein "</script" (Test)
        out[_script_tag(url)] = f"<script>{code}</script>"
    for url, name in INLINE_CSS.items():
        css = (ASSETS / name).read_text(encoding="utf-8")
        for image in images.glob("*.png"):  # Bilder (Ebenen-Knopf, Markierung) als data:-Adresse
            css = css.replace(f"url(images/{image.name})", f"url({_data_url(image)})")
        out[_css_tag(url)] = f"<style>{css}</style>"
    markers = (
        "{"
        f'iconUrl: "{_data_url(images / "marker-icon.png")}", '
        f'iconRetinaUrl: "{_data_url(images / "marker-icon-2x.png")}", '
        f'shadowUrl: "{_data_url(images / "marker-shadow.png")}"'
        "}"
    )
    helper = (ASSETS / "offline.js").read_text(encoding="utf-8").replace("SOZIALRAUM_MARKER_BILDER", markers)
    out[_script_tag(LEAFLET_JS)] += f"<script>{helper}</script>"
    for url in DROPPED:
        out[_script_tag(url)] = out[_css_tag(url)] = ""
    return out


def inline_assets(html: str) -> str:
    """Ersetzt in einer folium-Seite die Verweise auf CDNs durch die mitgelieferten Bibliotheken.

    >>> page = '<script src="https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js"></script>'
    >>> inline_assets(page).startswith("<script>/* @preserve")
    True
    """
    uses_icons = "L.AwesomeMarkers" in html
    for tag, replacement in _replacements().items():
        html = html.replace(tag, replacement)
    if not uses_icons:
        for url in AWESOME_MARKERS:
            html = html.replace(_script_tag(url), "").replace(_css_tag(url), "")
    return html


def _patch(element) -> None:
    """Hängt inline_assets an branca.element.Figure (Grundlage jeder folium-Seite) und setzt den deutschen Hinweis."""
    figure = element.Figure
    if getattr(figure, "_sozialraum_offline", False):
        return
    render, repr_html = figure.render, figure._repr_html_

    @functools.wraps(render)
    def render_offline(self, **kwargs):
        return inline_assets(render(self, **kwargs))

    @functools.wraps(repr_html)
    def repr_html_german(self, **kwargs):
        return repr_html(self, **kwargs).replace(TRUST_HINT, GERMAN_HINT)

    figure.render, figure._repr_html_ = render_offline, repr_html_german
    figure._sozialraum_offline = True


class _PatchOnImport:
    """Meta-Path-Finder: wartet auf den ersten Import von branca.element und ruft danach _patch auf."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "branca.element":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None:
            return spec
        exec_module = spec.loader.exec_module

        def exec_and_patch(module):
            exec_module(module)
            _patch(module)

        spec.loader.exec_module = exec_and_patch
        return spec


def activate() -> None:
    """Schaltet die mitgelieferten Bibliotheken ein (``import sozialraum`` ruft das auf; folium wird nicht geladen)."""
    if "branca.element" in sys.modules:
        _patch(sys.modules["branca.element"])
    elif not any(isinstance(finder, _PatchOnImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, _PatchOnImport())
