"""A JupyterHub for the course: students fetch and submit, the instructor grades.

- JupyterHub with configurable-http-proxy (npm), local accounts logged in through PAM, one
  single-user JupyterLab per user started as that user (LocalProcessSpawner) from the course's
  own environment (the one `make setup` builds: course_pkg, nbgrader 0.9.6, JupyterLab);
- nbgrader's extensions in those servers, by role (Jupyter config folders under
  deploy/hub/jupyter/): students get the Assignment List only, instructors also the
  formgrader, the course list and "Create assignment";
- nbgrader's exchange, a folder every user can reach (world-writable, sticky), where the
  instructor releases and collects and students fetch and submit.

Autograde does not run in the hub: the instructor (or a grading service) runs the course's
jailed runner, as root, on the course folder (book/instructors.md, "Running a class").

Every setting that differs between machines is an environment variable (defaults in brackets):

  COURSE_HUB_IP [127.0.0.1]        where the proxy listens (put TLS in front for a real class)
  COURSE_HUB_PORT [8000]           its port
  COURSE_HUB_API_PORT [8081], COURSE_HUB_PROXY_API_PORT [8001]   loopback ports of the APIs
  COURSE_HUB_STATE [/srv/jupyterhub]   the hub's database, cookie secret and pid file
  COURSE_HUB_DB_URL [sqlite in COURSE_HUB_STATE]   the hub's own database (not nbgrader's)
  COURSE_HUB_INSTRUCTORS [instructor]  comma-separated user names with the formgrader
  COURSE_HUB_STUDENTS []           comma-separated user names allowed to log in as students
  COURSE_HUB_ENV [this interpreter's prefix]   the course environment the users' servers run
  COURSE_HUB_PROXY [_build/node/... or PATH]   configurable-http-proxy's executable
  COURSE_EXCHANGE [/srv/nbgrader/exchange]     nbgrader's exchange root
  COURSE_ROOT [~/rnn-course of the instructor] the instructor's course folder (assignments/)

Start it as root (PAM and switching users need it):

  sudo COURSE_HUB_STUDENTS=alice,bob .venv/bin/jupyterhub -f deploy/hub/jupyterhub_config.py
"""

import os
import pathlib
import shutil
import stat
import sys

c = get_config()  # noqa: F821 (provided by JupyterHub's config loader)

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parent.parent
CONFIG_DIRS = HERE / "jupyter"  # common/, student/, instructor/: Jupyter config by role


def _setting(name: str, default: str) -> str:
    return os.environ.get(name, "").strip() or default


def _names(name: str, default: str = "") -> set[str]:
    value = _setting(name, default)
    names = {n.strip() for n in value.split(",") if n.strip()}
    bad = sorted(n for n in names if not n.replace("-", "").replace("_", "").replace(".", "")
                 .isalnum())
    if bad:
        raise SystemExit(f"{name}: expected comma-separated user names, got {bad}")
    return names


def _port(name: str, default: str) -> int:
    value = _setting(name, default)
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise SystemExit(f"{name}: expected a TCP port (1-65535), got {value!r}")
    return int(value)


