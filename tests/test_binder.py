"""Binder baut aus binder/: repo2docker findet Pins, Python-Version und postBuild; postBuild wirkt in dieser Umgebung.

Hier läuft kein Docker. `jupyter-repo2docker --no-build` ist Binders eigener Bauplaner: Er erkennt das
Repository und gibt das Dockerfile aus, das Binder bauen würde. Die Tests prüfen dieses Dockerfile.
"""
import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BINDER = ROOT / "binder"
PIP_INSTALL_PINS = 'RUN ${KERNEL_PYTHON_PREFIX}/bin/pip install --no-cache-dir -r "binder/requirements.txt"'
RUN_POSTBUILD = "RUN ./binder/postBuild"
TRAINER_ONLY_PLUGINS = {
    "@jupyter/nbgrader:formgrader",
    "@jupyter/nbgrader:create-assignment",
    "@jupyter/nbgrader:course-list",
}
ANSI_COLOUR = re.compile(r"\x1b\[[0-9;]*m")


def run_jupyter(*args: str) -> str:
    """Führt einen jupyter-Befehl dieser Umgebung aus; gibt stdout und stderr zusammen ohne Farbcodes zurück."""
    result = subprocess.run(
        [sys.executable, "-m", "jupyter", *args], capture_output=True, text=True, timeout=120, check=True
    )
    return ANSI_COLOUR.sub("", result.stdout + result.stderr)


@pytest.fixture(scope="module")
def binder_plan(tmp_path_factory) -> tuple[list[str], str]:
    """Das Dockerfile (als Zeilen) und das Protokoll, die repo2docker für dieses Repository erzeugt."""
    result = subprocess.run(
        [Path(sys.executable).parent / "jupyter-repo2docker", "--no-build", str(ROOT)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path_factory.mktemp("repo2docker"),
    )
    assert result.returncode == 0, f"repo2docker konnte das Repository nicht planen:\n{result.stderr}"
    return result.stdout.splitlines(), result.stderr


def test_repo2docker_uses_the_python_from_runtime_txt(binder_plan):
    _, log = binder_plan
    version = (BINDER / "runtime.txt").read_text().strip().removeprefix("python-")
    assert f"Building conda environment for python={version}\n" in log, log


def test_repo2docker_installs_exactly_the_pins_into_the_jupyter_environment(binder_plan):
    dockerfile, _ = binder_plan
    assert "COPY --chown=0:0 src/binder/requirements.txt ${REPO_DIR}/binder/requirements.txt" in dockerfile
    pip_installs = [line for line in dockerfile if "pip install" in line]
    assert pip_installs == [PIP_INSTALL_PINS], (
        f"Binder soll genau die Pins installieren (nicht pyproject.toml mit seinen Bereichen): {pip_installs}"
    )
    # Kernel und JupyterLab teilen sich eine Umgebung: nbgraders Erweiterungen landen beim Server.
    assert "ENV KERNEL_PYTHON_PREFIX=${NB_PYTHON_PREFIX}" in dockerfile


def test_repo2docker_runs_postbuild_with_the_environment_python_after_the_pins(binder_plan):
    dockerfile, _ = binder_plan
    assert dockerfile.index(RUN_POSTBUILD) > dockerfile.index(PIP_INSTALL_PINS)
    # postBuild ist ein Python-Skript; im Image steht die Umgebung vorn im PATH, also läuft es mit ihrem Python.
    assert (BINDER / "postBuild").read_text().splitlines()[0] == "#!/usr/bin/env python3"
    path_line = next(line for line in dockerfile if line.startswith("ENV PATH="))
    assert path_line.startswith("ENV PATH=${NB_PYTHON_PREFIX}/bin:")


def test_local_setup_and_ci_install_the_same_pins():
    spec = importlib.util.spec_from_file_location("kurs", ROOT / "kurs.py")
    kurs = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(kurs)
    assert kurs.INPUTS[0] == BINDER / "requirements.txt"
    assert "python3 kurs.py test" in (ROOT / ".ci" / "run").read_text()


def test_postbuild_hides_trainer_tools_and_keeps_validate():
    labextensions = run_jupyter("labextension", "list")
    assert re.search(r"@jupyter/nbgrader v\S+ enabled OK", labextensions), labextensions
    disabled = set(labextensions.partition("Disabled extensions:")[2].split())
    assert TRAINER_ONLY_PLUGINS <= disabled, (
        f"Diese nbgrader-Werkzeuge für Lehrende sind nicht ausgeblendet: {sorted(TRAINER_ONLY_PLUGINS - disabled)}. "
        "Bitte binder/postBuild ausführen (python3 kurs.py richtet die Umgebung dann neu ein)."
    )
    assert "@jupyter/nbgrader:validate-assignment" not in disabled

    server_extensions = run_jupyter("server", "extension", "list")
    assert "nbgrader.server_extensions.validate_assignment enabled" in server_extensions
    assert "nbgrader.server_extensions.formgrader disabled" in server_extensions
    assert "nbgrader.server_extensions.course_list disabled" in server_extensions
