"""Kernel-Vorlage (sozialraum.course.forkserver): was ein feindlicher Kernel hinterlässt oder der Vorlage antut,
ändert nichts am nächsten Kernel, an der nächsten Bewertung oder außerhalb der Sandbox."""
import asyncio
import json
import os
import sys
from pathlib import Path

import pytest

import grading_variants as gv
from sozialraum.course import forkserver, sandbox
from sozialraum.course.autograde import JailedKernelManager, autograde_notebooks, kernel_environment

MEMORY_MB = 1000
PRELOAD = ("ipykernel.kernelapp",)  # klein: die Tests brauchen pandas & Co. nicht

pytestmark = pytest.mark.skipif(not sandbox.available(), reason="bubblewrap fehlt (test_autograde prüft das)")


@pytest.fixture
def server(tmp_path):
    folder = tmp_path / "vorlage"
    folder.mkdir()
    jail = sandbox.Jail(folder, readable=[Path(sys.prefix), Path(sys.base_prefix), sandbox.package_dir()],
                        env=kernel_environment(tmp_path), limits=sandbox.Limits(memory_mb=MEMORY_MB, processes=64))
    server = forkserver.ForkServer(jail, PRELOAD)
    yield server
    server.stop()


def run_kernel(server: forkserver.ForkServer, code: str) -> str:
    """Ein Kernel aus der Vorlage, wie nbclient ihn startet; führt ``code`` aus und gibt stdout zurück."""
    async def main() -> str:
        folder = server.folder()
        km = JailedKernelManager()
        forkserver.attach(km, server, folder)
        await km.start_kernel()
        kc = km.client()
        kc.start_channels()
        texts = []
        try:
            await kc.wait_for_ready(timeout=60)
            server.jail.seal(folder)
            running = asyncio.ensure_future(kc.execute_interactive(code, timeout=60, output_hook=lambda msg: texts.append(
                msg["content"].get("text", "") if msg["msg_type"] == "stream"
                else msg["content"].get("ename", "") if msg["msg_type"] == "error" else "")))
            while not running.done():  # stirbt der Kernel (etwa mit seiner Vorlage), nicht bis zum Zeitlimit warten
                await asyncio.wait([running], timeout=0.2)
                if not running.done() and not await km.is_alive():
                    running.cancel()
        finally:
            kc.stop_channels()
            await km.shutdown_kernel(now=True)
        return "".join(texts)
    return asyncio.run(main())


def facts(server) -> dict:
    """Was ein frischer Kernel vorfindet (als JSON ausgegeben)."""
    code = """import json, os, resource
own = {1, os.getpid(), os.getppid()}
print(json.dumps({"tmp": sorted(os.listdir("/tmp")), "shm": os.listdir("/dev/shm"), "run": os.listdir("/run"),
                  "others": [p for p in os.listdir("/proc") if p.isdigit() and int(p) not in own],
                  "sysv": open("/proc/sysvipc/shm").read().splitlines()[1:],
                  "as": resource.getrlimit(resource.RLIMIT_AS)[0], "nice": os.getpriority(os.PRIO_PROCESS, 0),
                  "uid": os.getuid()}))"""
    return json.loads(run_kernel(server, code).strip().splitlines()[-1])


HOSTILE = r"""
import ctypes, os, subprocess
subprocess.Popen(["sleep", "600"], start_new_session=True)
if os.fork() == 0:  # Daemon, der weiter Dateien schreibt
    os.setsid()
    if os.fork() == 0:
        import time
        while True:
            open("/tmp/boese-daemon", "a").write("x")
            time.sleep(0.05)
    os._exit(0)
for path in ("/tmp/boese", "/dev/shm/boese", "/run/boese"):
    open(path, "w").write("boese")
os.makedirs("/tmp/boese-ordner/tief", exist_ok=True)
os.chmod("/tmp/boese-ordner", 0)
print("SHM", ctypes.CDLL(None, use_errno=True).shmget(0x4711, 4096, 0o1666))
"""


