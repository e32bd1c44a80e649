"""Bausteine des Kurs-Hubs, die JupyterHub nicht mitbringt (geladen von hub/jupyterhub_config.py).

- KursSpawner: ein Prozess je Linux-Konto (LocalProcessSpawner) mit echter Speichergrenze über eine cgroup je Person
  (cgroup v2 memory.max oder v1 memory.limit_in_bytes); Lehrende bekommen den Formgrader dazu.
- KursAuthenticator: Anmeldung mit dem Linux-Passwort (PAM) und, falls eingerichtet, zusätzlich per LTI 1.1 aus
  Moodle oder ILIAS (ltiauthenticator); beide nur für Konten aus den Teilnehmendenlisten.
"""
from __future__ import annotations

import os
from pathlib import Path

from jupyterhub.auth import PAMAuthenticator
from jupyterhub.spawner import LocalProcessSpawner
from ltiauthenticator.lti11.auth import LTI11Authenticator
from ltiauthenticator.lti11.handlers import LTI11AuthenticateHandler
from traitlets import Dict, Set, Unicode

CGROUP_ROOT = Path("/sys/fs/cgroup")
FORMGRADER = ("--ServerApp.jpserver_extensions={'nbgrader.server_extensions.formgrader': True, "
              "'nbgrader.server_extensions.course_list': True}")


def cgroup_base() -> tuple[Path, str] | None:
    """Ordner für die cgroups des Hubs und die Datei der Speichergrenze (None: keine cgroups beschreibbar)."""
    if (CGROUP_ROOT / "cgroup.controllers").exists():  # cgroup v2
        return CGROUP_ROOT / "sozialraum-hub", "memory.max"
    if (CGROUP_ROOT / "memory" / "cgroup.procs").exists():  # cgroup v1
        return CGROUP_ROOT / "memory" / "sozialraum-hub", "memory.limit_in_bytes"
    return None


class KursSpawner(LocalProcessSpawner):
    trainers = Set(Unicode(), config=True, help="Hub-Namen der Lehrenden (bekommen den Formgrader)")
    trainer_mem_limit = Unicode("", config=True, help="Speichergrenze für Lehrende (z. B. 4096M)")

    def cgroup(self) -> Path | None:
        base = cgroup_base()
        return base[0] / self.user.name if base else None

    def _limit_memory(self) -> None:
        base = cgroup_base()
        if base is None or not self.mem_limit:
            self.log.warning("Keine Speichergrenze für %s: cgroups sind nicht beschreibbar", self.user.name)
            return
        folder, limit_file = base
        if limit_file == "memory.max" and not folder.exists():
            (CGROUP_ROOT / "cgroup.subtree_control").write_text("+memory")
        folder.mkdir(exist_ok=True)
        if limit_file == "memory.max":
            (folder / "cgroup.subtree_control").write_text("+memory")
        mine = folder / self.user.name
        mine.mkdir(exist_ok=True)
        (mine / limit_file).write_text(str(int(self.mem_limit)))
        if limit_file == "memory.limit_in_bytes":  # v1: ohne Swap darüber hinaus
            swap = mine / "memory.memsw.limit_in_bytes"
            if swap.exists():
                swap.write_text(str(int(self.mem_limit)))

    def make_preexec_fn(self, name):
        drop_privileges = super().make_preexec_fn(name)
        cgroup = self.cgroup() if self.mem_limit else None

        def preexec():
            if cgroup is not None and cgroup.exists():
                (cgroup / "cgroup.procs").write_text(str(os.getpid()))
            drop_privileges()

        return preexec

    async def start(self):
        if self.user.name in self.trainers:
            self.args = [*self.args, FORMGRADER]
            if self.trainer_mem_limit:
                self.mem_limit = self.trainer_mem_limit
        self._limit_memory()
        return await super().start()

    async def stop(self, now=False):
        await super().stop(now=now)
        cgroup = self.cgroup()
        if cgroup is not None and cgroup.exists():
            try:
                cgroup.rmdir()
            except OSError:  # noch Prozesse darin (z. B. ein Kernel, der gerade endet): beim nächsten Start leer
                self.log.info("cgroup %s bleibt bis zum nächsten Start", cgroup)


class KursAuthenticator(PAMAuthenticator):
    """PAM (Linux-Passwort) und optional LTI 1.1 auf /hub/lti/launch."""

    lti_consumers = Dict(config=True, help="LTI 1.1: Schlüssel -> Geheimnis je Lernplattform (leer: kein LTI)")
    lti_username_key = Unicode("ext_user_username", config=True,
                               help="Feld des LTI-Starts mit dem Benutzernamen (Moodle: ext_user_username)")

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.lti = LTI11Authenticator(parent=self, consumers=self.lti_consumers, username_key=self.lti_username_key,
                                      config_title="Sozialraum-Kit", config_description="Kurs-JupyterHub")

    def get_handlers(self, app):
        handlers = super().get_handlers(app)
        return handlers + self.lti.get_handlers(app) if self.lti_consumers else handlers

    def get_uri_scheme(self, request) -> str:
        return self.lti.get_uri_scheme(request)

    async def authenticate(self, handler, data=None):
        if isinstance(handler, LTI11AuthenticateHandler):
            return await self.lti.authenticate(handler, data)
        return await super().authenticate(handler, data)
