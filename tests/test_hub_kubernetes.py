"""Kurs-Hub auf Kubernetes (hub/kubernetes/): was sich ohne Kubernetes prüfen lässt, echt auf 127.0.0.1.

Der nbgrader-Austausch über mehrere Pods ist ngshare, ein Dienst des Hubs. Hier läuft ein JupyterHub aus den Pins
von hub/requirements.txt (dieselbe Umgebung wie in tests/test_hub.py, von hub/setup.py installiert) mit genau der
Konfiguration aus hub/kubernetes/config.yaml (hub.extraConfig: ngshare-Dienst, Formgrader nur für Lehrende) und
Servern aus der Lernumgebung des Kits mit der nbgrader-Konfiguration aus config.yaml (singleuser.extraFiles). Statt
KubeSpawner startet SimpleLocalProcessSpawner die Server als Prozesse; angemeldet wird mit signierten LTI-1.1-Starts
und den Werten aus config.yaml. Alle Server laufen als derselbe Benutzer, wie die Pods (jovyan): Getrennt werden die
Personen nur durch ihr JupyterHub-Token, wie auf Kubernetes.

Die Lehrende legt den Kurs in ngshare an und gibt 00_start aus; zwei Teilnehmende holen die Übung über die
Assignments-Schnittstelle ihres Servers, bearbeiten sie (richtig, leer) und geben ab; die Lehrende sammelt ein,
bewertet mit `python -m sozialraum.course grade` und gibt die Rückmeldungen frei; die Teilnehmenden holen sie ab.
Niemand kommt an eine fremde Abgabe oder Rückmeldung, an die Liste der Abgaben oder an einen fremden Kurs.
Nicht geprüft: Helm, Kubernetes, KubeSpawner, die Netzwerkregeln, HTTPS, das Bauen und Starten der Images.
"""
from __future__ import annotations

import ast
import csv
import hashlib
import json
import os
import re
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tomllib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlencode

import pytest
import requests
import yaml

from test_hub import ASSIGNMENT, PREFIX, TIMEOUT, HubUser, answer, free_port, solution_sources

ROOT = Path(__file__).resolve().parent.parent
HUB = ROOT / "hub"
K8S = HUB / "kubernetes"
ARTIFACTS = ROOT / "artifacts"
KIT_PYTHON = ROOT / ".venv" / "bin" / "python"
NGSHARE_VENV = PREFIX / "kubernetes" / "ngshare"
NGSHARE_COMMAND = ["/opt/ngshare/bin/python", "-m", "ngshare"]
COURSE, OTHER_COURSE = "kurs-k8s", "anderer-kurs"

# ngshare hört in seinem Pod auf allen Adressen (für den Proxy); hier nur auf 127.0.0.1.
NGSHARE_ON_LOCALHOST = """
import sys
from tornado.httpserver import HTTPServer
listen = HTTPServer.listen
HTTPServer.listen = lambda self, port, address="", **kwargs: listen(self, port, "127.0.0.1", **kwargs)
from ngshare.ngshare import main
main(sys.argv[1:])
"""

# Ersatz für das Modul z2jh des Hub-Images: liest die Werte aus config.yaml.
Z2JH_STUB = """
import json
from pathlib import Path
VALUES = json.loads((Path(__file__).parent / "values.json").read_text(encoding="utf-8"))
def get_config(key, default=None):
    value = VALUES
    for part in key.split("."):
        if not isinstance(value, dict) or part not in value:
            return default
        value = value[part]
    return value
"""

