"""JupyterHub-Konfiguration des Kurs-Hubs. Alle Werte kommen aus DATEN/hub.json (geschrieben von hub/setup.py).

Start (setup.py richtet dafür den systemd-Dienst ein):
    KURSHUB_KONFIG=/srv/sozialraum-hub/hub.json /opt/sozialraum-hub/venv/bin/jupyterhub -f hub/jupyterhub_config.py
"""
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from kurshub import KursAuthenticator, KursSpawner  # noqa: E402

c = get_config()  # noqa: F821 (von JupyterHub bereitgestellt)
settings = json.loads(Path(os.environ["KURSHUB_KONFIG"]).read_text(encoding="utf-8"))
prefix, kit, data = Path(settings["prefix"]), Path(settings["kit"]), Path(settings["daten"])
courses = settings["kurse"].values()
trainers = {name for course in courses for name in course["lehrende"]}
participants = {name for course in courses for name in course["teilnehmende"]}

# Adresse: ohne Zertifikat nur hinter einem Reverse-Proxy mit HTTPS (Caddy, nginx) oder zum Testen auf 127.0.0.1.
c.JupyterHub.bind_url = f"{'https' if settings['zertifikat'] else 'http'}://{settings['adresse']}:{settings['port']}"
if settings["zertifikat"]:
    c.JupyterHub.ssl_cert = settings["zertifikat"]
    c.JupyterHub.ssl_key = settings["schluessel"]
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = settings["hub_port"]
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{settings['proxy_api_port']}"
c.JupyterHub.db_url = f"sqlite:///{data / 'hub' / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(data / "hub" / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(data / "hub" / "jupyterhub.pid")
c.ConfigurableHTTPProxy.command = [str(prefix / "proxy" / "node_modules" / ".bin" / "configurable-http-proxy")]
c.ConfigurableHTTPProxy.pid_file = str(data / "hub" / "proxy.pid")
c.JupyterHub.cleanup_servers = True
c.JupyterHub.template_vars = {"announcement_login": "Anmeldung mit Ihrer Kennung und Ihrem Passwort aus dem Kurs."}

# Anmeldung: Linux-Passwort (PAM) für die Konten aus den Teilnehmendenlisten, optional zusätzlich LTI 1.1.
c.JupyterHub.authenticator_class = KursAuthenticator
c.Authenticator.allowed_users = trainers | participants
c.Authenticator.admin_users = set(settings.get("admins", []))
c.KursAuthenticator.lti_consumers = settings["lti"].get("schluessel", {})
c.KursAuthenticator.lti_username_key = settings["lti"].get("benutzername_feld", "ext_user_username")
c.LTI11Authenticator.uri_scheme = "https" if settings["zertifikat"] or settings["lti"].get("https") else "auto"

# Ein Prozess je Linux-Konto in der Lernumgebung des Kits (jupyterhub-singleuser in derselben Version wie der Hub).
c.JupyterHub.spawner_class = KursSpawner
c.Spawner.cmd = [str(kit / ".venv" / "bin" / "jupyterhub-singleuser")]
c.Spawner.default_url = "/lab"
c.Spawner.notebook_dir = "~"
c.Spawner.mem_limit = f"{settings['speicher_mb']}M"
c.KursSpawner.trainer_mem_limit = f"{settings['speicher_mb_lehrende']}M"
c.KursSpawner.trainers = trainers
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120

# Leerlauf: Server ohne Aktivität werden nach leerlauf_minuten beendet (die Dateien bleiben im Home-Ordner).
c.JupyterHub.load_roles = [{
    "name": "leerlauf",
    "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
    "services": ["leerlauf"],
}]
c.JupyterHub.services = [{
    "name": "leerlauf",
    "command": [str(prefix / "venv" / "bin" / "python"), "-m", "jupyterhub_idle_culler",
                f"--timeout={int(settings['leerlauf_minuten']) * 60}", "--cull-every=60"],
}]
