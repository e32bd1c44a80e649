"""sozialraum: Lehr-Kit für kleinräumige Sozialplanung mit synthetischen Daten einer Ruhrgebietsstadt."""

from sozialraum import webmaps as _webmaps

__version__ = "0.1.0"

# folium-Karten funktionieren ohne Internet (Leaflet & Co. kommen aus dem Paket); lädt folium selbst nicht.
_webmaps.activate()
