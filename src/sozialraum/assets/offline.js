/* Sozialraum-Kit (MIT): Ergänzung zu Leaflet für Karten ohne Internet.
 * 1. Die Standard-Markierung (folium.Marker ohne Icon) kommt als Bild aus der Seite selbst, nicht aus einem Ordner.
 * 2. Ist eine Hintergrundkarte (folium.TileLayer) nicht erreichbar, erscheint einmal je Karte ein kurzer Hinweis;
 *    alle übrigen Ebenen funktionieren weiter.
 * 3. folium.Icon braucht Leaflet.awesome-markers aus dem Internet. Ist es gesperrt, zeichnet die Karte an seiner
 *    Stelle die Standard-Markierung; lädt es, ersetzt es diesen Platzhalter (es steht in der Seite weiter unten).
 */
(function () {
  L.Icon.Default.imagePath = "";
  L.Icon.Default.mergeOptions(SOZIALRAUM_MARKER_BILDER);
  L.AwesomeMarkers = {
    Icon: L.Icon.Default,
    icon: function (options) { return new L.Icon.Default(options); }
  };
  L.TileLayer.addInitHook(function () {
    this.on("tileerror", function () {
      var map = this._map;
      if (!map || map._sozialraumKachelHinweis) { return; }
      var hinweis = L.control({ position: "bottomleft" });
      hinweis.onAdd = function () {
        var box = L.DomUtil.create("div", "leaflet-control sozialraum-kachel-hinweis");
        box.style.cssText = "background:#fff;padding:2px 6px;font:12px sans-serif;border-radius:3px";
        box.textContent = "Hintergrundkarte nicht erreichbar (kein Internet?) – die übrigen Ebenen funktionieren.";
        return box;
      };
      map._sozialraumKachelHinweis = hinweis.addTo(map);
    });
  });
})();
