"""Start, stop and inspect the local Label Studio server (a subprocess with a pid file).

Label Studio runs from its own virtualenv (``.venv-labelstudio``): it pins packages that clash
with the toolkit's, so we only ever talk to it as a process and over HTTP.

Things this module does because Label Studio 1.23 would otherwise do something surprising:

* it listens on ``0.0.0.0`` unless told ``--internal-host``; we always pass ``127.0.0.1``;
* when the port is busy it silently moves to the next free one; we check the port first and
  afterwards verify which address the process really listens on;
* a fresh data directory costs about a minute of database migrations, so one migrated but
  user-less data directory is kept per Label Studio version (the *template*, under
  ``~/.cache/newscorpus/``) and copied; the first start on the copy creates the admin user
  with the requested token in a few seconds;
* Sentry, analytics and the PyPI version check are on by default; we turn them off;
* API tokens are JWT-only for new organizations unless ``LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN``
  is set when the organization is created (first start), so we set it: the toolkit
  authenticates with a fixed legacy token taken from the environment or the config file.

Secrets (password, token) go to the child through its environment, never on its command line,
and are never printed or logged.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from corpus.core import atomic, resources
from corpus.core.errors import LabelStudioError, ProgramMissing, UsageError
from corpus.labelstudio import postgres

LS_VERSION = "1.23.2"  # the server version the toolkit is tested with (Makefile: LS_VERSION)
BINARY_NAME = "label-studio"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
DEFAULT_DATA_DIR = Path("data/labelstudio")
DEFAULT_USERNAME = "admin@example.com"
PID_FILE = "labelstudio.pid"
LOG_FILE = "labelstudio.log"
TEMPLATE_MARKER = ".newscorpus-template"
DATABASES = ("sqlite", "postgresql")

# Environment of every Label Studio process we start: telemetry off, legacy tokens on.
QUIET_ENV = {
    "SENTRY_DSN": "",  # settings/label_studio.py defaults it to Heartex's DSN; empty = off
    "FRONTEND_SENTRY_DSN": "",
    "COLLECT_ANALYTICS": "false",
    "LATEST_VERSION_CHECK": "false",  # else it asks PyPI for the latest version
    "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN": "true",  # read when the organization is created
    "LOG_LEVEL": "WARNING",
}
# Label Studio's get_env(NAME) also reads the bare NAME (USERNAME, PASSWORD, HOST, PORT...), so a
# stray shell variable could become the admin's e-mail. The child never inherits these.
_SCRUBBED = (
    "USERNAME",
    "PASSWORD",
    "USER_TOKEN",
    "HOST",
    "PORT",
    "BASE_DATA_DIR",
    "DATABASE_NAME",
    "HEARTEX_USERNAME",
    "HEARTEX_PASSWORD",
    "HEARTEX_USER_TOKEN",
    "LABEL_STUDIO_HOST",
    "LABEL_STUDIO_PORT",
    "DJANGO_DB",
)


# ---------------------------------------------------------------- locations


def config_dir() -> Path:
    """Where the toolkit keeps per-user settings (outside the repository)."""
    if os.environ.get("NEWSCORPUS_CONFIG_DIR"):
        return Path(os.environ["NEWSCORPUS_CONFIG_DIR"])
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "newscorpus"


def cache_dir() -> Path:
    if os.environ.get("NEWSCORPUS_CACHE_DIR"):
        return Path(os.environ["NEWSCORPUS_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "newscorpus"


def config_file() -> Path:
    return config_dir() / "labelstudio.json"


INSTALL_HINT = (
    "install the server in an environment of its own (its pinned dependencies clash with the "
    f"toolkit's): `python -m venv ~/.venvs/labelstudio && ~/.venvs/labelstudio/bin/pip install "
    f"label-studio=={LS_VERSION}`, then set CORPUS_LABEL_STUDIO_BIN=~/.venvs/labelstudio/bin/label-studio"
)


def find_binary(binary: str | os.PathLike[str] | None = None) -> Path:
    """The ``label-studio`` executable: ``binary``, else ``$CORPUS_LABEL_STUDIO_BIN``, else
    ``label-studio`` on PATH, else (in a source checkout) its ``.venv-labelstudio``.

    A location given explicitly (``binary`` or the environment variable) that is not an
    executable is an error, not a reason to look elsewhere.
    """
    given = binary if binary is not None else os.environ.get("CORPUS_LABEL_STUDIO_BIN") or None
    root = resources.checkout_root()
    hint = INSTALL_HINT + (" (in this checkout: `make install-labelstudio`)" if root is not None else "")
    if given is not None:
        path = Path(given).expanduser()
        if not _executable(path):
            raise ProgramMissing(f"Label Studio is not installed: {path} is not an executable file", hint=hint)
        return path
    on_path = shutil.which(BINARY_NAME)
    if on_path:
        return Path(on_path)
    if root is not None and _executable(root / ".venv-labelstudio" / "bin" / BINARY_NAME):
        return root / ".venv-labelstudio" / "bin" / BINARY_NAME
    raise ProgramMissing(
        f"Label Studio is not installed: no {BINARY_NAME} on PATH and CORPUS_LABEL_STUDIO_BIN is not set", hint=hint
    )


def _executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def label_studio_version(binary: Path) -> str:
    """Version of the Label Studio the binary runs, without starting Django (which takes seconds)."""
    env_root = binary.resolve().parent.parent
    for info in sorted(env_root.glob("lib/python*/site-packages/label_studio-*.dist-info")):
        return info.name[len("label_studio-") : -len(".dist-info")]
    try:
        shebang = binary.read_text(errors="replace").splitlines()[0]
        if shebang.startswith("#!"):
            out = subprocess.run(
                [*shebang[2:].split(), "-c", "import importlib.metadata as m; print(m.version('label-studio'))"],
                capture_output=True,
                text=True,
                timeout=60,
            )
            if out.returncode == 0 and out.stdout.strip():
                return out.stdout.strip()
    except (OSError, IndexError, subprocess.SubprocessError):
        pass
    return "unknown"


# ---------------------------------------------------------------- credentials


@dataclass
class Credentials:
    """The admin account of the local server. ``repr`` hides the secrets."""

    username: str
    password: str
    token: str
    origin: str  # "environment" or the config file path

    def __repr__(self) -> str:
        return f"Credentials(username={self.username!r}, password=***, token=***, origin={self.origin!r})"


def _read_config() -> dict[str, Any]:
    path = config_file()
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise LabelStudioError(f"cannot read {path}: {e}", hint="fix or delete the file") from None
    return data if isinstance(data, dict) else {}


def _write_config(data: dict[str, Any]) -> None:
    """Atomic write with mode 600: the file holds a password and a token."""
    path = config_file()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    atomic.write_text(path, json.dumps(data, indent=2), permissions=0o600)


def load_credentials(*, create: bool = True) -> Credentials:
    """Admin credentials: LABEL_STUDIO_USERNAME/PASSWORD/USER_TOKEN, else the config file.

    When neither has them and ``create`` is true, a password and a token are generated once and
    kept in the config file (mode 600) so the demo works without any setup.
    """
    env_user = os.environ.get("LABEL_STUDIO_USERNAME")
    env_pw = os.environ.get("LABEL_STUDIO_PASSWORD")
    env_tok = os.environ.get("LABEL_STUDIO_USER_TOKEN")
    if env_pw and env_tok:
        return Credentials(env_user or DEFAULT_USERNAME, env_pw, env_tok, "environment")
    cfg = _read_config()
    if not (cfg.get("password") and cfg.get("token")):
        if not create:
            raise LabelStudioError(
                "no Label Studio credentials",
                hint="set LABEL_STUDIO_PASSWORD and LABEL_STUDIO_USER_TOKEN, or run `corpus labelstudio start` once",
            )
        cfg.setdefault("username", env_user or DEFAULT_USERNAME)
        cfg["password"] = cfg.get("password") or secrets.token_urlsafe(18)
        cfg["token"] = cfg.get("token") or secrets.token_hex(20)  # LS token column is 40 chars
        _write_config(cfg)
    return Credentials(
        env_user or cfg.get("username") or DEFAULT_USERNAME,
        env_pw or cfg["password"],
        env_tok or cfg["token"],
        str(config_file()),
    )


def remember_url(url: str) -> None:
    """Record where the server listens so push/pull find it without LABEL_STUDIO_URL."""
    cfg = _read_config()
    if cfg.get("url") != url:
        cfg["url"] = url
        _write_config(cfg)


def connection_settings() -> tuple[str, str]:
    """(url, token) for API clients: LABEL_STUDIO_URL / LABEL_STUDIO_API_KEY, else the config file."""
    cfg = _read_config()
    url = os.environ.get("LABEL_STUDIO_URL") or cfg.get("url")
    token = os.environ.get("LABEL_STUDIO_API_KEY") or os.environ.get("LABEL_STUDIO_USER_TOKEN") or cfg.get("token")
    if not url:
        raise LabelStudioError(
            "no Label Studio URL configured",
            hint="start the local server with `corpus labelstudio start` (or `make labelstudio`), "
            "or set LABEL_STUDIO_URL",
        )
    if not token:
        raise LabelStudioError(
            "no Label Studio API token configured",
            hint=f"set LABEL_STUDIO_API_KEY, or start the local server once so {config_file()} holds one",
        )
    return url.rstrip("/"), token


# ---------------------------------------------------------------- ports and processes


def port_in_use(port: int, host: str = DEFAULT_HOST) -> bool:
    """True when something listens on the port or it cannot be bound (any address family)."""
    for target in (host, "localhost"):
        try:
            with socket.create_connection((target, port), timeout=0.5):
                return True
        except OSError:
            pass
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        # as the server itself binds: connections left in TIME_WAIT by a stopped server do not
        # make the port busy (without this, start right after stop is refused for a minute)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return True
    return False


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((DEFAULT_HOST, 0))
        return s.getsockname()[1]


def _proc_start_time(pid: int) -> str | None:
    """Kernel start time of a process (clock ticks since boot): pid + this identify it uniquely."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def _proc_cmdline(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return None


