"""Konten, Kursordner und nbgrader-Austausch des Kurs-Hubs (aufgerufen von hub/setup.py, als root, in der Lernumgebung).

    .venv/bin/python hub/accounts.py KURSE.toml --prefix /opt/sozialraum-hub [--dienst]
    .venv/bin/python hub/accounts.py KURSE.toml --entfernen     # Konten, Gruppen und Daten der Kurse löschen

Die Teilnehmendenlisten liest dieselbe Funktion wie der Bewertungsbefehl (Spalte id = Linux- und Hub-Benutzername =
nbgrader-ID). Berechtigungen:

    DATEN/kurse/KURS/           root:lehrende-KURS 2770  Kursordner (Lösungen, Gradebook, Abgaben) nur für Lehrende
    DATEN/austausch/KURS/       root:kurs-KURS     0750  nur Mitglieder des Kurses kommen hinein
    DATEN/austausch/KURS/exchange                  0777  nbgrader-Austausch (nbgrader setzt darin inbound 2733 usw.)
    /home/ID                    ID:ID              0700  niemand sonst liest die Arbeit einer Person
"""
from __future__ import annotations

import argparse
import csv
import grp
import json
import os
import pwd
import re
import secrets
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

from sozialraum.course.submissions import InputError, Participant, read_roster

HUB = Path(__file__).resolve().parent
KIT = HUB.parent
HUB_GROUP = "kurshub"  # alle Konten, die dieses Programm angelegt hat (nur diese löscht --entfernen)
USERNAME = re.compile(r"^[a-z_][a-z0-9_]{0,31}$")
COURSE_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,23}$")
SERVICE = Path("/etc/systemd/system/sozialraum-hub.service")


def run(*args: object) -> None:
    subprocess.run([str(a) for a in args], check=True, stdout=subprocess.DEVNULL)


def group_exists(name: str) -> bool:
    try:
        grp.getgrnam(name)
        return True
    except KeyError:
        return False


def user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def ensure_group(name: str) -> None:
    if not group_exists(name):
        run("groupadd", name)


def load(path: Path) -> dict:
    """Die Kursbeschreibung mit Pfaden relativ zur TOML-Datei, geprüft."""
    settings = tomllib.loads(path.read_text(encoding="utf-8"))
    courses = {}
    for course in settings.get("kurs", []):
        cid = course.get("id", "")
        if not COURSE_ID.match(cid):
            raise InputError(f"Kurs-ID '{cid}' ungültig. Tipp: Kleinbuchstaben, Ziffern, Bindestrich, höchstens 24 "
                             "Zeichen, z. B. herbst-2026.")
        people = {}
        for role, key in (("lehrende", "lehrende"), ("teilnehmende", "teilnehmende")):
            roster = path.parent / course[key]
            for person in read_roster(roster):
                if not USERNAME.match(person.id):
                    raise InputError(f"Die ID '{person.id}' in {roster} taugt nicht als Benutzername. Tipp: mit "
                                     "einem Buchstaben beginnen, höchstens 32 Zeichen.")
                people[person.id] = (role, person)
        courses[cid] = people
    if not courses:
        raise InputError(f"{path} beschreibt keinen Kurs. Tipp: Abschnitt [[kurs]] mit id, lehrende, teilnehmende.")
    members = {}
    for cid, people in courses.items():
        for pid in people:
            if pid in members:
                raise InputError(f"'{pid}' steht in den Kursen {members[pid]} und {cid}. Tipp: eine Person hat je "
                                 "Kurs ein eigenes Konto (z. B. mmuster_fruehjahr), Lehrende ausgenommen: sie stehen "
                                 "in der Liste lehrende jedes Kurses, den sie betreuen.")
            if people[pid][0] == "teilnehmende":
                members[pid] = cid
    settings["kurse"] = courses
    settings.setdefault("daten", "/srv/sozialraum-hub")
    return settings