def test_template_is_single_threaded_and_shares_no_writable_memory(tmp_path):
    folder = tmp_path / "vorlage"
    folder.mkdir()
    datasets = sandbox.package_dir().parent / "datasets"
    jail = sandbox.Jail(folder, readable=[Path(sys.prefix), Path(sys.base_prefix), sandbox.package_dir(), datasets],
                        env=kernel_environment(datasets), limits=sandbox.Limits())
    server = forkserver.ForkServer(jail, forkserver.preload_for({"mapclassify", "pandas", "sozialraum", "os"}))
    try:
        server.start()
        assert server.threads == 1  # fork nur ohne weitere Threads (pyarrow/jemalloc: JE_ARROW_MALLOC_CONF)
        maps = Path(f"/proc/{server.host_pid}/maps").read_text().splitlines()
        assert not [line for line in maps if line.split()[1][1] == "w" and line.split()[1][3] == "s"]
        assert Path(f"/proc/{server.host_pid}/status").read_text().count("Uid:\t0\t") == 0
        out = run_kernel(server, "import os, sys; print(sorted(m for m in ('pandas', 'sozialraum.data', 'mapclassify', "
                                 "'folium') if m in sys.modules), os.environ['NUMBA_DISABLE_JIT'])")
        assert out.strip() == "['mapclassify', 'pandas', 'sozialraum.data'] 1"  # geladen, nicht neu importiert
    finally:
        server.stop()


def test_leftovers_of_a_kernel_are_gone_for_the_next(server):
    before = facts(server)
    out = run_kernel(server, HOSTILE + "\nprint('FERTIG')")
    assert "FERTIG" in out and "SHM -1" not in out  # alles war in der Sandbox möglich
    after = facts(server)
    assert not [name for name in after["tmp"] if "boese" in name]
    assert after["shm"] == [] and after["run"] == [] and after["sysv"] == []
    assert after["others"] == []  # kein Prozess der vorigen Abgabe lebt noch
    assert after["tmp"] == before["tmp"]
    assert server.starts == 1  # dafür war kein Neustart nötig
    assert not list(Path("/tmp").glob("boese*"))  # nichts davon außerhalb der Sandbox


def test_socket_folders_cannot_be_squatted(server):
    code = """import os, sys
own = os.path.dirname(sys.argv[sys.argv.index("-f") + 1])  # Ordner der eigenen Verbindungsdatei
base = os.path.dirname(own)
for target in (os.path.join(base, "fremd"), os.path.join(own, "k-shell"), os.path.join(own, "neu")):
    try:
        open(target, "w").write("x")
        print("ANGELEGT", target)
    except OSError:
        print("VERWEIGERT", target)
try:
    print("SICHTBAR", os.listdir(base))
except OSError:
    print("NICHT LESBAR")
"""
    out = run_kernel(server, code)
    if server.jail.uid is not None:  # als root: die Ordner gehören root, der eigene war nur bis zum Start offen
        assert "ANGELEGT" not in out and "NICHT LESBAR" in out and out.count("VERWEIGERT") == 3
    else:  # ohne root: dieselbe Kennung; die Vorlage räumt vor dem nächsten Kernel auf
        assert "VERWEIGERT" in out or "ANGELEGT" in out
    facts(server)
    assert not (server.jail.workdir / "fremd").exists()


def test_template_cannot_be_inspected_or_commanded(server):
    code = """import ctypes, os
z = os.getppid()
for what, action in [("pipe", lambda: open(f"/proc/{z}/fd/0", "w").write('{"op": "fork"}')),
                     ("fds", lambda: os.listdir(f"/proc/{z}/fd")),
                     ("mem", lambda: open(f"/proc/{z}/mem", "rb").read(1)),
                     ("environ", lambda: open(f"/proc/{z}/environ").read())]:
    try:
        action()
        print("OFFEN", what)
    except OSError:
        print("ZU", what)
libc = ctypes.CDLL(None, use_errno=True)
print("PTRACE", libc.ptrace(16, z, None, None), ctypes.get_errno())
"""
    out = run_kernel(server, code)
    assert "OFFEN" not in out and out.count("ZU") == 4
    assert "PTRACE -1" in out
    assert facts(server)["others"] == [] and server.starts == 1