def _alive(pid: int) -> bool:
    """The process exists and is not a zombie: a killed server stays in the process table until
    its parent reaps it, and ``kill(pid, 0)`` alone would call it alive (``start --reuse`` then
    reused a dead server that ``status`` a moment later called stopped)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    try:
        status = dict(
            line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line
        )
    except OSError:
        return not Path("/proc/self").exists()  # no /proc (not Linux): the signal check is all there is
    if status.get("State", "").strip()[:1] in ("Z", "X"):
        return False
    sigkill = 1 << (signal.SIGKILL - 1)  # being killed: dead, though the kernel has not finished yet
    return not any(int(status.get(k, "0").strip() or "0", 16) & sigkill for k in ("SigPnd", "ShdPnd"))


def listening_addresses(pid: int) -> set[tuple[str, int]] | None:
    """IPv4/IPv6 (address, port) pairs the process listens on, from /proc; None off Linux."""
    fd_dir = Path(f"/proc/{pid}/fd")
    if not fd_dir.is_dir():
        return None
    inodes = set()
    try:
        for fd in fd_dir.iterdir():
            try:
                link = os.readlink(fd)
            except OSError:
                continue
            if link.startswith("socket:["):
                inodes.add(link[8:-1])
    except OSError:
        return None
    found: set[tuple[str, int]] = set()
    for table, v6 in ((f"/proc/{pid}/net/tcp", False), (f"/proc/{pid}/net/tcp6", True)):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            if len(parts) < 10 or parts[3] != "0A" or parts[9] not in inodes:  # 0A = LISTEN
                continue
            addr_hex, port_hex = parts[1].split(":")
            if v6:
                addr = "::" if set(addr_hex) == {"0"} else addr_hex
            else:
                addr = socket.inet_ntoa(bytes.fromhex(addr_hex)[::-1])
            found.add((addr, int(port_hex, 16)))
    return found


def health(url: str, timeout: float = 2.0) -> bool:
    """True when ``GET /health`` answers 200 (no proxies: the server is local)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url.rstrip("/") + "/health", timeout=timeout) as r:
            return r.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


