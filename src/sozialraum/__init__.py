"""sozialraum: Lehr-Kit für kleinräumige Sozialplanung mit synthetischen Daten einer Ruhrgebietsstadt."""

import os as _os

from sozialraum import webmaps as _webmaps

# numba (kommt mit segregation) übersetzt sonst beim Import von mapclassify und beim ersten Aufruf von esda
# Rechenfunktionen in Maschinencode: Sekunden bis Minuten und rund 100 MB je Kernel, für die wenigen hundert
# Bezirke der Stadt unnötig. Ohne Übersetzung rechnen dieselben Funktionen in Python, mit denselben Ergebnissen.
# Gilt nur, wenn sozialraum vor numba geladen wird; wer numba selbst braucht, setzt NUMBA_DISABLE_JIT=0.
_os.environ.setdefault("NUMBA_DISABLE_JIT", "1")

__version__ = "0.1.0"

# folium-Karten funktionieren ohne Internet (Leaflet & Co. kommen aus dem Paket); lädt folium selbst nicht.
_webmaps.activate()