@pytest.mark.parametrize("attack", [
    "os.kill(os.getppid(), signal.SIGKILL)",
    "os.kill(os.getppid(), signal.SIGSTOP)",
    "os.kill(os.getppid(), signal.SIGTERM); os.kill(os.getppid(), signal.SIGINT)",
    "os.setpriority(os.PRIO_PROCESS, os.getppid(), 15)",
    "resource.prlimit(os.getppid(), resource.RLIMIT_AS, (200 * 2**20, 200 * 2**20))",
    "os.sched_setaffinity(os.getppid(), {min(os.sched_getaffinity(0))})" if len(os.sched_getaffinity(0)) > 1
    else "pass",
])
def test_template_attacked_by_a_kernel_is_replaced(server, attack):
    out = run_kernel(server, f"import os, resource, signal\n{attack}\nprint('GETAN')")
    assert "GETAN" in out or "SIGKILL" in attack  # mit der Vorlage stirbt ihre Sandbox samt diesem Kernel
    fresh = facts(server)
    assert fresh["as"] == MEMORY_MB * 2**20 and fresh["others"] == []
    assert fresh["nice"] == os.getpriority(os.PRIO_PROCESS, 0)  # wie dieser Prozess, nicht wie die Attacke
    harmless = "SIGTERM" in attack or attack == "pass"
    assert server.starts == (1 if harmless else 2)


def test_memory_limit_applies_to_each_kernel(server):
    out = run_kernel(server, f"berg = bytearray({MEMORY_MB + 200} * 2**20)")
    assert "MemoryError" in out
    assert run_kernel(server, "berg = bytearray(200 * 2**20); print('OK')").strip() == "OK"


def test_kernel_killed_by_the_parent_leaves_the_template_working(server):
    async def main():
        folder = server.folder()
        km = JailedKernelManager()
        forkserver.attach(km, server, folder)
        await km.start_kernel()
        kc = km.client()
        kc.start_channels()
        await kc.wait_for_ready(timeout=60)
        kc.execute("while True: pass")
        await asyncio.sleep(0.5)
        km.provisioner.process.kill()  # so beendet SandboxedExecute einen Kernel nach dem Notebook-Zeitlimit
        for _ in range(100):
            if not await km.is_alive():
                break
            await asyncio.sleep(0.05)
        alive = await km.is_alive()
        kc.stop_channels()
        await km.shutdown_kernel(now=True)
        return alive
    assert asyncio.run(main()) is False
    assert facts(server)["others"] == [] and server.starts == 1


def test_hostile_submission_changes_no_later_grade(tmp_path):
    """Ende zu Ende (ein Bewertungsprozess, also eine Vorlage): erst feindliche Abgaben, dann eine richtige."""
    course = gv.make_course(tmp_path / "kurs")
    release = gv.release_notebook(course)
    answer = gv.ANSWERS["a1_loesung"]
    attacks = {
        "hinterlaesst": HOSTILE + "\n" + answer,
        "toetet": "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n" + answer,
        "haelt_an": "import os, signal\nos.kill(os.getppid(), signal.SIGSTOP)\n" + answer,
        "endlos": answer + "\nwhile True:\n    pass",
    }
    files = {}
    for key, source in attacks.items():
        files[key] = tmp_path / f"{key}.ipynb"
        files[key].write_text(gv.dumps(gv.answered(release, a1_loesung=source)), encoding="utf-8")
    files["richtig"] = tmp_path / "richtig.ipynb"
    probe = answer + ("\nimport json, os\nprint('FUND', json.dumps([sorted(os.listdir('/tmp')), "
                      "os.listdir('/dev/shm'), [p for p in os.listdir('/proc') if p.isdigit() and "
                      "int(p) not in (1, os.getpid(), os.getppid())]]))")
    files["richtig"].write_text(gv.dumps(gv.answered(release, a1_loesung=probe)), encoding="utf-8")
    results = autograde_notebooks(course, gv.ASSIGNMENT, files, workers=1, cell_timeout=5, notebook_timeout=8,
                                  memory_mb=1500, workdir=tmp_path / "arbeit", progress=False)
    assert results["endlos"].status == "timeout"
    for key in ("hinterlaesst", "toetet", "haelt_an"):
        assert results[key].status in ("ok", "crash"), key
    good = results["richtig"]
    assert (good.status, good.total, good.tampered) == ("ok", 3.0, "")
    cells = json.loads(good.autograded_notebook.read_text(encoding="utf-8"))["cells"]
    printed = "".join("".join(o.get("text", "")) for c in cells for o in c.get("outputs", []))
    found = json.loads(next(line for line in printed.splitlines() if line.startswith("FUND"))[5:])
    tmp, shm, others = found
    assert not [name for name in tmp if "boese" in name] and shm == [] and others == []
    assert not list(Path("/tmp").glob("boese*"))
    for name in ["gradebook.db", "submitted", "autograded"]:
        assert not (course / name).exists()
