"""AUTH and TLS end to end, and secrets kept out of logs, metrics and error messages."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import redis

from shared_core.volume_files.settings import SettingsError, load_settings, redacted_url
from tests import stream_support as ss
from tests.redis_server import RedisServer, free_port

pytestmark = pytest.mark.integration
SECRET = "s3cret-Pa55word"


def _metrics_port(log: Path, timeout: float = 20.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in log.read_text().splitlines():
            if '"starting"' in line and "metrics_port" in line:
                import orjson

                return int(orjson.loads(line)["metrics_port"])
        time.sleep(0.1)
    raise AssertionError(f"no start-up line in {log}: {log.read_text()[-2000:]}")


def _run_and_check(url: str, client: redis.Redis, tmp_path: Path, name: str) -> None:
    ticks = ss.recorded_session(n_sim=800, yesbank_days=1)
    proc = ss.start_worker(url, name, tmp_path, VOLUME_LOG_LEVEL="info")
    try:
        ss.publish(client, ticks)
        ss.wait_consumed(client, timeout=60)
        port = _metrics_port(tmp_path / f"{name}.log")
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read()
    finally:
        proc.terminate()
        assert proc.wait(timeout=30) == 0
    assert len(ss.dump_state(client)) > 50
    log = (tmp_path / f"{name}.log").read_text()
    assert SECRET not in log
    assert SECRET.encode() not in metrics
    assert "***" in log  # the URL is logged, redacted


def test_password_protected_redis_end_to_end(tmp_path: Path) -> None:
    with RedisServer(password=SECRET) as server:
        _run_and_check(server.url, server.client(), tmp_path, "w-auth")


def test_tls_with_password_end_to_end(tmp_path: Path) -> None:
    if shutil.which("openssl") is None:
        pytest.skip("openssl not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
         "-out", str(cert), "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )
    tls_port = free_port()
    server = RedisServer(password=SECRET, extra_args=(
        "--tls-port", str(tls_port), "--tls-cert-file", str(cert), "--tls-key-file", str(key),
        "--tls-ca-cert-file", str(cert), "--tls-auth-clients", "no",
    ))
    with server:
        url = f"rediss://:{SECRET}@127.0.0.1:{tls_port}/1?ssl_ca_certs={cert}"
        client = redis.Redis.from_url(url)
        assert client.ping()
        _run_and_check(url, client, tmp_path, "w-tls")


def test_bad_setting_names_the_setting_and_hides_the_password() -> None:
    with pytest.raises(SettingsError) as err:
        load_settings(env={"VOLUME_REDIS_URL": f"http://:{SECRET}@host:6379/1"})
    assert "VOLUME_REDIS_URL" in str(err.value)
    assert SECRET not in str(err.value)
    assert redacted_url(f"redis://user:{SECRET}@h:1/1") == "redis://user:***@h:1/1"


def test_cli_refuses_bad_settings_with_one_clear_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "shared_core.volume_files.cli", "run"],
        env={**ss.service_env("redis://127.0.0.1:1/1", "w"), "VOLUME_PARTITIONS": "zero"},
        capture_output=True, timeout=60,
    )
    assert result.returncode == 2
    assert b"VOLUME_PARTITIONS" in result.stderr
    assert b"Traceback" not in result.stderr


def test_metrics_bind_address_is_configurable(tmp_path: Path) -> None:
    with RedisServer() as server:
        proc = ss.start_worker(server.url, "w-bind", tmp_path, VOLUME_METRICS_HOST="127.0.0.2",
                               VOLUME_LOG_LEVEL="info")
        try:
            port = _metrics_port(tmp_path / "w-bind.log")
            ok = urllib.request.urlopen(f"http://127.0.0.2:{port}/healthz", timeout=5).status
            assert ok == 200
            with pytest.raises(urllib.error.URLError):
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)
        finally:
            proc.terminate()
            assert proc.wait(timeout=30) == 0
