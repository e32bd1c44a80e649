"""Eine feindliche Abgabe im echten Formgrader und im Feedback-HTML (Chromium, headless, über Playwright).

Die Abgabe schreibt HTML mit Skripten in ihre Textantwort, in Ausgaben und in eine Rohzelle: jedes Skript würde
den Seitentitel setzen und über die Formgrader-API die eigene Handbewertung auf volle Punkte stellen. Geprüft
wird, dass die Antwort angezeigt wird, kein Skript lief und keine Note sich änderte; außerdem, dass der
Autograde-Knopf des Formgraders (seine API) die Abgabe abgeschottet bewertet. Der Server lauscht nur auf
127.0.0.1 und wird am Ende beendet.
"""
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

import grading_variants as gv
from sozialraum.course import sandbox
from sozialraum.course.grade import grade_cohort

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"]
STUDENT = "xander"


def hostile_notebook(release: dict, grade_url: str) -> str:
    """Wie gv.script_everywhere; die Textantwort versucht zusätzlich, über die API die Handbewertung zu setzen."""
    attack = (f"document.title='{gv.XSS}';fetch('{grade_url}',{{method:'PUT',headers:{{'Content-Type':"
              "'application/json'}},body:JSON.stringify({manual_score:1})})")
    notebook = json.loads(gv.script_everywhere(release))
    answer = gv.cell(notebook, "a3_antwort")
    answer["source"] += f'<img src=x onerror="{attack}"><svg onload="{attack}"></svg>'
    cell = gv.cell(notebook, "a1_loesung")
    cell["source"] = "import os\nprint('UID', os.getuid())\n" + cell["source"]
    return gv.dumps(notebook)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    course = gv.make_course(tmp_path_factory.mktemp("fg") / "kurs")
    folder = course / "submitted" / STUDENT / gv.ASSIGNMENT
    folder.mkdir(parents=True)
    (folder / "mini.ipynb").write_text(hostile_notebook(gv.release_notebook(course), "/formgrader/api/grade/1"),
                                       encoding="utf-8")
    limits = sandbox.Limits(cell_timeout=10, notebook_timeout=60, memory_mb=1000)
    grade_cohort(course, gv.ASSIGNMENT, None, workers=1, limits=limits, progress=False)
    return course


def manual_grade(course: Path):
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        grade = gradebook.find_grade("a3_antwort", "mini", "mini", STUDENT)
        submission = gradebook.find_submission_notebook("mini", "mini", STUDENT)
        return grade.id, submission.id, grade.manual_score, grade.needs_manual_grade


@pytest.fixture(scope="module")
def formgrader(course):
    port, token = free_port(), secrets.token_hex(16)
    log = open(course / "formgrader.log", "w")
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "jupyter"), "server", "--no-browser", "--ip=127.0.0.1",
         f"--port={port}", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={course}",
         "--ServerApp.jpserver_extensions={'nbgrader.server_extensions.formgrader': True}",
         *(["--allow-root"] if os.geteuid() == 0 else [])],
        cwd=course, stdout=log, stderr=subprocess.STDOUT,
        env={**os.environ, "JUPYTER_CONFIG_DIR": str(course / ".jupyter"), "JUPYTER_DATA_DIR": str(course / ".d")})
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=5)
            break
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.5)
    else:
        server.kill()
        pytest.fail("Der Formgrader startet nicht:\n" + (course / "formgrader.log").read_text()[-3000:])
    yield base, token
    server.terminate()
    try:
        server.wait(30)
    except subprocess.TimeoutExpired:
        server.kill()
    log.close()


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.fail("Chromium fehlt: `apt-get install chromium`.")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        chromium.close()


def test_formgrader_shows_the_answer_but_runs_no_script(course, formgrader, browser):
    base, token = formgrader
    grade_id, submission_id, score_before, flag_before = manual_grade(course)
    assert (score_before, flag_before) == (None, True)
    page = browser.new_page()
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(f"{base}/formgrader/submissions/{submission_id}/?token={token}")
    page.wait_for_load_state("networkidle")
    assert "Ein Viertel" in page.content()  # die Antwort ist zu sehen
    time.sleep(2)
    assert gv.XSS not in page.title() and not dialogs
    page.screenshot(path=str(course / "formgrader.png"), full_page=True)
    assert manual_grade(course)[2:] == (None, True)
    page.close()


def test_feedback_html_runs_no_script(course, browser):
    page_file = course / "feedback" / STUDENT / "mini" / "mini.html"
    page = browser.new_page()
    page.goto(page_file.as_uri())
    page.wait_for_load_state("load")
    time.sleep(1)
    assert "Ein Viertel" in page.content()
    assert gv.XSS not in page.title()
    page.close()


def test_formgrader_autograde_button_grades_in_the_sandbox(course, formgrader):
    base, token = formgrader
    request = urllib.request.Request(f"{base}/formgrader/api/submission/mini/{STUDENT}/autograde", data=b"{}",
                                     method="POST", headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(request, timeout=300) as response:
        result = json.loads(response.read())
    assert result["success"], result.get("log")
    stored = json.loads((course / "autograded" / STUDENT / "mini" / "mini.ipynb").read_text(encoding="utf-8"))
    outputs = json.dumps([c.get("outputs", []) for c in stored["cells"]])
    shown = outputs + json.dumps([c["source"] for c in stored["cells"] if c["cell_type"] != "code"])
    uid = int(outputs.split("UID ")[1].split("\\n")[0])
    assert uid != 0  # der Kernel lief unter einer unprivilegierten Kennung, also in der Sandbox
    assert "onerror" not in shown and "<script" not in shown and "Ein Viertel" in shown
    assert manual_grade(course)[2] is None
    shutil.rmtree(course / ".d", ignore_errors=True)