# ---------------------------------------------------------------- template data directory


def _child_env(data_dir: Path, creds: Credentials | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED and not k.startswith("LABEL_STUDIO_")}
    env.update(QUIET_ENV)
    env["LABEL_STUDIO_BASE_DATA_DIR"] = str(data_dir.resolve())
    if creds is not None:
        env["LABEL_STUDIO_USERNAME"] = creds.username
        env["LABEL_STUDIO_PASSWORD"] = creds.password
        env["LABEL_STUDIO_USER_TOKEN"] = creds.token
    return env


def template_dir(binary: Path) -> Path:
    return cache_dir() / f"ls-template-{label_studio_version(binary)}"


def ensure_template(binary: Path, *, timeout: float = 600) -> Path:
    """A migrated Label Studio data directory without users, made once per version (~30-60 s).

    Built in a temporary directory and renamed into place, under a lock, so a crash or two
    concurrent test sessions never leave a half-migrated template behind.
    """
    target = template_dir(binary)
    if (target / TEMPLATE_MARKER).is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f".{target.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (target / TEMPLATE_MARKER).is_file():
            return target
        work = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
        try:
            proc = subprocess.run(
                [str(binary), "init", "--quiet", "--no-browser", "--enable-legacy-api-token"],
                env=_child_env(work, None),
                cwd=work,
                capture_output=True,
                text=True,
                timeout=timeout,
            )
            if proc.returncode != 0 or not (work / "label_studio.sqlite3").is_file():
                tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-15:])
                raise LabelStudioError(f"Label Studio database initialization failed:\n{tail}")
            (work / ".env").unlink(missing_ok=True)  # holds the Django SECRET_KEY: never shared
            atomic.write_text(work / TEMPLATE_MARKER, label_studio_version(binary) + "\n")
            if target.exists():
                shutil.rmtree(target)
            os.replace(work, target)
        except subprocess.TimeoutExpired:
            raise LabelStudioError(f"Label Studio database initialization took more than {timeout:.0f} s") from None
        finally:
            if work.exists():
                shutil.rmtree(work, ignore_errors=True)
    return target


