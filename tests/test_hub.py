"""Kurs-JupyterHub (hub/): der ganze Weg einer Übung auf einem echten Hub auf 127.0.0.1 (als root, Linux-Konten).

Eingerichtet mit hub/setup.py (Pakete) und hub/accounts.py (Konten, Kurse) wie auf einem Kursserver: eine Lehrende
und drei Teilnehmende im Kurs A, eine Person im Kurs B. Die Lehrende gibt 00_start über den nbgrader-Austausch aus;
die Teilnehmenden melden sich an (eine davon in Chromium über die Anmeldeseite), holen die Übung über die
Assignments-Schnittstelle ihres Servers, bearbeiten sie über die Contents-API (richtig, leer, teils falsch), prüfen
mit Validate und geben ab; die Lehrende sammelt ein, bewertet mit `python -m sozialraum.course grade` und gibt die
Rückmeldungen frei. Danach: jede Person sieht nur ihre Rückmeldung, keine fremde Abgabe, kein Gradebook; Kurs B
sieht nichts von Kurs A; ein signierter LTI-1.1-Start meldet eine Person an. Alle Konten, Prozesse, cgroups und
Ordner werden am Ende entfernt. Messwerte (Speicher je Person, Zeiten) stehen in artifacts/hub-messung.json.
"""
from __future__ import annotations

import csv
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

