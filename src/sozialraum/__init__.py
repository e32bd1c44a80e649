"""sozialraum: Lehr-Kit für kleinräumige Sozialplanung mit synthetischen Daten einer Ruhrgebietsstadt."""

__version__ = "0.1.0"