HUB_CONFIG = """
import json, sys
settings = json.loads({settings!r})
sys.path.insert(0, settings["work"])
c = get_config()
c.JupyterHub.bind_url = settings["url"]
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = settings["hub_port"]
c.ConfigurableHTTPProxy.api_url = settings["proxy_api"]
c.ConfigurableHTTPProxy.command = [settings["proxy"]]
c.JupyterHub.db_url = "sqlite:///" + settings["work"] + "/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = settings["work"] + "/cookie_secret"
c.JupyterHub.cleanup_servers = True
# Anmeldung: hub.config aus hub/kubernetes/config.yaml (LTI 1.1), unverändert
for section, values in settings["hub_config"].items():
    for key, value in values.items():
        c[section][key] = set(value) if key in ("allowed_users", "admin_users") else value
c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = settings["work"] + "/home/{{username}}"
c.Spawner.cmd = [settings["singleuser"]]
c.Spawner.args = ["--allow-root"]  # alle Server laufen als derselbe Benutzer, wie die Pods als jovyan
c.Spawner.default_url = "/lab"
c.Spawner.environment = settings["environment"]
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120
c.JupyterHub.services = [{{"name": "test", "api_token": settings["admin_token"]}}]
c.JupyterHub.load_roles = [{{"name": "admin", "services": ["test"]}}]

# hub.extraConfig aus hub/kubernetes/config.yaml, unverändert
exec(compile(settings["extra_config"], "config.yaml:hub.extraConfig", "exec"))

# ngshare auf diesem Rechner: Adresse 127.0.0.1 statt hub, Daten im Testordner statt /srv/jupyterhub
for service in c.JupyterHub.services:
    if service["name"] == "ngshare":
        assert service["command"][:3] == ["/opt/ngshare/bin/python", "-m", "ngshare"], service
        service["url"] = settings["ngshare_url"]
        service["command"] = [settings["ngshare_python"], "-c", settings["ngshare_launcher"],
                              *(arg.replace("/srv/jupyterhub", settings["work"] + "/hubdaten")
                                for arg in service["command"][3:])]
"""


def values() -> dict:
    return yaml.safe_load((K8S / "config.yaml").read_text(encoding="utf-8"))


def install_target(python: Path, requirements: Path, target: Path) -> None:
    """Pakete aus einer Pin-Datei ohne Abhängigkeiten in einen eigenen Ordner (nur, wenn sich die Pins änderten)."""
    digest = hashlib.sha256(requirements.read_bytes()).hexdigest()
    stamp = target / ".installiert.sha256"
    if stamp.exists() and stamp.read_text() == digest:
        return
    shutil.rmtree(target, ignore_errors=True)
    subprocess.run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps",
                    "--target", target, "-r", requirements], check=True, capture_output=True, timeout=300)
    stamp.write_text(digest)


def install_venv(requirements: Path, venv: Path) -> None:
    """Eine eigene Umgebung genau aus einer Pin-Datei (nur, wenn sich die Pins änderten)."""
    digest = hashlib.sha256(requirements.read_bytes()).hexdigest()
    stamp = venv / ".installiert.sha256"
    if stamp.exists() and stamp.read_text() == digest:
        return
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", venv], check=True, timeout=120)
    subprocess.run([venv / "bin" / "python", "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r",
                    requirements], check=True, capture_output=True, timeout=600)
    stamp.write_text(digest)


