"""Kommandozeile der Kurswerkzeuge: ``python -m sozialraum.course BEFEHL``.

Jeder Befehl lebt in einem eigenen Modul mit ``add_arguments(parser)`` und ``run(args) -> int``;
es wird erst geladen, wenn der Befehl aufgerufen wird (nbgrader zu importieren dauert).
"""
import argparse
import importlib
import sys

COMMANDS = {
    "build": ("sozialraum.course.build", "exercises/ aus solutions/ neu erzeugen"),
    "check": ("sozialraum.course.check", "prüfen, dass die Tests jeder Übung falsche Antworten ablehnen"),
    "grade": ("sozialraum.course.grade", "Abgaben einer Kursgruppe parallel und abgeschottet bewerten"),
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="python -m sozialraum.course", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="BEFEHL")
    wanted = argv[0] if argv and argv[0] in COMMANDS else None
    for name, (module_name, help_text) in COMMANDS.items():
        command_parser = sub.add_parser(name, help=help_text, description=help_text)
        if name == wanted:
            module = importlib.import_module(module_name)
            module.add_arguments(command_parser)
    args = parser.parse_args(argv)
    return importlib.import_module(COMMANDS[args.command][0]).run(args)


if __name__ == "__main__":
    sys.exit(main())