import pytest
import requests
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
HUB = ROOT / "hub"
PREFIX = HUB / ".umgebung"
ARTIFACTS = ROOT / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")
ASSIGNMENT = "00_start"
LTI_KEY, LTI_SECRET = "moodle-test", secrets.token_hex(16)
TIMEOUT = 120

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="der Hub-Test legt Linux-Konten an und braucht root")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_roster(path: Path, people: list[tuple[str, str, str]]) -> None:
    lines = ["id;nachname;vorname;email", *(f"{pid};{last};{first};{pid}@example.org" for pid, last, first in people)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def as_user(user: str, *command: str, cwd: str = "~", check: bool = True) -> subprocess.CompletedProcess:
    """Ein Befehl als dieser Linux-Benutzer, wie im Terminal des Hubs (Lernumgebung im PATH)."""
    script = f"cd {cwd} && umask 007 && " + " ".join(command)
    return subprocess.run(
        ["runuser", "-u", user, "--", "env", "-i", f"HOME=/home/{user}", f"PATH={ROOT / '.venv' / 'bin'}:/usr/bin:/bin",
         "bash", "-c", script], capture_output=True, text=True, timeout=600, check=check)


def can_read(user: str, path: Path) -> bool:
    """Kann user die Datei lesen bzw. den Ordner auflisten?"""
    probe = f"import os, sys; p = sys.argv[1]; os.listdir(p) if os.path.isdir(p) else open(p, 'rb').read(1)"
    result = subprocess.run(["runuser", "-u", user, "--", sys.executable, "-c", probe, str(path)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 or "PermissionError" in result.stderr or "FileNotFoundError" in result.stderr, \
        result.stderr
    return result.returncode == 0


class HubUser:
    """Eine angemeldete Person: Sitzung mit Cookie wie im Browser, Aufrufe an ihren eigenen Jupyter-Server."""

    def __init__(self, hub: dict, name: str, session: requests.Session | None = None):
        self.hub, self.name = hub, name
        self.session = session or requests.Session()

    @property
    def url(self) -> str:
        return f"{self.hub['url']}/user/{self.name}"

    def login(self) -> requests.Response:
        self.session.get(f"{self.hub['url']}/hub/login", timeout=TIMEOUT)
        return self.session.post(
            f"{self.hub['url']}/hub/login",
            data={"username": self.name, "password": self.hub["passwords"][self.name],
                  "_xsrf": self.session.cookies.get("_xsrf", path="/hub/")},
            timeout=TIMEOUT)

    def wait_for_server(self) -> None:
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            # wie der Browser: JupyterLab öffnen (OAuth mit dem Hub setzt das Cookie des eigenen Servers)
            response = self.session.get(f"{self.url}/lab", timeout=TIMEOUT)
            if response.status_code == 200 and response.url.startswith(f"{self.url}/lab"):
                return
            if response.status_code == 424:  # Server nicht gestartet: so startet ihn auch die Hub-Seite
                self.session.get(f"{self.hub['url']}/hub/spawn/{self.name}", timeout=TIMEOUT)
            time.sleep(1)
        raise AssertionError(f"Server von {self.name} nicht bereit: {response.status_code} {response.text[:300]}")

    def _headers(self) -> dict:
        return {"X-XSRFToken": self.session.cookies.get("_xsrf", path=f"/user/{self.name}/") or ""}

    def post(self, path: str, **kwargs) -> requests.Response:
        return self.session.post(f"{self.url}{path}", headers=self._headers(), timeout=300, **kwargs)

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.session.get(f"{self.url}{path}", timeout=TIMEOUT, **kwargs)

    def assignments(self, course: str) -> list[dict]:
        response = self.get("/assignments", params={"course_id": course})
        assert response.status_code == 200, response.text
        return response.json()["value"]

    def action(self, action: str, course: str) -> dict:
        response = self.post(f"/assignments/{action}", data={"course_id": course, "assignment_id": ASSIGNMENT})
        assert response.status_code == 200, response.text
        return response.json()

    def notebook(self) -> dict:
        response = self.get(f"/api/contents/{ASSIGNMENT}/{ASSIGNMENT}.ipynb")
        assert response.status_code == 200, response.text
        return response.json()["content"]

    def save(self, notebook: dict) -> None:
        body = {"type": "notebook", "format": "json", "content": notebook}
        response = self.session.put(f"{self.url}/api/contents/{ASSIGNMENT}/{ASSIGNMENT}.ipynb", json=body,
                                    headers=self._headers(), timeout=TIMEOUT)
        assert response.status_code == 200, response.text

    def validate(self) -> dict:
        response = self.post("/assignments/validate", data={"path": f"{ASSIGNMENT}/{ASSIGNMENT}.ipynb"})
        assert response.status_code == 200, response.text
        return response.json()


def memory(user: str) -> dict[str, int]:
    """Speicher der cgroup dieser Person in MB: jetzt belegt (ohne Seitencache) und Spitze (mit Cache)."""
    v2 = Path("/sys/fs/cgroup/sozialraum-hub") / user
    if (v2 / "memory.current").exists():
        stat = dict(line.split() for line in (v2 / "memory.stat").read_text().splitlines())
        return {"belegt_mb": int(stat["anon"]) // 2**20, "spitze_mb": int((v2 / "memory.peak").read_text()) // 2**20,
                "grenze": (v2 / "memory.max").read_text().strip()}
    v1 = Path("/sys/fs/cgroup/memory/sozialraum-hub") / user
    stat = dict(line.split() for line in (v1 / "memory.stat").read_text().splitlines())
    return {"belegt_mb": int(stat["total_rss"]) // 2**20,
            "spitze_mb": int((v1 / "memory.max_usage_in_bytes").read_text()) // 2**20,
            "grenze_mb": int((v1 / "memory.limit_in_bytes").read_text()) // 2**20}


def solution_sources() -> dict[str, str]:
    source = json.loads((ROOT / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_text(encoding="utf-8"))
    answers = {}
    for cell in source["cells"]:
        meta = cell["metadata"].get("nbgrader", {})
        if meta.get("solution") and cell["cell_type"] == "code":
            lines = "".join(cell["source"]).splitlines()
            answers[meta["grade_id"]] = "\n".join(l for l in lines if "### BEGIN SOLUTION" not in l
                                                  and "### END SOLUTION" not in l)
    return answers


def answer(notebook: dict, answers: dict[str, str]) -> dict:
    for cell in notebook["cells"]:
        grade_id = cell["metadata"].get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell["source"] = answers[grade_id]
    return notebook


@pytest.fixture(scope="module")
def hub():
    """Ein frisch eingerichteter Hub mit zwei Kursen; danach ist alles wieder weg (Konten, Prozesse, Ordner)."""
    started = time.monotonic()
    subprocess.run(["python3", HUB / "setup.py", "--nur-pakete", "--prefix", PREFIX],
                   check=True, cwd=ROOT, capture_output=True, timeout=900)
    packages_s = time.monotonic() - started
    tag = secrets.token_hex(2)
    names = {"lehrende": f"h{tag}_lea", "richtig": f"h{tag}_anna", "leer": f"h{tag}_bert",
             "teils": f"h{tag}_cem", "kurs_b": f"h{tag}_dora"}
    work = Path(tempfile.mkdtemp(prefix="kurshub-test-"))
    os.chmod(work, 0o755)
    write_roster(work / "lehrende.csv", [(names["lehrende"], "Lehrer", "Lea")])
    write_roster(work / "kurs-a.csv", [(names["richtig"], "Alt", "Anna"), (names["leer"], "Bunt", "Bert"),
                                       (names["teils"], "Çelik", "Cem")])
    write_roster(work / "kurs-b.csv", [(names["kurs_b"], "Dorn", "Dora")])
    course_a, course_b = f"a{tag}", f"b{tag}"
    port = free_port()
    (work / "kurse.toml").write_text(f"""
prefix = "{PREFIX}"
daten = "{work / 'daten'}"
adresse = "127.0.0.1"
port = {port}
hub_port = {free_port()}
proxy_api_port = {free_port()}
speicher_mb = 1536
leerlauf_minuten = 30
[lti.schluessel]
{LTI_KEY} = "{LTI_SECRET}"
[[kurs]]
id = "{course_a}"
lehrende = "lehrende.csv"
teilnehmende = "kurs-a.csv"
[[kurs]]
id = "{course_b}"
lehrende = "lehrende.csv"
teilnehmende = "kurs-b.csv"
""", encoding="utf-8")
    accounts = [ROOT / ".venv" / "bin" / "python", HUB / "accounts.py", work / "kurse.toml", "--prefix", PREFIX]
    server = None
    try:
        subprocess.run(accounts, check=True, capture_output=True, timeout=120)
        passwords = {}
        for course in (course_a, course_b):
            with open(work / "daten" / "zugangsdaten" / f"{course}.csv", encoding="utf-8-sig") as handle:
                passwords |= {row["id"]: row["passwort"] for row in csv.DictReader(handle, delimiter=";")}
        log = open(work / "hub.log", "w")
        server = subprocess.Popen(
            [PREFIX / "venv" / "bin" / "jupyterhub", "-f", HUB / "jupyterhub_config.py"],
            cwd=work / "daten" / "hub", env={**os.environ, "KURSHUB_KONFIG": str(work / "daten" / "hub.json")},
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{url}/hub/api/", timeout=5).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, (work / "hub.log").read_text()[-3000:]
            time.sleep(0.5)
        yield {"url": url, "work": work, "names": names, "passwords": passwords, "course_a": course_a,
               "course_b": course_b, "data": work / "daten", "packages_s": packages_s, "log": work / "hub.log"}
    finally:
        if server is not None:
            os.killpg(server.pid, signal.SIGTERM)  # der Hub beendet die Server der Personen (cleanup_servers)
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait(10)
        ARTIFACTS.mkdir(exist_ok=True)
        if (work / "hub.log").exists():
            shutil.copy(work / "hub.log", ARTIFACTS / "hub-test.log")
        subprocess.run([*accounts, "--entfernen"], check=True, capture_output=True, timeout=120)
        for name in names.values():
            for base in (Path("/sys/fs/cgroup/memory/sozialraum-hub"), Path("/sys/fs/cgroup/sozialraum-hub")):
                if (base / name).exists():
                    (base / name).rmdir()
        shutil.rmtree(work)


def login_in_chromium(hub: dict, name: str) -> requests.Session:
    """Anmeldung über die echte Anmeldeseite in Chromium; danach JupyterLab der Person. Gibt ihre Cookies zurück."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--headless", "--no-sandbox",
                                                                                   "--disable-gpu"])
        try:
            page = browser.new_page()
            page.set_default_timeout(TIMEOUT * 1000)
            page.goto(f"{hub['url']}/hub/login")
            page.fill("#username_input", name)
            page.fill("#password_input", hub["passwords"][name])
            page.click("#login_submit")
            page.wait_for_url(f"**/user/{name}/lab**")
            page.wait_for_selector("#jp-main-dock-panel")
            session = requests.Session()
            for cookie in page.context.cookies():
                session.cookies.set(cookie["name"], cookie["value"], path=cookie["path"])
            return session
        finally:
            browser.close()


def test_whole_course_cycle_on_the_hub(hub):
    started = time.monotonic()
    names, course, data = hub["names"], hub["course_a"], hub["data"]
    course_dir = data / "kurse" / course
    trainer = names["lehrende"]

    # Lehrende: Übung ausgeben (im Terminal des Hubs, im Kursordner)
    release = as_user(trainer, "nbgrader", "release_assignment", ASSIGNMENT, cwd=course_dir)
    assert "Released as" in release.stderr, release.stderr

    # Anmelden: drei Teilnehmende über die Anmeldeseite (eine davon in Chromium), die Server starten gleichzeitig
    people = {role: HubUser(hub, names[role]) for role in ("leer", "teils")}
    for person in people.values():
        assert person.login().status_code == 200
    people["richtig"] = HubUser(hub, names["richtig"], login_in_chromium(hub, names["richtig"]))
    for person in people.values():
        person.wait_for_server()
    idle = {role: memory(person.name) for role, person in people.items()}
    logged_in_s = time.monotonic() - started

    # Teilnehmende: holen, bearbeiten, prüfen, abgeben
    answers = solution_sources()
    work = {"richtig": answers, "leer": {},
            "teils": {"anzahl_bezirke": answers["anzahl_bezirke"],
                      "einwohner_2024": 'bevoelkerung = data.load("bevoelkerung")\n'
                                        'einwohner_2024 = int(bevoelkerung["einwohner"].sum())  # alle Jahre'}}
    validated = {}
    for role, person in people.items():
        listed = person.assignments(course)
        assert [(a["assignment_id"], a["status"]) for a in listed] == [(ASSIGNMENT, "released")]
        person.action("fetch", course)
        person.save(answer(person.notebook(), work[role]))
        validated[role] = person.validate()
        submitted = person.action("submit", course)
        assert any(a["status"] == "submitted" for a in submitted["value"]), submitted
    working = {role: memory(person.name) for role, person in people.items()}
    assert "passed" in json.dumps(validated["richtig"]) or "success" in json.dumps(validated["richtig"])
    assert "failed" in json.dumps(validated["teils"]), validated["teils"]
    assert all(m["grenze_mb"] == 1536 for m in working.values() if "grenze_mb" in m), working

    # Lehrende: einsammeln, bewerten mit dem Befehl des Kits, Rückmeldungen freigeben
    collect = as_user(trainer, "nbgrader", "collect", ASSIGNMENT, cwd=course_dir)
    assert sorted(p.name for p in (course_dir / "submitted").iterdir()) == sorted(p.name for p in people.values()), \
        collect.stderr
    roster = hub["work"] / "kurs-a.csv"
    shutil.copy(roster, course_dir / "teilnehmende.csv")
    os.chmod(course_dir / "teilnehmende.csv", 0o644)
    grade_started = time.monotonic()
    graded = as_user(trainer, "python", "-m", "sozialraum.course", "grade", ASSIGNMENT, "--teilnehmende",
                     "teilnehmende.csv", cwd=course_dir, check=False)
    grade_s = time.monotonic() - grade_started
    assert graded.returncode == 0, graded.stdout + graded.stderr
    with open(course_dir / "bewertung" / ASSIGNMENT / "noten.csv", encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle, delimiter=";"))
    points = {row["id"]: float(row["summe"].replace(",", ".")) for row in rows}
    report = f"{graded.stdout}\n{rows}\n" + (course_dir / "bewertung" / ASSIGNMENT / "abgaben.json").read_text()
    assert points[names["richtig"]] == 3.0, report  # 3 automatisch, die Textantwort bewertet die Lehrende von Hand
    assert points[names["leer"]] == 0.0, report
    assert 0.0 < points[names["teils"]] < 3.0, report
    released = as_user(trainer, "nbgrader", "release_feedback", ASSIGNMENT, cwd=course_dir, check=False)
    assert released.returncode == 0 and released.stderr.count("Feedback released to") == 3, released.stderr

    # Teilnehmende: nur die eigene Rückmeldung
    for role, person in people.items():
        fetched = person.action("fetch_feedback", course)
        # nbgrader listet die Abgaben einer Übung gebündelt; die Rückmeldung hängt an der letzten Abgabe
        entry = next(a for a in fetched["value"] if a["assignment_id"] == ASSIGNMENT and "submissions" in a)
        latest = entry["submissions"][-1]
        assert latest["has_local_feedback"] and latest["feedback_updated"] is False, entry
        feedback = sorted(Path(f"/home/{person.name}/{ASSIGNMENT}/feedback").rglob("*.html"))
        assert len(feedback) == 1, feedback
        html = feedback[0].read_text(encoding="utf-8")
        assert person.name in html or "Übung 00" in html
        others = [p.name for p in people.values() if p is not person]
        assert not any(other in html for other in others)

    # Abschottung: keine fremde Abgabe, kein Gradebook, kein Kursordner, keine fremden Home-Ordner
    exchange = data / "austausch" / course / "exchange" / course
    for role, person in people.items():
        assert not can_read(person.name, exchange / "inbound")
        assert not can_read(person.name, exchange / "feedback")
        assert not can_read(person.name, course_dir / "gradebook.db")
        assert not can_read(person.name, course_dir / "submitted")
        for other in people.values():
            if other is not person:
                assert not can_read(person.name, Path(f"/home/{other.name}/{ASSIGNMENT}/{ASSIGNMENT}.ipynb"))
        assert person.get("/formgrader").status_code == 404  # kein Formgrader für Teilnehmende
    assert can_read(trainer, course_dir / "gradebook.db")

    # Die Lehrende hat den Formgrader
    lea = HubUser(hub, trainer)
    assert lea.login().status_code == 200
    lea.wait_for_server()
    assert lea.get("/formgrader").status_code == 200

    # Kurs B sieht nichts von Kurs A, auch nicht im Dateisystem
    dora = HubUser(hub, names["kurs_b"])
    assert dora.login().status_code == 200
    dora.wait_for_server()
    assert dora.assignments(hub["course_b"]) == []
    assert not can_read(dora.name, data / "austausch" / course)
    assert dora.get("/assignments", params={"course_id": course}).json()["value"] == []

    ARTIFACTS.mkdir(exist_ok=True)
    measured = {"pakete_s": round(hub["packages_s"], 1), "anmelden_und_server_s": round(logged_in_s, 1),
                "bewerten_s": round(grade_s, 1), "gesamt_s": round(time.monotonic() - started, 1),
                "speicher_leerlauf": idle, "speicher_nach_validate": working, "punkte": points,
                "last": os.getloadavg()}
    (ARTIFACTS / "hub-messung.json").write_text(json.dumps(measured, indent=2, ensure_ascii=False) + "\n")


def lti_launch(hub: dict, username: str, key: str, secret: str) -> requests.Response:
    url = f"{hub['url']}/hub/lti/launch"
    params = {"lti_message_type": "basic-lti-launch-request", "lti_version": "LTI-1p0",
              "resource_link_id": "sozialraum-kurs", "user_id": "moodle-4711", "ext_user_username": username,
              "roles": "Learner", "context_id": hub["course_a"], "custom_next": "/hub/home"}
    from oauthlib.oauth1 import SIGNATURE_TYPE_BODY, Client  # kommt mit hub/setup.py (Fixture hub) in die .venv

    client = Client(key, client_secret=secret, signature_type=SIGNATURE_TYPE_BODY)
    _, headers, body = client.sign(url, http_method="POST", body=urlencode(params),
                                   headers={"Content-Type": "application/x-www-form-urlencoded"})
    session = requests.Session()
    response = session.post(url, data=body, headers=headers, allow_redirects=False, timeout=TIMEOUT)
    response.session = session
    return response


def test_signed_lti_launch_logs_a_participant_in(hub):
    name = hub["names"]["leer"]
    launch = lti_launch(hub, name, LTI_KEY, LTI_SECRET)
    assert launch.status_code == 302, launch.text
    me = whoami(hub, launch.session)
    assert me.status_code == 200 and me.json()["name"] == name, me.text
    assert lti_launch(hub, name, LTI_KEY, "falsches-geheimnis").status_code in (401, 403)
    # nur Konten aus den Listen: ltiauthenticator leitet auch dann weiter, angemeldet ist aber niemand
    outsider = lti_launch(hub, "root", LTI_KEY, LTI_SECRET)
    assert outsider.status_code in (302, 403) and whoami(hub, outsider.session).status_code == 403


def whoami(hub: dict, session: requests.Session) -> requests.Response:
    return session.get(f"{hub['url']}/hub/api/user", timeout=TIMEOUT,
                       headers={"X-XSRFToken": session.cookies.get("_xsrf", path="/hub/") or ""})