def write_roster(path: Path, ids: list[str]) -> None:
    rows = [f"{pid};{pid.split('_')[-1].title()};{pid.split('_')[0].title()};{pid}@example.org" for pid in ids]
    path.write_text("id;nachname;vorname;email\n" + "\n".join(rows) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def ngshare_hub():
    """JupyterHub mit ngshare als Dienst (aus config.yaml); danach sind Prozesse und Ordner weg."""
    started = time.monotonic()
    subprocess.run(["python3", HUB / "setup.py", "--nur-pakete", "--prefix", PREFIX],
                   check=True, cwd=ROOT, capture_output=True, timeout=900)
    install_venv(K8S / "requirements-ngshare.txt", NGSHARE_VENV)
    install_target(KIT_PYTHON, K8S / "requirements-singleuser.txt", PREFIX / "kubernetes" / "singleuser")
    packages_s = time.monotonic() - started
    config = values()
    trainer = config["custom"]["sozialraum"]["lehrende"][0]
    names = {"lehrende": trainer, "richtig": "anna_alt", "leer": "bert_bunt", "fremd": "dora_dorn"}
    work = Path(tempfile.mkdtemp(prefix="kurshub-k8s-"))
    (work / "hubdaten").mkdir()
    (work / "z2jh.py").write_text(Z2JH_STUB, encoding="utf-8")
    (work / "values.json").write_text(json.dumps(config), encoding="utf-8")
    # /etc/jupyter/nbgrader_config.py der Pods (singleuser.extraFiles), hier über JUPYTER_CONFIG_PATH
    etc_jupyter = work / "etc-jupyter"
    etc_jupyter.mkdir()
    extra_file = config["singleuser"]["extraFiles"]["nbgrader-austausch"]
    assert extra_file["mountPath"] == "/etc/jupyter/nbgrader_config.py"
    (etc_jupyter / "nbgrader_config.py").write_text(extra_file["stringData"], encoding="utf-8")
    port, ngshare_port = free_port(), free_port()
    environment = {"PYTHONPATH": str(PREFIX / "kubernetes" / "singleuser"), "JUPYTER_CONFIG_PATH": str(etc_jupyter),
                   "NGSHARE_URL": f"http://127.0.0.1:{ngshare_port}/services/ngshare",
                   "PATH": f"{PREFIX / 'kubernetes' / 'singleuser' / 'bin'}:{ROOT / '.venv' / 'bin'}:/usr/bin:/bin"}
    admin_token = secrets.token_hex(16)
    settings = {
        "work": str(work), "url": f"http://127.0.0.1:{port}", "hub_port": free_port(),
        "proxy_api": f"http://127.0.0.1:{free_port()}",
        "proxy": str(PREFIX / "proxy" / "node_modules" / ".bin" / "configurable-http-proxy"),
        "users": sorted(names.values()), "singleuser": str(ROOT / ".venv" / "bin" / "jupyterhub-singleuser"),
        "environment": environment, "admin_token": admin_token,
        "extra_config": config["hub"]["extraConfig"]["sozialraum.py"], "ngshare_url": f"http://127.0.0.1:{ngshare_port}",
        "ngshare_python": str(NGSHARE_VENV / "bin" / "python"), "ngshare_launcher": NGSHARE_ON_LOCALHOST,
        "hub_config": config["hub"]["config"],
    }
    (work / "jupyterhub_config.py").write_text(HUB_CONFIG.format(settings=json.dumps(settings)), encoding="utf-8")
    log = open(work / "hub.log", "w")
    server = subprocess.Popen([PREFIX / "venv" / "bin" / "jupyterhub", "-f", work / "jupyterhub_config.py"],
                              cwd=work, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        url = settings["url"]
        ngshare = f"{url}/services/ngshare"
        deadline = time.monotonic() + 60
        while True:  # bereit, wenn Hub und ngshare antworten
            try:
                if (requests.get(f"{url}/hub/api/", timeout=5).status_code == 200
                        and requests.get(f"{ngshare}/healthz", timeout=5).status_code == 200):
                    break
            except requests.ConnectionError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, (work / "hub.log").read_text()[-3000:]
            time.sleep(0.5)
        admin = {"Authorization": f"token {admin_token}"}
        # dora_dorn steht in keiner Liste von config.yaml: nur für ein Token (Person aus einem anderen Kurs)
        response = requests.post(f"{url}/hub/api/users/{names['fremd']}", headers=admin, timeout=TIMEOUT)
        assert response.status_code == 201, response.text
        tokens = {}  # wie das Token im Server einer Person (JUPYTERHUB_API_TOKEN)
        for name in names.values():
            response = requests.post(f"{url}/hub/api/users/{name}/tokens", json={"note": "Test"}, headers=admin,
                                     timeout=TIMEOUT)
            assert response.status_code == 201, response.text
            tokens[name] = response.json()["token"]
        yield {"url": url, "ngshare": ngshare, "work": work, "names": names, "tokens": tokens,
               "environment": environment, "lti": config["hub"]["config"]["LTI11Authenticator"],
               "packages_s": packages_s, "server": server}
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # der Hub beendet die Server und ngshare
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(10)
        log.close()
        ARTIFACTS.mkdir(exist_ok=True)
        shutil.copy(work / "hub.log", ARTIFACTS / "hub-kubernetes-test.log")
        shutil.rmtree(work)


def as_person(hub: dict, name: str, *command: str, cwd: Path, user: str | None = None) -> subprocess.CompletedProcess:
    """Ein Befehl wie im Terminal des Servers dieser Person (ihr Token; user: ein anderer Name in JUPYTERHUB_USER)."""
    env = {**hub["environment"], "HOME": str(hub["work"] / "home" / name), "JUPYTERHUB_USER": user or name,
           "JUPYTERHUB_API_TOKEN": hub["tokens"][name], "LANG": "C.UTF-8"}
    return subprocess.run([str(c) for c in command], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def lti_session(hub: dict, name: str, key: str, secret: str) -> requests.Session | None:
    """Start aus der Lernplattform: ein signierter LTI-1.1-Start für diese Kennung; die Sitzung, wenn angemeldet."""
    from oauthlib.oauth1 import SIGNATURE_TYPE_BODY, Client  # kommt mit hub/setup.py in die .venv

    params = {"lti_message_type": "basic-lti-launch-request", "lti_version": "LTI-1p0",
              "resource_link_id": "sozialraum-kurs", "user_id": f"lms-{name}", "ext_user_username": name,
              "roles": "Learner", "context_id": COURSE}
    # uri_scheme: https (der Hub hinter HTTPS): signiert wird die https-Adresse, die der Browser sieht
    public = f"{hub['url'].replace('http://', 'https://')}/hub/lti/launch"
    client = Client(key, client_secret=secret, signature_type=SIGNATURE_TYPE_BODY)
    _, headers, body = client.sign(public, http_method="POST", body=urlencode(params),
                                   headers={"Content-Type": "application/x-www-form-urlencoded"})
    session = requests.Session()
    session.post(f"{hub['url']}/hub/lti/launch", data=body, headers=headers, allow_redirects=False, timeout=TIMEOUT)
    me = session.get(f"{hub['url']}/hub/api/user", timeout=TIMEOUT,
                     headers={"X-XSRFToken": session.cookies.get("_xsrf", path="/hub/") or ""})
    return session if me.status_code == 200 and me.json()["name"] == name else None


def ngshare_get(hub: dict, name: str, path: str, **params) -> requests.Response:
    return requests.get(f"{hub['ngshare']}{path}", headers={"Authorization": f"token {hub['tokens'][name]}"},
                        params=params, timeout=TIMEOUT)


def test_exchange_cycle_through_ngshare_across_servers(ngshare_hub):
    hub = ngshare_hub
    started = time.monotonic()
    names, trainer = hub["names"], hub["names"]["lehrende"]
    course_dir = hub["work"] / "home" / trainer / COURSE
    course_dir.mkdir(parents=True)
    for name in ("solutions", "exercises"):
        shutil.copytree(ROOT / name, course_dir / name)
    (course_dir / "datasets").symlink_to(ROOT / "datasets")
    config = (ROOT / "nbgrader_config.py").read_text(encoding="utf-8")
    (course_dir / "nbgrader_config.py").write_text(config + f"\nc.CourseDirectory.course_id = {COURSE!r}\n",
                                                   encoding="utf-8")
    participants = [names["richtig"], names["leer"]]
    write_roster(course_dir / "teilnehmende.csv", participants)

    # Anmelden aus der Lernplattform (LTI 1.1 mit den Werten aus config.yaml); falsch signiert oder nicht in
    # allowed_users: nicht angemeldet
    key, secret = next(iter(hub["lti"]["consumers"].items()))
    assert lti_session(hub, names["leer"], key, "falsches-geheimnis") is None
    assert lti_session(hub, "eve_extern", key, secret) is None
    # Server starten (gleichzeitig, wie im Seminar), derweil legt die Lehrende den Kurs an
    people = {role: HubUser(hub, names[role], lti_session(hub, names[role], key, secret))
              for role in ("richtig", "leer", "lehrende")}
    assert all(person.session is not None for person in people.values())
    with ThreadPoolExecutor(len(people)) as pool:
        waiting = [pool.submit(person.wait_for_server) for person in people.values()]
        # die Befehle aus docs/Kurs-Hub.md
        created = as_person(hub, trainer, "ngshare-course-management", "create_course", COURSE, trainer,
                            cwd=course_dir)
        assert "Successfully created" in created.stdout, created.stdout + created.stderr
        added = as_person(hub, trainer, "bash", "-c", "tail -n +2 teilnehmende.csv | cut -d';' -f1 | "
                          f"xargs -n1 ngshare-course-management add_student {COURSE} --no-gb", cwd=course_dir)
        assert added.stdout.count("Successfully added") == len(participants), added.stdout + added.stderr
        released = as_person(hub, trainer, "nbgrader", "release_assignment", ASSIGNMENT, cwd=course_dir)
        assert released.returncode == 0, released.stderr
        for future in waiting:
            future.result()
    logged_in_s = time.monotonic() - started
    ngshare_memory = ngshare_rss_mb(hub["server"].pid)

    # Formgrader nur für die Lehrende (pre_spawn_hook aus config.yaml)
    assert people["lehrende"].get("/formgrader").status_code == 200
    assert people["richtig"].get("/formgrader").status_code == 404

    # Teilnehmende: holen, bearbeiten, abgeben, über ihren Server (wie der Assignments-Reiter in JupyterLab)
    work = {"richtig": solution_sources(), "leer": {}}
    for role in work:
        person = people[role]
        listed = person.assignments(COURSE)
        assert [(a["assignment_id"], a["status"]) for a in listed] == [(ASSIGNMENT, "released")], listed
        person.action("fetch", COURSE)
        person.save(answer(person.notebook(), work[role]))
        submitted = person.action("submit", COURSE)
        assert any(a["status"] == "submitted" for a in submitted["value"]), submitted

    # Lehrende: einsammeln, bewerten mit dem Befehl des Kits, Rückmeldungen freigeben
    collected = as_person(hub, trainer, "nbgrader", "collect", ASSIGNMENT, cwd=course_dir)
    assert sorted(p.name for p in (course_dir / "submitted").iterdir()) == sorted(participants), collected.stderr
    graded = as_person(hub, trainer, KIT_PYTHON, "-m", "sozialraum.course", "grade", ASSIGNMENT, "--teilnehmende",
                       "teilnehmende.csv", cwd=course_dir)
    assert graded.returncode == 0, graded.stdout + graded.stderr
    with open(course_dir / "bewertung" / ASSIGNMENT / "noten.csv", encoding="utf-8-sig") as handle:
        points = {row["id"]: float(row["summe"].replace(",", ".")) for row in csv.DictReader(handle, delimiter=";")}
    assert points == {names["richtig"]: 3.0, names["leer"]: 0.0}, graded.stdout
    feedback_released = as_person(hub, trainer, "nbgrader", "release_feedback", ASSIGNMENT, cwd=course_dir)
    assert feedback_released.returncode == 0 and feedback_released.stderr.count("Feedback released.") == 2, \
        feedback_released.stderr

    # Teilnehmende: nur die eigene Rückmeldung
    for role in work:
        person = people[role]
        fetched = person.action("fetch_feedback", COURSE)
        entry = next(a for a in fetched["value"] if a["assignment_id"] == ASSIGNMENT and "submissions" in a)
        assert entry["submissions"][-1]["has_local_feedback"], entry
        home = hub["work"] / "home" / person.name
        feedback = sorted(home.rglob("feedback/**/*.html"))
        assert len(feedback) == 1, feedback
        html = feedback[0].read_text(encoding="utf-8")
        assert "Übung 00" in html or person.name in html
        assert not any(other in html for other in participants if other != person.name)

    # Abschottung in ngshare: nur mit dem eigenen Token, nur im eigenen Kurs
    anna, bert, dora = names["richtig"], names["leer"], names["fremd"]
    stamps = {pid: ngshare_get(hub, trainer, f"/submissions/{COURSE}/{ASSIGNMENT}/{pid}").json()["submissions"][-1][
        "timestamp"] for pid in participants}
    own = ngshare_get(hub, anna, f"/feedback/{COURSE}/{ASSIGNMENT}/{anna}", timestamp=stamps[anna])
    assert own.status_code == 200 and own.json()["files"], own.text
    for path in (f"/feedback/{COURSE}/{ASSIGNMENT}/{bert}", f"/submission/{COURSE}/{ASSIGNMENT}/{bert}",
                 f"/submissions/{COURSE}/{ASSIGNMENT}/{bert}", f"/submissions/{COURSE}/{ASSIGNMENT}",
                 f"/students/{COURSE}"):
        forbidden = ngshare_get(hub, anna, path, timestamp=stamps[bert])
        assert forbidden.status_code == 403, (path, forbidden.text)
    assert ngshare_get(hub, trainer, f"/submission/{COURSE}/{ASSIGNMENT}/{bert}").status_code == 200
    assert ngshare_get(hub, dora, f"/assignments/{COURSE}").status_code == 403
    assert ngshare_get(hub, dora, "/courses").json()["courses"] == []
    anonymous = requests.get(f"{hub['ngshare']}/assignments/{COURSE}", allow_redirects=False, timeout=TIMEOUT)
    assert anonymous.status_code in (302, 403) and "assignments" not in anonymous.text, anonymous.text  # ohne Token
    # Ein fremder Name in JUPYTERHUB_USER hilft nicht: ngshare glaubt nur dem Token
    spoof_dir = hub["work"] / "home" / anna / "fremd"
    spoof_dir.mkdir()
    spoofed = as_person(hub, anna, "nbgrader", "fetch_feedback", ASSIGNMENT, "--course", COURSE, cwd=spoof_dir,
                        user=bert)
    assert not list(spoof_dir.rglob("*.html")), spoofed.stderr
    assert "Permission denied" in spoofed.stderr, spoofed.stderr
    # Teilnehmende können weder einsammeln noch ausgeben
    not_trainer = as_person(hub, anna, "nbgrader", "collect", ASSIGNMENT, "--course", COURSE, cwd=spoof_dir)
    assert not (spoof_dir / "submitted").exists() or not any((spoof_dir / "submitted").iterdir()), not_trainer.stderr
    assert "Permission denied" in not_trainer.stderr, not_trainer.stderr

    ARTIFACTS.mkdir(exist_ok=True)
    measured = {"pakete_s": round(hub["packages_s"], 1), "anmelden_und_server_s": round(logged_in_s, 1),
                "gesamt_s": round(time.monotonic() - started, 1), "ngshare_belegt_mb": ngshare_memory,
                "punkte": points, "last": os.getloadavg()}
    (ARTIFACTS / "hub-kubernetes-messung.json").write_text(json.dumps(measured, indent=2, ensure_ascii=False) + "\n")


def ngshare_rss_mb(hub_pid: int) -> int | None:
    """Belegter Speicher (RSS) des ngshare-Prozesses unter dem Hub, in MB."""
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            cmdline = (status.parent / "cmdline").read_bytes()
            fields = dict(line.split(":", 1) for line in status.read_text().splitlines() if ":" in line)
        except OSError:
            continue
        if b"ngshare.ngshare" in cmdline and int(fields["PPid"]) == hub_pid:
            return int(fields["VmRSS"].split()[0]) // 1024
    return None


def docs_section() -> str:
    text = (ROOT / "docs" / "Kurs-Hub.md").read_text(encoding="utf-8")
    return text[text.index("## Mehr als ein Rechner: Zero to JupyterHub"):]


def docs_command(program: str) -> list[str]:
    """Der Befehl aus docs/Kurs-Hub.md, der mit program beginnt (Fortsetzungszeilen mit \\ zusammengefügt)."""
    text = docs_section().replace("\\\n", " ")
    line = next(line for line in text.splitlines() if line.strip().startswith(program))
    return shlex.split(line)


def megabytes(value: str) -> int:
    assert re.fullmatch(r"\d+M", value), f"Speicher in config.yaml bitte in M angeben: {value}"
    return int(value[:-1])


def test_values_file_matches_the_kit():
    config = values()
    kit = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
    example = tomllib.loads((HUB / "kurse.beispiel.toml").read_text(encoding="utf-8"))
    single, hub = config["singleuser"], config["hub"]

    # Image der Teilnehmenden: aus binder/ gebaut, Tag = Version des Kits (ggf. mit Zusatz), Befehl wie in der Anleitung
    tag = single["image"]["tag"]
    assert tag == kit or tag.startswith(f"{kit}-"), f"singleuser.image.tag {tag!r} passt nicht zur Kit-Version {kit}"
    build = docs_command(".venv/bin/jupyter-repo2docker")
    assert build[build.index("--image-name") + 1] == f"{single['image']['name']}:{tag}"
    assert build[build.index("--target-repo-dir") + 1] == "/srv/sozialraum"
    assert "/srv/sozialraum/modules" in json.dumps(single["lifecycleHooks"])
    # Hub-Image: Chart-Version, Basis-Image und Tag stimmen überein
    chart = docs_command("helm upgrade")
    version = chart[chart.index("--version") + 1]
    dockerfile = (K8S / "Dockerfile.hub").read_text(encoding="utf-8")
    assert f"FROM quay.io/jupyterhub/k8s-hub:{version}\n" in dockerfile
    ngshare_pin = re.search(r"^ngshare==(\S+)$", (K8S / "requirements-ngshare.txt").read_text(), re.M).group(1)
    assert hub["image"]["tag"] == f"{version}-ngshare-{ngshare_pin}"
    image_build = docs_command("docker build")
    assert image_build[image_build.index("-t") + 1] == f"{hub['image']['name']}:{hub['image']['tag']}"
    assert "venv /opt/ngshare" in dockerfile and "requirements-ngshare.txt" in dockerfile

    # Speicher: aus den Messungen in docs/Kurs-Hub.md, Grenzen wie auf einem Rechner (hub/kurse.beispiel.toml)
    docs = (ROOT / "docs" / "Kurs-Hub.md").read_text(encoding="utf-8")
    docs = re.sub(r"\s+", " ", docs)
    server_peak = int(re.search(r"nach dem Prüfen einer Übung \d+ bis \d+ MB \(Spitze \d+ bis (\d+) MB\)", docs)[1])
    kernel = int(re.search(r"Ein Kernel mit einem Lehr-Notebook braucht \d+ bis (\d+) MB", docs)[1])
    def round_up(mb: int) -> int:
        return -(-mb // 100) * 100
    assert megabytes(single["memory"]["guarantee"]) == round_up(server_peak + kernel)
    assert megabytes(single["memory"]["limit"]) == example["speicher_mb"]
    trainers = config["custom"]["sozialraum"]["speicherLehrende"]
    assert megabytes(trainers["zusage"]) == round_up(server_peak + 2 * kernel)
    assert megabytes(trainers["grenze"]) == example["speicher_mb_lehrende"]
    section = docs_section()
    for mb in (megabytes(single["memory"]["guarantee"]), example["speicher_mb"], example["speicher_mb_lehrende"]):
        assert f"{mb} MB" in section.replace(".", ""), mb
    assert config["cull"]["enabled"] and config["cull"]["timeout"] == 60 * example["leerlauf_minuten"]

    # Lehrende: derselbe Formgrader-Schalter wie auf einem Rechner (hub/kurshub.py)
    kurshub = ast.parse((HUB / "kurshub.py").read_text(encoding="utf-8"))
    formgrader = next(ast.literal_eval(node.value) for node in kurshub.body if isinstance(node, ast.Assign)
                      and getattr(node.targets[0], "id", "") == "FORMGRADER")
    extra = hub["extraConfig"]["sozialraum.py"]
    extra_tree = ast.parse(extra)
    assert formgrader in [ast.literal_eval(node.value) for node in extra_tree.body if isinstance(node, ast.Assign)
                          and getattr(node.targets[0], "id", "") == "FORMGRADER"]
    assert set(config["custom"]["sozialraum"]["lehrende"]) <= set(hub["config"]["Authenticator"]["allowed_users"])

    # ngshare: ein Port für Dienst, Service, Netzwerkregeln und die Adresse in den Servern
    service = re.search(r'"url": "http://hub:(\d+)"', extra)
    port = int(service[1])
    assert '"name": "ngshare"' in extra and NGSHARE_COMMAND == json.loads(
        re.search(r'"command": (\[[^\]]*?"ngshare")', extra)[1] + "]")
    assert [p["port"] for p in hub["service"]["extraPorts"]] == [port]
    assert [p["port"] for rule in hub["networkPolicy"]["ingress"] for p in rule["ports"]] == [port]
    assert [p["port"] for rule in single["networkPolicy"]["egress"] for p in rule["ports"]] == [port]
    assert single["extraEnv"]["NGSHARE_URL"] == f"http://hub:{port}/services/ngshare"
    assert "/srv/jupyterhub/" in extra  # ngshare-Daten auf dem Speicher des Hubs (hub.db.pvc)


def test_nbgrader_config_of_the_pods_selects_ngshare_exchange():
    """Die nbgrader-Konfiguration aus singleuser.extraFiles wählt für jeden Schritt die Klassen von ngshare_exchange."""
    install_target(KIT_PYTHON, K8S / "requirements-singleuser.txt", PREFIX / "kubernetes" / "singleuser")
    stringdata = values()["singleuser"]["extraFiles"]["nbgrader-austausch"]["stringData"]
    probe = (
        "import json, sys\n"
        "from traitlets.config import Config\n"
        "c = Config()\n"
        "exec(sys.stdin.read(), {'get_config': lambda: c})\n"
        "print(json.dumps({k: f'{v.__module__}.{v.__name__}' for k, v in c.ExchangeFactory.items()}))\n"
        "print(c.ExchangeFactory.exchange().ngshare_url)\n"
    )
    result = subprocess.run([KIT_PYTHON, "-c", probe], input=stringdata, capture_output=True, text=True, timeout=120,
                            env={**os.environ, "PYTHONPATH": str(PREFIX / "kubernetes" / "singleuser"),
                                 "NGSHARE_URL": "http://hub:10101/services/ngshare", "JUPYTERHUB_USER": "x"})
    assert result.returncode == 0, result.stderr
    classes, url = result.stdout.splitlines()
    steps = {"exchange", "fetch_assignment", "fetch_feedback", "release_assignment", "release_feedback", "list",
             "submit", "collect"}
    assert set(json.loads(classes)) == steps
    assert all(name.startswith("ngshare_exchange.") for name in json.loads(classes).values()), classes
    assert url == "http://hub:10101/services/ngshare"


def test_image_build_command_in_the_docs_plans_the_kit_image(tmp_path):
    """repo2docker plant mit dem Befehl aus der Anleitung: Pins aus binder/, dann ngshare-exchange, ohne Lösungen."""
    command = docs_command(".venv/bin/jupyter-repo2docker")
    appendix = (K8S / "repo2docker-appendix").read_text(encoding="utf-8").strip()
    assert command[command.index("--appendix") + 1] == "$(cat hub/kubernetes/repo2docker-appendix)"
    command[command.index("--appendix") + 1] = appendix
    command = [ROOT / ".venv" / "bin" / "jupyter-repo2docker", "--no-build",
               *[arg for arg in command[1:-1] if arg not in ("--no-run", "--push")], ROOT]
    assert command[-1] == ROOT
    result = subprocess.run([str(c) for c in command], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    dockerfile = [line for line in result.stdout.splitlines() if line.strip()]
    pins = dockerfile.index('RUN ${KERNEL_PYTHON_PREFIX}/bin/pip install --no-cache-dir -r "binder/requirements.txt"')
    assert dockerfile.index("RUN ./binder/postBuild") > pins
    assert dockerfile[-1] == appendix and "requirements-singleuser.txt" in appendix and "solutions" in appendix
    assert "COPY --chown=1000:1000 src/ ${REPO_DIR}/" in dockerfile  # jovyan (uid 1000) darf solutions/ löschen