def prepare_data_dir(data_dir: Path, binary: Path) -> bool:
    """Give an uninitialized data directory a copy of the template. True when it was copied."""
    if (data_dir / "label_studio.sqlite3").exists():
        return False
    template = ensure_template(binary)
    data_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(data_dir, 0o700)
    for item in template.iterdir():
        if item.name in (TEMPLATE_MARKER, ".env") or item.name.startswith("labelstudio."):
            continue
        dest = data_dir / item.name
        if item.is_dir():
            shutil.copytree(item, dest, dirs_exist_ok=True)
        else:
            shutil.copy2(item, dest)
    return True


# ---------------------------------------------------------------- start / stop / status


@dataclass
class ServerInfo:
    pid: int
    url: str
    port: int
    data_dir: str
    log: str
    started_at: float
    initialized: bool = False  # True when this start copied the template into data_dir
    database: str = "sqlite"

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _read_pid_file(data_dir: Path) -> dict[str, Any] | None:
    path = data_dir / PID_FILE
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _is_our_process(rec: dict[str, Any]) -> bool:
    """The pid file's process is still the one we started (not a recycled pid)."""
    pid = int(rec.get("pid", 0))
    if pid <= 0 or not _alive(pid):
        return False
    start = _proc_start_time(pid)
    if start is not None and rec.get("proc_start") is not None:
        return start == rec["proc_start"]
    cmd = _proc_cmdline(pid)
    return cmd is None or any("label-studio" in c for c in cmd)


