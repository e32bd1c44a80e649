"""Die eine gepinnte Umgebung: binder/ passt zu pyproject.toml, und installiert ist genau das Gepinnte."""
import importlib.metadata
import tomllib
from pathlib import Path

from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent


def read_pins() -> dict[str, str]:
    """Die Pins, die für dieses System und dieses Python gelten (die Datei ist plattformübergreifend)."""
    pins = {}
    for line in (ROOT / "binder" / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if not line:
            continue
        requirement, _, marker = line.partition(";")
        if marker and not Marker(marker).evaluate():
            continue
        name, version = requirement.strip().split("==")
        assert canonicalize_name(name) not in pins, f"{name} ist doppelt gepinnt."
        pins[canonicalize_name(name)] = version
    return pins


def declared_requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lines = project["dependencies"] + project["optional-dependencies"]["test"]
    return [Requirement(line) for line in lines]


def test_every_declared_dependency_is_pinned_within_its_range():
    pins = read_pins()
    for requirement in declared_requirements():
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement.name} fehlt in binder/requirements.txt – Pins neu erzeugen (README)."
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"{requirement.name}=={pins[name]} liegt nicht im Bereich {requirement.specifier} aus pyproject.toml."
        )


def test_installed_environment_is_exactly_the_pins():
    mismatches = []
    for name, version in read_pins().items():
        try:
            installed = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            installed = None
        if installed != version:
            mismatches.append(f"{name}: gepinnt {version}, installiert {installed}")
    assert not mismatches, "Umgebung weicht von binder/requirements.txt ab:\n" + "\n".join(mismatches)


def test_runtime_matches_the_python_in_use():
    import sys

    runtime = (ROOT / "binder" / "runtime.txt").read_text().strip()
    assert runtime == f"python-{sys.version_info.major}.{sys.version_info.minor}"
