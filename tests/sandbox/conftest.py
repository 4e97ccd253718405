"""Fixtures that start each emulator on its own ephemeral loopback port (real HTTP, real uvicorn)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

import httpx
import pytest

from sandbox import launcher


@dataclass
class Emulator:
    name: str
    url: str
    settings: dict
    proc: object = None
    client: httpx.Client = field(default=None, repr=False)

    def reset(self):
        self.client.post("/_emulator/reset").raise_for_status()

    def requests(self):
        return self.client.get("/_emulator/requests").json()

    def fault(self, **spec):
        resp = self.client.post("/_emulator/faults", json=spec)
        resp.raise_for_status()
        return resp.json()

    def restart(self, tmp_dir):
        """Stop and start the process again on the same port (state that persists must survive)."""
        launcher.stop_pid(self.proc.pid)
        self.proc.wait(timeout=10)
        port = int(self.url.rsplit(":", 1)[1])
        env = launcher.emulator_env(self.name, self.settings, tmp_dir)
        self.proc = launcher.spawn(self.name, port, env, tmp_dir / ("%s.log" % self.name))


def _settings():
    return {
        "M8TRX_BRAIN_ADMIN_TOKEN": "brain-admin-" + secrets.token_hex(8),
        "TAILSCALE_API_KEY": "tskey-api-" + secrets.token_hex(8),
        "TAILSCALE_TAILNET": "example.com",
        "TAILSCALE_OAUTH_CLIENT_ID": "k" + secrets.token_hex(6),
        "TAILSCALE_OAUTH_CLIENT_SECRET": "tskey-client-" + secrets.token_hex(8),
        "CLOUDFLARE_API_TOKEN": secrets.token_urlsafe(24),
        "CLOUDFLARE_ZONE_ID": secrets.token_hex(16),
        "CLOUDFLARE_ZONE_NAME": "example.com",
        "CLOUDFLARE_EMU_PER_PAGE": "5",
    }


def _start(name, tmp_path_factory):
    settings = _settings()
    tmp_dir = tmp_path_factory.mktemp(name)
    port = launcher.free_port()
    proc = launcher.spawn(name, port, launcher.emulator_env(name, settings, tmp_dir), tmp_dir / ("%s.log" % name))
    url = "http://127.0.0.1:%d" % port
    emu = Emulator(name, url, settings, proc, httpx.Client(base_url=url, timeout=10))
    emu.tmp_dir = tmp_dir
    return emu


def _stop(emu):
    emu.client.close()
    launcher.stop_pid(emu.proc.pid)


@pytest.fixture(scope="session")
def brain_emu(tmp_path_factory):
    emu = _start("brain", tmp_path_factory)
    yield emu
    _stop(emu)


@pytest.fixture(scope="session")
def tailscale_emu(tmp_path_factory):
    emu = _start("tailscale", tmp_path_factory)
    yield emu
    _stop(emu)


@pytest.fixture(scope="session")
def cloudflare_emu(tmp_path_factory):
    emu = _start("cloudflare", tmp_path_factory)
    yield emu
    _stop(emu)


@pytest.fixture
def brain(brain_emu):
    brain_emu.reset()
    return brain_emu


@pytest.fixture
def tailscale(tailscale_emu):
    tailscale_emu.reset()
    return tailscale_emu


@pytest.fixture
def cloudflare(cloudflare_emu):
    cloudflare_emu.reset()
    return cloudflare_emu