def start(
    data_dir: Path | str = DEFAULT_DATA_DIR,
    port: int = DEFAULT_PORT,
    *,
    creds: Credentials | None = None,
    binary: Path | None = None,
    timeout: float = 180,
    notify: Callable[[str], None] | None = None,
    database: str = "sqlite",
) -> ServerInfo:
    """Start Label Studio on 127.0.0.1:port with data in ``data_dir`` and wait until it answers.

    ``database`` is ``sqlite`` (a file in ``data_dir``, for trials and one annotator at a time) or
    ``postgresql`` (a cluster under ``data_dir/postgres`` started first, see
    :mod:`corpus.labelstudio.postgres`; for a team annotating at once).

    Raises ``LabelStudioError`` when it is already running for this data dir, the port is busy,
    or the server does not come up (the message carries the end of its log).
    """
    if not (0 < int(port) < 65536):
        raise UsageError(f"invalid port {port}")
    if database not in DATABASES:
        raise UsageError(f"unknown database {database!r}", hint=f"choose one of {', '.join(DATABASES)}")
    data_dir = Path(data_dir).resolve()
    binary = binary or find_binary()
    creds = creds or load_credentials()
    rec = _read_pid_file(data_dir)
    if rec and _is_our_process(rec):
        raise LabelStudioError(
            f"Label Studio is already running for {data_dir} (pid {rec['pid']}, {rec.get('url')})",
            hint="use `corpus labelstudio status`, or `corpus labelstudio stop` first",
        )
    if port_in_use(port):
        raise LabelStudioError(
            f"port {port} on {DEFAULT_HOST} is already in use",
            hint="choose another port (make labelstudio LS_PORT=...) or stop what uses it",
        )
    db_env: dict[str, str] = {}
    if database == "postgresql":
        data_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(data_dir, 0o700)
        initialized = postgres.cluster(data_dir) is None
        if notify is not None and initialized:
            notify(
                f"Initializing PostgreSQL in {data_dir / postgres.DIR_NAME} (database migrations take a minute or two)"
            )
        db_env = postgres.start(data_dir).django_env()
    else:
        if notify is not None and not (data_dir / "label_studio.sqlite3").exists():
            fresh = not (template_dir(binary) / TEMPLATE_MARKER).exists()
            notify(
                f"Initializing {data_dir}"
                + (" (first time on this machine: database migrations take about a minute)" if fresh else "")
            )
        initialized = prepare_data_dir(data_dir, binary)
    log_path = data_dir / LOG_FILE
    log = open(log_path, "ab")
    os.chmod(log_path, 0o600)
    cmd = [
        str(binary),
        "start",
        "--no-browser",
        "--internal-host",
        DEFAULT_HOST,
        "--port",
        str(port),
        "--enable-legacy-api-token",
        "--log-level",
        "WARNING",
    ]
    proc = subprocess.Popen(
        cmd,
        env={**_child_env(data_dir, creds), **db_env},
        cwd=data_dir,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    log.close()
    url = f"http://{DEFAULT_HOST}:{port}"
    info = ServerInfo(proc.pid, url, int(port), str(data_dir), str(log_path), time.time(), initialized, database)
    _write_pid(data_dir, info)
    try:
        _wait_ready(proc, info, timeout)
    except BaseException:
        _terminate(proc.pid)
        (data_dir / PID_FILE).unlink(missing_ok=True)
        postgres.stop(data_dir)
        raise
    return info


def _write_pid(data_dir: Path, info: ServerInfo) -> None:
    rec = {**info.to_dict(), "proc_start": _proc_start_time(info.pid)}
    atomic.write_text(data_dir / PID_FILE, json.dumps(rec, indent=2))


def _log_tail(path: str, n: int = 15) -> str:
    try:
        lines = Path(path).read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join("  | " + line for line in lines[-n:])


def _wait_ready(proc: subprocess.Popen, info: ServerInfo, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise LabelStudioError(
                f"Label Studio exited with code {proc.returncode} before it was ready; end of {info.log}:\n"
                + _log_tail(info.log)
            )
        addrs = listening_addresses(proc.pid)
        if addrs is not None and addrs:
            # It listens: on our port and on 127.0.0.1 only, or it drifted / opened up.
            if addrs != {(DEFAULT_HOST, info.port)}:
                shown = ", ".join(f"{a}:{p}" for a, p in sorted(addrs))
                raise LabelStudioError(
                    f"Label Studio listens on {shown}, not on {DEFAULT_HOST}:{info.port} as requested "
                    "(it moves to another port when the requested one was taken meanwhile)",
                    hint="start it again, on a free port",
                )
        if (addrs is None or addrs) and health(info.url):
            if addrs is None and f"Starting development server at {info.url}/" not in Path(info.log).read_text(
                errors="replace"
            ):
                raise LabelStudioError(f"something else answers on {info.url}; Label Studio did not bind it")
            return
        time.sleep(0.3)
    raise LabelStudioError(
        f"Label Studio did not answer {info.url}/health within {timeout:.0f} s; end of {info.log}:\n"
        + _log_tail(info.log)
    )


def _terminate(pid: int, grace: float = 15) -> None:
    """SIGTERM the process group we created (start_new_session), then SIGKILL if needed.

    Returns only when every process of the group is gone, so the port is free for the next
    ``start`` (the server's worker can outlive its parent by a moment).
    """
    try:
        pgid = os.getpgid(pid)
    except ProcessLookupError:
        return
    group = pgid == pid
    sig_target = (lambda s: os.killpg(pid, s)) if group else (lambda s: os.kill(pid, s))

    def gone() -> bool:
        try:
            if os.waitpid(pid, os.WNOHANG)[0] == pid:  # reap when it is our child
                pass
        except ChildProcessError:
            pass
        try:
            sig_target(0)
        except ProcessLookupError:
            return True
        return not group and not _alive(pid)

    try:
        sig_target(signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if gone():
            return
        time.sleep(0.1)
    try:
        sig_target(signal.SIGKILL)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not gone():
        time.sleep(0.1)


def stop(data_dir: Path | str = DEFAULT_DATA_DIR) -> dict[str, Any]:
    """Stop the server started for ``data_dir``; only that process (pid file + start time)."""
    data_dir = Path(data_dir).resolve()
    rec = _read_pid_file(data_dir)
    if not rec:
        return {"stopped": False, "reason": f"no server was started for {data_dir}"}
    pid_file = data_dir / PID_FILE
    if not _is_our_process(rec):
        pid_file.unlink(missing_ok=True)
        postgres.stop(data_dir)
        return {"stopped": False, "reason": f"pid {rec.get('pid')} is no longer Label Studio (stale pid file removed)"}
    _terminate(int(rec["pid"]))
    pid_file.unlink(missing_ok=True)
    postgres.stop(data_dir)  # after the server: it holds connections to the database
    return {"stopped": True, "pid": rec["pid"], "url": rec.get("url"), "database": rec.get("database", "sqlite")}


def status(data_dir: Path | str = DEFAULT_DATA_DIR) -> dict[str, Any]:
    """Is the server of ``data_dir`` running (our process, alive: not a zombie, not being killed)
    and healthy (answers /health, and is still alive after answering)? The one liveness check:
    ``labelstudio status`` and ``labelstudio start --reuse`` both use it."""
    data_dir = Path(data_dir).resolve()
    rec = _read_pid_file(data_dir)
    if not rec or not _is_our_process(rec):
        return {"running": False, "data_dir": str(data_dir)}
    healthy = health(rec["url"]) and _is_our_process(rec)
    if not healthy and not _is_our_process(rec):  # died while we asked
        return {"running": False, "data_dir": str(data_dir)}
    return {
        "running": True,
        "healthy": healthy,
        "pid": rec["pid"],
        "url": rec["url"],
        "port": rec["port"],
        "data_dir": str(data_dir),
        "log": rec.get("log"),
        "uptime_s": round(time.time() - float(rec.get("started_at", time.time())), 1),
        "database": rec.get("database", "sqlite"),
    }
