"""Kurswerkzeuge auf Basis von nbgrader: Übungen bauen, Tests prüfen, Abgaben bewerten."""
