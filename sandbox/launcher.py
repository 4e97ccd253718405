"""Start, stop and describe the local sandbox: moto, the brain, Tailscale and Cloudflare emulators, and
the EC2 hosts service (moto's instances booted as systemd containers, with their metadata service).

    python -m sandbox.launcher up|down|status [--dir .sandbox]

Everything listens on 127.0.0.1 only. ``up`` is idempotent (services already answering are left
alone), writes ``<dir>/env`` (mode 0600) with the variables modules and tools read, keeps PIDs in
``<dir>/run/<service>.pid`` and logs in ``<dir>/logs/``. ``down`` stops by PID (and only those PIDs).
Ports come from ``M8TRX_SANDBOX_PORT_BASE`` (default 18500): moto +0, brain +1, tailscale +2,
cloudflare +3, hosts +4. ``down`` also removes the host containers.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SERVICES = ("moto", "brain", "tailscale", "cloudflare", "hosts")
HOST = "127.0.0.1"
REGION = "us-east-2"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def read_env_file(path: Path) -> dict:
    """Parse a KEY=value file such as .sandbox/env (missing file: empty dict)."""
    values = {}
    if path.exists():
        for line in path.read_text().splitlines():
            key, sep, value = line.partition("=")
            if sep and not key.startswith("#"):
                values[key.strip()] = value
    return values


def emulator_env(name: str, settings: dict, state_dir: Path) -> dict:
    """Environment an emulator process reads its configuration from."""
    if name == "hosts":
        return {"HOSTS_EMU_AWS_ENDPOINT": settings["AWS_ENDPOINT_URL"],
                "HOSTS_EMU_URL": settings["M8TRX_SANDBOX_HOSTS_URL"],
                "HOSTS_EMU_REGION": settings["AWS_DEFAULT_REGION"],
                "HOSTS_EMU_LABEL": settings["M8TRX_SANDBOX_HOSTS_URL"].rsplit(":", 1)[1],
                "HOSTS_EMU_BOOT": os.environ.get("M8TRX_SANDBOX_HOSTS_BOOT", '"all"'),
                "CONTAINERS_CONF": str(REPO / "sandbox" / "containers.conf")}
    if name == "brain":
        return {"BRAIN_EMU_ADMIN_TOKEN": settings["M8TRX_BRAIN_ADMIN_TOKEN"],
                "BRAIN_EMU_DB": str(state_dir / "brain.sqlite3")}
    if name == "tailscale":
        return {"TS_EMU_API_KEY": settings["TAILSCALE_API_KEY"],
                "TS_EMU_TAILNET": settings["TAILSCALE_TAILNET"],
                "TS_EMU_OAUTH_CLIENT_ID": settings["TAILSCALE_OAUTH_CLIENT_ID"],
                "TS_EMU_OAUTH_CLIENT_SECRET": settings["TAILSCALE_OAUTH_CLIENT_SECRET"]}
    if name == "cloudflare":
        return {"CF_EMU_API_TOKEN": settings["CLOUDFLARE_API_TOKEN"],
                "CF_EMU_ZONE_ID": settings["CLOUDFLARE_ZONE_ID"],
                "CF_EMU_ZONE_NAME": settings["CLOUDFLARE_ZONE_NAME"],
                "CF_EMU_PER_PAGE": settings.get("CLOUDFLARE_EMU_PER_PAGE", "100")}
    raise ValueError(name)


def command(name: str, port: int) -> list:
    if name == "moto":
        return [sys.executable, "-m", "sandbox.moto_server", "-H", HOST, "-p", str(port)]
    extra = ["--no-date-header"] if name == "tailscale" else []  # it sends its own, from its clock
    return [sys.executable, "-m", "uvicorn", "--factory", "sandbox.emulators.%s:create_app" % name,
            "--host", HOST, "--port", str(port), "--log-level", "warning", "--no-access-log"] + extra


def health_url(name: str, port: int) -> str:
    # every service, moto included (sandbox/moto_server.py), answers a constant-size /_emulator/health
    # (moto's own /moto-api/data.json dumps its whole state and slows down as the state grows)
    return "http://%s:%d/_emulator/health" % (HOST, port)


def answers(url: str, timeout: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 (loopback only)
            return resp.status == 200
    except OSError:
        return False


def wait_until_up(name: str, port: int, proc=None, timeout: float = 60.0, log: Path = None) -> None:
    deadline = time.monotonic() + timeout
    url = health_url(name, port)
    while time.monotonic() < deadline:
        if answers(url):
            return
        if proc is not None and proc.poll() is not None:
            tail = log.read_text()[-2000:] if log and log.exists() else ""
            raise RuntimeError("%s exited with %s before answering on %s\n%s" % (name, proc.returncode, url, tail))
        time.sleep(0.1)
    raise RuntimeError("%s did not answer on %s within %ss" % (name, url, timeout))


def spawn(name: str, port: int, env: dict, log: Path, wait: bool = True) -> subprocess.Popen:
    """Start one service in its own session (so it can be stopped by PID) and wait for it."""
    full_env = dict(os.environ)
    full_env.update(env)
    full_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), full_env.get("PYTHONPATH")]))
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        proc = subprocess.Popen(command(name, port), cwd=str(REPO), env=full_env, stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    if wait:
        wait_until_up(name, port, proc, log=log)
    return proc


def stop_pid(pid: int, timeout: float = 10.0) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:  # reap it when it is our child (else it lingers as a zombie and still "exists")
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return
        except ChildProcessError:
            pass
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


class Sandbox:
    def __init__(self, directory: Path):
        self.dir = directory
        self.run = directory / "run"
        self.logs = directory / "logs"
        self.state = directory / "state"
        self.env_file = directory / "env"
        self.base = int(os.environ.get("M8TRX_SANDBOX_PORT_BASE", "18500"))

    def port(self, name: str) -> int:
        return self.base + SERVICES.index(name)

    def settings(self) -> dict:
        """The sandbox's variables: tokens are random per sandbox and kept across restarts."""
        old = read_env_file(self.env_file)

        def keep(key, make):
            return old.get(key) or make()

        url = lambda name: "http://%s:%d" % (HOST, self.port(name))  # noqa: E731
        return {
            "AWS_ENDPOINT_URL": url("moto"),
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "M8TRX_BRAIN_URL": url("brain"),
            "M8TRX_BRAIN_ADMIN_TOKEN": keep("M8TRX_BRAIN_ADMIN_TOKEN", lambda: "brain-admin-" + secrets.token_hex(16)),
            "TAILSCALE_BASE_URL": url("tailscale"),
            "TAILSCALE_API_KEY": keep("TAILSCALE_API_KEY", lambda: "tskey-api-" + secrets.token_hex(16)),
            "TAILSCALE_TAILNET": "m8trx-sandbox.example",
            "TAILSCALE_OAUTH_CLIENT_ID": keep("TAILSCALE_OAUTH_CLIENT_ID", lambda: "k" + secrets.token_hex(8)),
            "TAILSCALE_OAUTH_CLIENT_SECRET": keep("TAILSCALE_OAUTH_CLIENT_SECRET",
                                                  lambda: "tskey-client-" + secrets.token_hex(16)),
            "CLOUDFLARE_BASE_URL": url("cloudflare") + "/client/v4",
            "CLOUDFLARE_API_TOKEN": keep("CLOUDFLARE_API_TOKEN", lambda: secrets.token_urlsafe(30)),
            "CLOUDFLARE_ZONE_ID": keep("CLOUDFLARE_ZONE_ID", lambda: secrets.token_hex(16)),
            "CLOUDFLARE_ZONE_NAME": "m8trx-sandbox.example",
            "M8TRX_SANDBOX_HOSTS_URL": url("hosts"),
        }

    def write_env(self, settings: dict) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.dir, 0o700)
        body = "# written by `make sandbox-up`; source it: set -a; . .sandbox/env; set +a\n"
        body += "".join("%s=%s\n" % kv for kv in settings.items())
        tmp = self.env_file.with_suffix(".tmp")
        fd = os.open(str(tmp), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(body)
        os.replace(tmp, self.env_file)

    def pid(self, name: str):
        try:
            pid = int((self.run / ("%s.pid" % name)).read_text())
            os.kill(pid, 0)
            return pid
        except (OSError, ValueError):
            return None

    def up(self) -> None:
        settings = self.settings()
        self.write_env(settings)
        for path in (self.run, self.logs, self.state):
            path.mkdir(parents=True, exist_ok=True)
        started = {}
        for name in SERVICES:
            port = self.port(name)
            if self.pid(name) and answers(health_url(name, port)):
                print("  %-10s already up on %s:%d (pid %d)" % (name, HOST, port, self.pid(name)))
                continue
            if answers(health_url(name, port)):
                raise SystemExit("port %d is taken by something that is not this sandbox; set "
                                 "M8TRX_SANDBOX_PORT_BASE to another base" % port)
            env = {} if name == "moto" else emulator_env(name, settings, self.state)
            proc = spawn(name, port, env, self.logs / ("%s.log" % name), wait=False)
            (self.run / ("%s.pid" % name)).write_text(str(proc.pid))
            started[name] = proc
        for name, proc in started.items():
            wait_until_up(name, self.port(name), proc, log=self.logs / ("%s.log" % name))
            print("  %-10s started on %s:%d (pid %d)" % (name, HOST, self.port(name), proc.pid))
        if "moto" in started:
            # moto keeps nothing across restarts: start the other planes empty too, so a customer is
            # never half present (e.g. a brain customer whose key lived in moto's SSM)
            for name in SERVICES[1:]:
                request = urllib.request.Request("http://%s:%d/_emulator/reset" % (HOST, self.port(name)), method="POST")
                urllib.request.urlopen(request, timeout=10).close()
            print("  moto starts empty, so the emulators were reset to match")
        print("sandbox up; variables in %s" % self.env_file)

    def down(self) -> None:
        if self.pid("hosts") and answers(health_url("hosts", self.port("hosts"))):
            # the host containers go with the sandbox
            request = urllib.request.Request("http://%s:%d/_emulator/reset" % (HOST, self.port("hosts")), method="POST")
            urllib.request.urlopen(request, timeout=120).close()
        for name in SERVICES:
            pid = self.pid(name)
            if pid:
                stop_pid(pid)
                print("  %-10s stopped (pid %d)" % (name, pid))
            (self.run / ("%s.pid" % name)).unlink(missing_ok=True)
        print("sandbox down")

    def status(self) -> int:
        rows, ok = [], True
        for name in SERVICES:
            port, pid = self.port(name), self.pid(name)
            alive = answers(health_url(name, port))
            ok = ok and alive
            rows.append({"service": name, "url": "http://%s:%d" % (HOST, port), "pid": pid,
                         "state": "up" if alive else "down"})
        for row in rows:
            print("  %(service)-10s %(state)-5s %(url)s pid=%(pid)s" % row)
        print("env file: %s" % (self.env_file if self.env_file.exists() else "(none)"))
        return 0 if ok else 1


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("up", "down", "status", "json"))
    parser.add_argument("--dir", default=str(REPO / ".sandbox"))
    args = parser.parse_args(argv)
    sandbox = Sandbox(Path(args.dir))
    if args.action == "up":
        sandbox.up()
    elif args.action == "down":
        sandbox.down()
    elif args.action == "json":
        print(json.dumps({n: {"port": sandbox.port(n), "pid": sandbox.pid(n)} for n in SERVICES}))
    else:
        return sandbox.status()
    return 0


if __name__ == "__main__":
    sys.exit(main())