def ensure_account(person: Participant, credentials: Path) -> None:
    """Linux-Konto mit Startpasswort (nur beim ersten Anlegen; steht dann in credentials)."""
    if user_exists(person.id):
        if HUB_GROUP not in {g.gr_name for g in grp.getgrall() if person.id in g.gr_mem}:
            raise InputError(f"Das Linux-Konto '{person.id}' gibt es schon, es gehört aber nicht zum Kurs-Hub. "
                             "Tipp: in der Liste eine andere ID wählen.")
        return
    run("useradd", "--create-home", "--shell", "/bin/bash", "--groups", HUB_GROUP,
        "--comment", f"{person.first_name} {person.last_name}".strip() or person.id, person.id)
    password = secrets.token_urlsafe(9)
    subprocess.run(["chpasswd"], input=f"{person.id}:{password}\n", text=True, check=True)
    new = not credentials.exists()
    with credentials.open("a", encoding="utf-8-sig" if new else "utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter=";")
        if new:
            writer.writerow(["id", "nachname", "vorname", "email", "passwort"])
        writer.writerow([person.id, person.last_name, person.first_name, person.email, password])
    os.chmod(credentials, 0o600)


def write_owned(path: Path, text: str, user: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    entry = pwd.getpwnam(user)
    for item in (path.parent, path):
        os.chown(item, entry.pw_uid, entry.pw_gid)


def nbgrader_lines(course_id: str, exchange: Path, course_dir: Path | None) -> str:
    lines = ["# Kurs-Hub (hub/accounts.py): Kurs und Austausch dieses Kontos", "c = get_config()  # noqa: F821",
             f"c.CourseDirectory.course_id = {course_id!r}", f"c.Exchange.root = {str(exchange)!r}"]
    if course_dir is not None:
        lines.append(f"c.CourseDirectory.root = {str(course_dir)!r}")
    return "\n".join(lines) + "\n"


def setup_course(cid: str, people: dict, data: Path) -> dict:
    ensure_group(f"kurs-{cid}")
    ensure_group(f"lehrende-{cid}")
    course_dir = data / "kurse" / cid
    exchange_parent = data / "austausch" / cid
    exchange = exchange_parent / "exchange"
    credentials = data / "zugangsdaten" / f"{cid}.csv"
    credentials.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(credentials.parent, 0o700)
    if not course_dir.exists():
        course_dir.mkdir(parents=True)
        for name in ("solutions", "exercises"):
            shutil.copytree(KIT / name, course_dir / name)
        config = (KIT / "nbgrader_config.py").read_text(encoding="utf-8")
        extra = nbgrader_lines(cid, exchange, course_dir).replace("c = get_config()  # noqa: F821\n", "")
        (course_dir / "nbgrader_config.py").write_text(config + "\n" + extra, encoding="utf-8")
    if not (course_dir / "datasets").is_symlink():  # die Bewertung liest die Daten aus datasets/ des Kurses
        (course_dir / "datasets").symlink_to(KIT / "datasets")
    lehrende = grp.getgrnam(f"lehrende-{cid}").gr_gid
    for folder, _dirs, files in os.walk(course_dir):
        os.chown(folder, 0, lehrende)
        os.chmod(folder, 0o2770)
        for name in files:
            os.chown(Path(folder) / name, 0, lehrende)
            os.chmod(Path(folder) / name, 0o660)
    exchange.mkdir(parents=True, exist_ok=True)
    os.chown(exchange_parent, 0, grp.getgrnam(f"kurs-{cid}").gr_gid)
    os.chmod(exchange_parent, 0o750)
    os.chmod(exchange, 0o777)
    trainers, participants = [], []
    for pid, (role, person) in people.items():
        ensure_account(person, credentials)
        run("usermod", "--append", "--groups", f"kurs-{cid}" + (f",lehrende-{cid}" if role == "lehrende" else ""),
            pid)
        home = Path(pwd.getpwnam(pid).pw_dir)
        os.chmod(home, 0o700)
        if role == "lehrende":
            trainers.append(pid)
            link = home / f"kurs-{cid}"
            if not link.is_symlink():
                link.symlink_to(course_dir)
            config = home / ".jupyter" / "nbgrader_config.py"
            if not config.exists():  # der erste Kurs ist der des Formgraders
                write_owned(config, nbgrader_lines(cid, exchange, course_dir), pid)
        else:
            participants.append(pid)
            write_owned(home / ".jupyter" / "nbgrader_config.py", nbgrader_lines(cid, exchange, None), pid)
            if not (home / "module").exists():
                shutil.copytree(KIT / "modules", home / "module")
                run("chown", "-R", f"{pid}:{pid}", home / "module")
    return {"lehrende": sorted(trainers), "teilnehmende": sorted(participants), "kursordner": str(course_dir),
            "austausch": str(exchange)}


def hub_settings(settings: dict, prefix: Path, courses: dict) -> dict:
    return {
        "prefix": str(prefix), "kit": str(KIT), "daten": settings["daten"],
        "adresse": settings.get("adresse", "127.0.0.1"), "port": settings.get("port", 8000),
        "hub_port": settings.get("hub_port", 8081), "proxy_api_port": settings.get("proxy_api_port", 8001),
        "zertifikat": settings.get("zertifikat", ""), "schluessel": settings.get("schluessel", ""),
        "speicher_mb": settings.get("speicher_mb", 2048), "speicher_mb_lehrende": settings.get(
            "speicher_mb_lehrende", 4096), "leerlauf_minuten": settings.get("leerlauf_minuten", 60),
        "lti": settings.get("lti", {}), "kurse": courses,
    }


def install_service(prefix: Path, config: Path) -> None:
    SERVICE.write_text(
        "[Unit]\nDescription=Kurs-JupyterHub des Sozialraum-Kits\nAfter=network.target\n\n[Service]\n"
        f"Environment=KURSHUB_KONFIG={config}\nWorkingDirectory={config.parent / 'hub'}\n"
        f"ExecStart={prefix / 'venv' / 'bin' / 'jupyterhub'} -f {HUB / 'jupyterhub_config.py'}\n"
        "Restart=always\n\n[Install]\nWantedBy=multi-user.target\n", encoding="utf-8")
    if Path("/run/systemd/system").is_dir():
        run("systemctl", "daemon-reload")
        run("systemctl", "enable", "--now", "sozialraum-hub")
        run("systemctl", "restart", "sozialraum-hub")
        print(f"Dienst sozialraum-hub läuft ({SERVICE}).")
    else:
        print(f"Kein systemd: {SERVICE} geschrieben; von Hand starten: KURSHUB_KONFIG={config} "
              f"{prefix / 'venv' / 'bin' / 'jupyterhub'} -f {HUB / 'jupyterhub_config.py'}")


def remove(settings: dict) -> None:
    """Löscht Konten (nur solche des Kurs-Hubs), Gruppen, Kursordner, Austausch und Zugangsdaten der Kurse."""
    data = Path(settings["daten"])
    hub_members = set(grp.getgrnam(HUB_GROUP).gr_mem) if group_exists(HUB_GROUP) else set()
    for cid, people in settings["kurse"].items():
        for pid in people:
            if pid in hub_members and user_exists(pid):
                subprocess.run(["pkill", "-KILL", "-u", pid], check=False)
                subprocess.run(["userdel", "--remove", pid], check=True, stderr=subprocess.DEVNULL)
        for group in (f"kurs-{cid}", f"lehrende-{cid}"):
            if group_exists(group):
                run("groupdel", group)
        for folder in (data / "kurse" / cid, data / "austausch" / cid):
            shutil.rmtree(folder, ignore_errors=True)
        (data / "zugangsdaten" / f"{cid}.csv").unlink(missing_ok=True)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kurse", type=Path)
    parser.add_argument("--prefix", type=Path, default=Path("/opt/sozialraum-hub"))
    parser.add_argument("--dienst", action="store_true", help="systemd-Dienst einrichten und starten")
    parser.add_argument("--entfernen", action="store_true", help="Konten und Daten der Kurse löschen")
    args = parser.parse_args(argv)
    try:
        settings = load(args.kurse)
    except (InputError, FileNotFoundError, KeyError) as error:
        print(f"Fehler: {error}", file=sys.stderr)
        return 2
    if args.entfernen:
        remove(settings)
        return 0
    data = Path(settings["daten"])
    (data / "hub").mkdir(parents=True, exist_ok=True)
    os.chmod(data / "hub", 0o700)
    ensure_group(HUB_GROUP)
    try:
        courses = {cid: setup_course(cid, people, data) for cid, people in settings["kurse"].items()}
    except InputError as error:
        print(f"Fehler: {error}", file=sys.stderr)
        return 2
    config = data / "hub.json"
    config.write_text(json.dumps(hub_settings(settings, args.prefix, courses), indent=2, ensure_ascii=False) + "\n",
                      encoding="utf-8")
    os.chmod(config, 0o600)
    for cid, course in courses.items():
        print(f"Kurs {cid}: {len(course['lehrende'])} Lehrende, {len(course['teilnehmende'])} Teilnehmende; "
              f"Startpasswörter: {data / 'zugangsdaten' / (cid + '.csv')}")
    if args.dienst:
        install_service(args.prefix, config)
    else:
        print(f"Start: KURSHUB_KONFIG={config} {args.prefix / 'venv' / 'bin' / 'jupyterhub'} "
              f"-f {HUB / 'jupyterhub_config.py'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
