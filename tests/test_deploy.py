"""The deployment files read as configuration (fast; no hub is started, no image built).

- deploy/hub/jupyterhub_config.py: the settings it derives from its environment variables,
  and a clear refusal, naming the variable, of a bad value;
- deploy/k8s/values.yaml (Zero to JupyterHub): it loads, the exchange volume is mounted where
  the course's nbgrader config looks for the exchange, and the roles' config folders it names
  are the ones the image holds;
- deploy/k8s/Dockerfile: its pip commands are those of `make setup`.

The hub itself runs end to end in tests/test_hub.py; the Kubernetes files are never deployed
here.
"""

from __future__ import annotations

import os
import pathlib
import re
import shlex
import stat
import sys

import pytest
import yaml
from traitlets.config.loader import PyFileConfigLoader

from conftest import ROOT

HUB = ROOT / "deploy" / "hub"
K8S = ROOT / "deploy" / "k8s"


def load_config(path: pathlib.Path, env: dict[str, str], monkeypatch):
    for name in [n for n in os.environ if n.startswith("COURSE_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return PyFileConfigLoader(path.name, path=str(path.parent)).load_config()


def exchange_root(env: dict[str, str], monkeypatch) -> str:
    return load_config(HUB / "jupyter" / "common" / "nbgrader_config.py", env,
                       monkeypatch).Exchange.root


@pytest.fixture
def hub_env(tmp_path):
    proxy = tmp_path / "configurable-http-proxy"
    proxy.write_text("#!/bin/sh\n")
    proxy.chmod(0o755)
    return {"COURSE_HUB_STATE": str(tmp_path / "state"), "COURSE_EXCHANGE": str(tmp_path / "x"),
            "COURSE_HUB_PROXY": str(proxy), "COURSE_HUB_PORT": "8123",
            "COURSE_HUB_INSTRUCTORS": "teacher", "COURSE_HUB_STUDENTS": "ann,bo"}


def test_hub_config_reads_its_environment(hub_env, monkeypatch):
    c = load_config(HUB / "jupyterhub_config.py", hub_env, monkeypatch)
    assert c.JupyterHub.port == 8123 and c.JupyterHub.ip == "127.0.0.1"
    assert c.JupyterHub.hub_port == 8081  # JupyterHub's default
    assert c.JupyterHub.authenticator_class == "pam"
    assert c.Authenticator.allowed_users == {"teacher", "ann", "bo"}
    assert c.Spawner.cmd == [str(pathlib.Path(sys.prefix) / "bin" / "jupyterhub-singleuser")]
    assert c.Spawner.environment["COURSE_EXCHANGE"] == hub_env["COURSE_EXCHANGE"]
    assert c.ConfigurableHTTPProxy.command == [hub_env["COURSE_HUB_PROXY"]]
    assert c.JupyterHub.db_url.endswith("/state/jupyterhub.sqlite")
    exchange = pathlib.Path(hub_env["COURSE_EXCHANGE"])
    assert stat.S_IMODE(exchange.stat().st_mode) == 0o1777  # world-writable, sticky

    class User:
        def __init__(self, name):
            self.name = name

    class Spawner:
        def __init__(self, name):
            self.user, self.environment = User(name), {}

    for name, role in (("teacher", "instructor"), ("ann", "student")):
        spawner = Spawner(name)
        c.Spawner.pre_spawn_hook(spawner)
        path = spawner.environment["JUPYTER_CONFIG_PATH"].split(os.pathsep)
        assert path == [str(HUB / "jupyter" / role), str(HUB / "jupyter" / "common")]


@pytest.mark.parametrize("name, value", [
    ("COURSE_HUB_PORT", "eighty"), ("COURSE_HUB_PORT", "70000"),
    ("COURSE_HUB_API_PORT", "-1"), ("COURSE_HUB_STUDENTS", "ann,b o;rm"),
    ("COURSE_HUB_STUDENTS", "teacher"), ("COURSE_HUB_PROXY", "/nonexistent/chp"),
    ("COURSE_HUB_ENV", "/nonexistent/env"),
])
def test_hub_config_refuses_bad_values_by_name(hub_env, monkeypatch, name, value):
    with pytest.raises(SystemExit, match=f"^{name}: "):
        load_config(HUB / "jupyterhub_config.py", {**hub_env, name: value}, monkeypatch)


def test_student_role_has_no_formgrader():
    import json

    server = json.loads((HUB / "jupyter" / "student" / "jupyter_server_config.json").read_text())
    extensions = server["ServerApp"]["jpserver_extensions"]
    assert extensions["nbgrader.server_extensions.formgrader"] is False
    assert extensions["nbgrader.server_extensions.assignment_list"] is True
    lab = json.loads((HUB / "jupyter" / "student" / "labconfig" / "page_config.json").read_text())
    assert lab["disabledExtensions"]["@jupyter/nbgrader:formgrader"] is True
    assert "@jupyter/nbgrader:assignment-list" not in lab["disabledExtensions"]


def test_k8s_exchange_volume_is_where_nbgrader_looks(monkeypatch):
    values = yaml.safe_load((K8S / "values.yaml").read_text())
    single = values["singleuser"]
    volumes = {v["name"]: v for v in single["storage"]["extraVolumes"]}
    mounts = {m["name"]: m["mountPath"] for m in single["storage"]["extraVolumeMounts"]}
    claim = volumes["nbgrader-exchange"]["persistentVolumeClaim"]["claimName"]
    assert claim == "nbgrader-exchange"
    # nbgrader's exchange root, as the users' servers compute it in the pods
    in_pods = exchange_root(dict(single.get("extraEnv", {})), monkeypatch)
    assert mounts["nbgrader-exchange"] == in_pods
    assert exchange_root({}, monkeypatch) == in_pods  # the config's default agrees
    init = {c["name"]: c for c in single["initContainers"]}["exchange-permissions"]
    assert {m["name"]: m["mountPath"] for m in init["volumeMounts"]} == {
        "nbgrader-exchange": in_pods}
    assert f"chmod 1777 {in_pods}" in " ".join(init["command"])


def dockerfile_commands() -> tuple[dict[str, str], list[str]]:
    """The Dockerfile's ENV and WORKDIR settings, and its RUN commands split at `&&`."""
    text = (K8S / "Dockerfile").read_text()
    logical = re.sub(r"\\\n\s*", " ", text)
    settings, commands = {}, []
    for line in logical.splitlines():
        line = line.strip()
        if line.startswith("RUN "):
            commands += [part.strip() for part in line[4:].split("&&")]
        elif line.startswith("WORKDIR "):
            settings.setdefault("WORKDIR", line.split()[1])
        elif line.startswith("ENV "):
            for pair in shlex.split(line[4:]):
                key, _, value = pair.partition("=")
                settings[key] = value
    return settings, commands


def test_dockerfile_installs_what_make_installs():
    makefile = (ROOT / "Makefile").read_text()
    recipe = re.search(r"^\$\(SETUP_STAMP\):.*\n((?:\t.*\n)+)", makefile, re.M).group(1)
    make_pip = [line.strip().replace("$(PY)", ".venv/bin/python")
                for line in recipe.splitlines() if " pip install " in line]
    settings, commands = dockerfile_commands()
    docker_pip = [command for command in commands if " pip install " in command]
    assert len(make_pip) == 2 and docker_pip == make_pip, (make_pip, docker_pip)
    assert "python3 -m venv .venv" in commands
    # the roles' config folders the hub's extraConfig names are in the image
    values = yaml.safe_load((K8S / "values.yaml").read_text())
    config = re.search(r'CONFIG = "([^"]+)"', values["hub"]["extraConfig"]["course-roles"]).group(1)
    assert config == f"{settings['WORKDIR']}/deploy/hub/jupyter"
    assert "COPY deploy/hub/jupyter ./deploy/hub/jupyter" in (K8S / "Dockerfile").read_text()
    for role in ("student", "instructor", "common"):
        assert (HUB / "jupyter" / role).is_dir()
    assert settings["PATH"].startswith(f"{settings['WORKDIR']}/.venv/bin:")
