"""The local Label Studio server: start/stop/status, busy ports, credentials, secrets not shown."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from corpus.cli import main
from corpus.core.errors import EnvironmentProblem, LabelStudioError, ProgramMissing
from corpus.labelstudio import server as lsserver


@pytest.fixture
def config_home(tmp_path, monkeypatch):
    """Keep the test away from the real ~/.config/newscorpus and from the caller's LS variables."""
    monkeypatch.setenv("NEWSCORPUS_CONFIG_DIR", str(tmp_path / "config"))
    for var in (
        "LABEL_STUDIO_USERNAME",
        "LABEL_STUDIO_PASSWORD",
        "LABEL_STUDIO_USER_TOKEN",
        "LABEL_STUDIO_URL",
        "LABEL_STUDIO_API_KEY",
    ):
        monkeypatch.delenv(var, raising=False)
    return tmp_path / "config"


def _fake_binary(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    p = folder / "label-studio"
    p.write_text("#!/bin/sh\nexit 0\n", encoding="utf-8")
    p.chmod(0o755)
    return p


def test_missing_binary_says_how_to_install_with_pip(monkeypatch, tmp_path, config_home):
    monkeypatch.setenv("CORPUS_LABEL_STUDIO_BIN", str(tmp_path / "nope" / "label-studio"))
    with pytest.raises(ProgramMissing) as e:
        lsserver.find_binary()
    assert isinstance(e.value, EnvironmentProblem) and e.value.code == "E903"
    assert "pip install label-studio==1.23.2" in str(e.value) and "CORPUS_LABEL_STUDIO_BIN" in str(e.value)
    assert "make install-labelstudio" in str(e.value)  # this test runs from a checkout
    r = CliRunner().invoke(main, ["labelstudio", "start", "--data-dir", str(tmp_path / "ls")])
    assert r.exit_code == 3
    assert "python -m venv ~/.venvs/labelstudio" in r.output and "Traceback" not in r.output
    # not from a checkout, with nothing on PATH: the pip hint alone
    monkeypatch.delenv("CORPUS_LABEL_STUDIO_BIN")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setattr(lsserver.resources, "checkout_root", lambda: None)
    with pytest.raises(EnvironmentProblem, match="no label-studio on PATH") as e:
        lsserver.find_binary()
    assert "make" not in str(e.value) and "pip install label-studio" in str(e.value)


def test_binary_order_option_env_path_checkout(monkeypatch, tmp_path):
    opt, env, on_path = (_fake_binary(tmp_path / d) for d in ("opt", "env", "path"))
    checkout = tmp_path / "repo"
    in_checkout = _fake_binary(checkout / ".venv-labelstudio" / "bin")
    monkeypatch.setattr(lsserver.resources, "checkout_root", lambda: checkout)
    monkeypatch.setenv("CORPUS_LABEL_STUDIO_BIN", str(env))
    monkeypatch.setenv("PATH", str(on_path.parent))
    assert lsserver.find_binary(str(opt)) == opt
    assert lsserver.find_binary() == env
    monkeypatch.delenv("CORPUS_LABEL_STUDIO_BIN")
    assert lsserver.find_binary() == on_path
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert lsserver.find_binary() == in_checkout
    monkeypatch.setattr(lsserver.resources, "checkout_root", lambda: None)  # an installed wheel
    with pytest.raises(EnvironmentProblem):
        lsserver.find_binary()
    with pytest.raises(EnvironmentProblem, match="not an executable"):  # given explicitly: no fallback
        monkeypatch.setenv("PATH", str(on_path.parent))
        lsserver.find_binary(str(tmp_path / "opt"))


def test_demo_credentials_generated_once_in_private_file(config_home):
    c1 = lsserver.load_credentials()
    path = config_home / "labelstudio.json"
    assert path.is_file() and stat.S_IMODE(path.stat().st_mode) == 0o600
    c2 = lsserver.load_credentials()
    assert (c1.username, c1.password, c1.token) == (c2.username, c2.password, c2.token)
    assert c1.username == "admin@example.com" and len(c1.token) == 40
    assert c1.password not in repr(c1) and c1.token not in repr(c1)


def test_environment_credentials_win(config_home, monkeypatch):
    monkeypatch.setenv("LABEL_STUDIO_USERNAME", "boss@example.org")
    monkeypatch.setenv("LABEL_STUDIO_PASSWORD", "pw-from-env-123")
    monkeypatch.setenv("LABEL_STUDIO_USER_TOKEN", "tok-from-env-123456")
    c = lsserver.load_credentials()
    assert (c.username, c.password, c.token, c.origin) == (
        "boss@example.org",
        "pw-from-env-123",
        "tok-from-env-123456",
        "environment",
    )
    assert not (config_home / "labelstudio.json").exists()


def test_connection_settings_need_a_url(config_home):
    with pytest.raises(LabelStudioError, match="corpus labelstudio start"):
        lsserver.connection_settings()


def test_busy_port_is_refused_not_drifted(tmp_path, config_home):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        assert lsserver.port_in_use(port)
        r = CliRunner().invoke(main, ["labelstudio", "start", "--port", str(port), "--data-dir", str(tmp_path / "ls")])
    if "make install-labelstudio" in r.output:
        pytest.skip("Label Studio not installed")
    assert r.exit_code == 1, r.output
    assert f"port {port}" in r.output and "already in use" in r.output
    assert not (tmp_path / "ls" / lsserver.PID_FILE).exists()


@pytest.mark.labelstudio
def test_fixture_server_is_local_and_authenticated(labelstudio):
    assert lsserver.health(labelstudio.url)
    rec = json.loads((labelstudio.data_dir / lsserver.PID_FILE).read_text())
    port = int(labelstudio.url.rsplit(":", 1)[1])
    assert lsserver.listening_addresses(rec["pid"]) == {("127.0.0.1", port)}
    assert labelstudio.client.whoami()["email"] == labelstudio.username
    log = (labelstudio.data_dir / lsserver.LOG_FILE).read_text(errors="replace")
    assert labelstudio.token not in log
    rec_text = (labelstudio.data_dir / lsserver.PID_FILE).read_text()
    assert labelstudio.token not in rec_text


@pytest.mark.labelstudio
@pytest.mark.slow
def test_cli_start_status_stop_cycle(labelstudio, tmp_path, config_home):
    """A second server through the CLI (template copy: seconds), then stop ends exactly it."""
    data_dir = tmp_path / "ls"
    port = lsserver.free_port()
    runner = CliRunner()
    r = runner.invoke(main, ["labelstudio", "start", "--port", str(port), "--data-dir", str(data_dir)])
    try:
        assert r.exit_code == 0, r.output
        creds = lsserver.load_credentials(create=False)
        assert f"http://127.0.0.1:{port}" in r.output and creds.username in r.output
        assert creds.password not in r.output and creds.token not in r.output
        assert str(config_home / "labelstudio.json") in r.output
        assert lsserver.connection_settings() == (f"http://127.0.0.1:{port}", creds.token)

        st = json.loads(runner.invoke(main, ["labelstudio", "status", "--json", "--data-dir", str(data_dir)]).output)
        assert st["running"] and st["healthy"] and st["port"] == port
        pid = st["pid"]

        again = runner.invoke(main, ["labelstudio", "start", "--port", str(port), "--data-dir", str(data_dir)])
        assert again.exit_code == 1 and "already running" in again.output
        reused = runner.invoke(main, ["labelstudio", "start", "--reuse", "--json", "--data-dir", str(data_dir)])
        assert reused.exit_code == 0 and json.loads(reused.output)["pid"] == pid

        # The token from the config file works against the new server.
        from corpus.labelstudio.client import LSClient

        client = LSClient()
        assert client.whoami()["email"] == creds.username
        client.close()
    finally:
        r2 = runner.invoke(main, ["labelstudio", "stop", "--json", "--data-dir", str(data_dir)])
    out = json.loads(r2.output)
    assert out["stopped"] and out["pid"] == pid
    assert not lsserver.health(f"http://127.0.0.1:{port}")
    st = json.loads(runner.invoke(main, ["labelstudio", "status", "--json", "--data-dir", str(data_dir)]).output)
    assert st["running"] is False

    # Right after a stop the same port is free again (its TIME_WAIT connections do not count).
    r3 = runner.invoke(main, ["labelstudio", "start", "--port", str(port), "--data-dir", str(data_dir)])
    runner.invoke(main, ["labelstudio", "stop", "--data-dir", str(data_dir)])
    assert r3.exit_code == 0, r3.output


def test_stop_leaves_an_unrelated_process_alone(tmp_path):
    """A pid file whose pid now belongs to another process (pid reuse) must not kill it."""
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (tmp_path / lsserver.PID_FILE).write_text(
            json.dumps({"pid": other.pid, "url": "http://127.0.0.1:1", "port": 1, "proc_start": "1"})
        )
        result = lsserver.stop(tmp_path)
        assert result["stopped"] is False and "no longer" in result["reason"]
        assert other.poll() is None
        assert not (tmp_path / lsserver.PID_FILE).exists()
    finally:
        other.kill()
        other.wait()


@pytest.mark.parametrize("ci, outcome", [("true", "failed"), ("", "skipped")])
def test_fixture_fails_in_ci_and_skips_locally_without_label_studio(tmp_path, ci, outcome):
    """Without the binary the session fixture FAILs under CI=true and skips (with the reason) otherwise."""
    env = {**os.environ, "CORPUS_LABEL_STUDIO_BIN": str(tmp_path / "missing" / "label-studio"), "CI": ci}
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-rs",
            "-p",
            "no:cacheprovider",
            f"{__file__}::test_fixture_server_is_local_and_authenticated",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=str(tmp_path),
    )
    assert f"1 {outcome}" in res.stdout or "1 error" in res.stdout, res.stdout[-1500:]
    if outcome == "failed":
        assert res.returncode != 0 and "required in CI" in res.stdout
    else:
        assert res.returncode == 0 and "make install-labelstudio" in res.stdout