# -- the hub ------------------------------------------------------------------------------
state = pathlib.Path(_setting("COURSE_HUB_STATE", "/srv/jupyterhub"))
state.mkdir(parents=True, exist_ok=True, mode=0o700)
c.JupyterHub.ip = _setting("COURSE_HUB_IP", "127.0.0.1")
c.JupyterHub.port = _port("COURSE_HUB_PORT", "8000")
c.JupyterHub.db_url = _setting("COURSE_HUB_DB_URL", f"sqlite:///{state / 'jupyterhub.sqlite'}")
c.JupyterHub.cookie_secret_file = str(state / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(state / "jupyterhub.pid")
# The hub's API listens on loopback only; the proxy is the one public door.
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = _port("COURSE_HUB_API_PORT", "8081")  # JupyterHub's defaults
proxy_api_port = _port("COURSE_HUB_PROXY_API_PORT", "8001")
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{proxy_api_port}"

proxy = _setting("COURSE_HUB_PROXY", "")
if not proxy:
    local = REPO / "_build" / "node" / "node_modules" / ".bin" / "configurable-http-proxy"
    proxy = str(local) if local.exists() else (shutil.which("configurable-http-proxy") or "")
if not proxy or not os.access(proxy, os.X_OK):
    raise SystemExit("COURSE_HUB_PROXY: configurable-http-proxy not found (run `make hub-tools`, "
                     f"which installs it with npm into _build/node/), got {proxy!r}")
c.ConfigurableHTTPProxy.command = [proxy]

# -- who may log in ---------------------------------------------------------------------------
# PAM: the machine's own accounts and passwords (JupyterHub's default authenticator).
c.JupyterHub.authenticator_class = "pam"
c.PAMAuthenticator.open_sessions = False  # no login session per server (fails in containers)
instructors = _names("COURSE_HUB_INSTRUCTORS", "instructor")
students = _names("COURSE_HUB_STUDENTS")
if instructors & students:
    raise SystemExit(f"COURSE_HUB_STUDENTS: {sorted(instructors & students)} are instructors too")
# JupyterHub 5 and later admit nobody who is not listed (or in a listed group).
c.Authenticator.allowed_users = instructors | students

# -- the users' servers -------------------------------------------------------------------------
env_prefix = pathlib.Path(_setting("COURSE_HUB_ENV", sys.prefix))
singleuser = env_prefix / "bin" / "jupyterhub-singleuser"
if not singleuser.exists():
    raise SystemExit(f"COURSE_HUB_ENV: expected the course environment (with jupyterhub, "
                     f"nbgrader and course_pkg installed), got {env_prefix}: no {singleuser}")
exchange = pathlib.Path(_setting("COURSE_EXCHANGE", "/srv/nbgrader/exchange"))

c.JupyterHub.spawner_class = "localprocess"
c.Spawner.cmd = [str(singleuser)]
c.Spawner.default_url = "/lab"
c.Spawner.notebook_dir = "~"
c.Spawner.http_timeout = 120  # seconds for a new server to answer (a busy 2-core machine)
c.Spawner.start_timeout = 120
c.Spawner.environment = {
    # nbgrader runs `alembic` by name, and kernels start `python` from the environment
    "PATH": f"{env_prefix / 'bin'}:/usr/local/bin:/usr/bin:/bin",
    "COURSE_EXCHANGE": str(exchange),
    "OMP_NUM_THREADS": "1",  # the course's models are tiny; one thread per user
    "OMP_WAIT_POLICY": "PASSIVE",
}
if os.environ.get("COURSE_ROOT"):
    c.Spawner.environment["COURSE_ROOT"] = os.environ["COURSE_ROOT"]


def choose_role(spawner) -> None:
    """Jupyter's config path by role: nbgrader's extensions for students or for instructors."""
    role = "instructor" if spawner.user.name in instructors else "student"
    spawner.environment["JUPYTER_CONFIG_PATH"] = os.pathsep.join(
        [str(CONFIG_DIRS / role), str(CONFIG_DIRS / "common")])


c.Spawner.pre_spawn_hook = choose_role


# -- nbgrader's exchange -------------------------------------------------------------------------
def prepare_exchange(root: pathlib.Path) -> None:
    """The exchange root: everyone may create in it (nbgrader makes the course's folders with
    its own permissions there), the sticky bit keeps users from removing each other's."""
    root.mkdir(parents=True, exist_ok=True)
    mode = stat.S_IMODE(root.stat().st_mode)
    if mode != 0o1777:
        if os.geteuid() != root.stat().st_uid:
            raise SystemExit(f"COURSE_EXCHANGE: {root} has mode {mode:o}, not 1777, and this "
                             "user cannot change it")
        root.chmod(0o1777)


prepare_exchange(exchange)
