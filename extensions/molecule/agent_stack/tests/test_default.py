"""Testinfra checks for roles/agent_stack: the rendered compose project, its .env and Caddyfile.

Every command goes through testinfra's podman backend (``podman exec``), not through ansible
(toolchain §10 P5). The container has no Docker, so the project is rendered and checked, not started.
"""

from __future__ import annotations

import hashlib
import os
import re

import pytest
import testinfra.utils.ansible_runner
import yaml

testinfra_hosts = [
    "podman://" + name
    for name in testinfra.utils.ansible_runner.AnsibleRunner(
        os.environ["MOLECULE_INVENTORY_FILE"]
    ).get_hosts("all")
]

STACK = "/opt/m8trx-agent"
DATA = "/var/m8trx"
HOSTNAME = "acme.m8trx.test"
UI_PASSWORD = "mol-ui-pa$word-1"  # converge.yml
SERVICES = ["caddy", "paperclip", "m8trx-bridge", "postgres", "ollama"]
SECURITY_OPT = [
    "no-new-privileges:true",
    "seccomp=/etc/docker/seccomp/m8trx-agent.json",
    "apparmor=m8trx-agent",
]


@pytest.fixture(scope="module")
def compose(host):
    return yaml.safe_load(host.file(STACK + "/compose.yaml").content_string)


@pytest.fixture(scope="module")
def env(host):
    content = host.file(STACK + "/.env").content_string
    return dict(re.findall(r"(?m)^([A-Z][A-Z0-9_]*)=(.*)$", content))


def test_the_project_is_named_after_the_customer_and_has_every_service(compose):
    assert compose["name"] == "m8trx-acme"
    assert list(compose["services"]) == SERVICES


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_carries_every_sandbox_protection(compose, service):
    svc = compose["services"][service]
    assert svc["cap_drop"] == ["ALL"]
    assert svc.get("cap_add", []) == (["NET_BIND_SERVICE"] if service == "caddy" else [])
    assert svc["security_opt"] == SECURITY_OPT
    assert svc["read_only"] is True
    assert "privileged" not in svc and "network_mode" not in svc and "pid" not in svc
    tmp = [t for t in svc["tmpfs"] if t.split(":")[0] == "/tmp"]
    assert len(tmp) == 1 and "noexec" in tmp[0].split(":")[1].split(",")
    uid, gid = svc["user"].split(":")
    assert uid.isdigit() and int(uid) > 0 and gid.isdigit() and int(gid) > 0
    assert svc["user"] == ("70:70" if service == "postgres" else "1000:1000")
    assert svc["pids_limit"] == 512
    assert svc["mem_limit"] == "4g"
    assert svc["cpus"] == 2.0
    assert svc["restart"] == "unless-stopped"
    assert svc["healthcheck"]["test"][0] == "CMD" and len(svc["healthcheck"]["test"]) > 1
    assert re.search(r":[0-9][\w.-]*$", svc["image"].split("/")[-1]), svc["image"]
    assert not any("docker.sock" in v for v in svc.get("volumes", []))


def test_images_come_from_ghcr_for_the_own_services_and_official_images_otherwise(compose):
    images = {name: svc["image"] for name, svc in compose["services"].items()}
    assert images["paperclip"].startswith("ghcr.io/") and images["m8trx-bridge"].startswith("ghcr.io/")
    assert images["caddy"].startswith("docker.io/library/caddy:")
    assert images["postgres"].startswith("docker.io/library/postgres:")
    assert images["ollama"].startswith("docker.io/ollama/ollama:")


def test_only_caddy_publishes_ports(compose):
    publishing = sorted(name for name, svc in compose["services"].items() if svc.get("ports"))
    assert publishing == ["caddy"]
    assert compose["services"]["caddy"]["ports"] == ["80:8080", "443:8443", "443:8443/udp"]


@pytest.mark.parametrize("service", ["postgres", "ollama"])
def test_postgres_and_ollama_sit_on_an_internal_network_only(compose, service):
    networks = compose["services"][service]["networks"]
    assert networks == ["backend"]
    assert compose["networks"]["backend"]["internal"] is True


def test_the_public_services_reach_out_through_a_non_internal_network(compose):
    assert compose["networks"]["edge"].get("internal", False) is False
    assert "edge" in compose["services"]["caddy"]["networks"]
    assert "backend" not in compose["services"]["caddy"]["networks"]


def test_secrets_reach_compose_only_through_interpolation(host, compose, env):
    text = host.file(STACK + "/compose.yaml").content_string
    for key in ("POSTGRES_PASSWORD", "JWT_SECRET"):
        assert env[key] not in text
    assert "${POSTGRES_PASSWORD:?" in compose["services"]["postgres"]["environment"]["POSTGRES_PASSWORD"]
    assert "${AGENT_UI_PASSWORD_HASH:?" in compose["services"]["caddy"]["environment"]["AGENT_UI_PASSWORD_HASH"]


def test_files_and_directories_have_their_owners_and_modes(host):
    env_file = host.file(STACK + "/.env")
    assert (env_file.user, env_file.group, env_file.mode) == ("root", "root", 0o600)
    stack = host.file(STACK)
    assert (stack.user, stack.mode) == ("root", 0o750)
    for name in ("compose.yaml", "Caddyfile"):
        f = host.file(STACK + "/" + name)
        assert (f.user, f.mode) == ("root", 0o644)
    for sub, uid in (("caddy/data", 1000), ("workspaces", 1000), ("postgres", 70), ("ollama", 1000)):
        d = host.file(DATA + "/" + sub)
        assert d.is_directory and d.uid == uid and d.mode == 0o700, sub


def test_env_has_the_generated_secrets_and_allowed_hostnames(env):
    assert re.fullmatch(r"[A-Za-z0-9]{32}", env["POSTGRES_PASSWORD"])
    assert re.fullmatch(r"[A-Za-z0-9]{64}", env["JWT_SECRET"])
    assert env["ALLOWED_HOSTNAMES"] == "localhost,203.0.113.10," + HOSTNAME
    assert env["AGENT_UI_USER"] == "m8trx"


def test_every_dollar_of_the_ui_hash_is_doubled(env):
    stored = env["AGENT_UI_PASSWORD_HASH"]
    assert re.fullmatch(r"\$\$2b\$\$12\$\$[./A-Za-z0-9]{53}", stored), stored
    assert "$" not in stored.replace("$$", "")


def test_the_ui_hash_is_a_bcrypt_hash_of_the_password(host, env):
    """Checked with the host's libxcrypt (Python's crypt), not the library the role hashed with."""
    bcrypt_hash = env["AGENT_UI_PASSWORD_HASH"].replace("$$", "$")
    check = (
        "import crypt, hmac, sys, warnings; warnings.simplefilter('ignore');"
        "pw, h = sys.stdin.read().split('\\n')[:2];"
        "sys.exit(0 if hmac.compare_digest(crypt.crypt(pw, h), h) else 3)"
    )
    good = host.run("printf '%s\\n%s\\n' {} {} | python3 -c {}".format(
        _q(UI_PASSWORD), _q(bcrypt_hash), _q(check)))
    assert good.rc == 0, good.stderr
    bad = host.run("printf '%s\\n%s\\n' {} {} | python3 -c {}".format(
        _q(UI_PASSWORD + "x"), _q(bcrypt_hash), _q(check)))
    assert bad.rc == 3, bad.stderr


def test_the_postgres_password_survived_the_second_converge(host, env):
    first = host.file("/root/.molecule-first-postgres-password.sha256").content_string.strip()
    assert hashlib.sha256(env["POSTGRES_PASSWORD"].encode()).hexdigest() == first


def test_the_caddyfile_has_the_global_options_the_hostname_block_once_and_the_fallback(host):
    text = host.file(STACK + "/Caddyfile").content_string
    body = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert body[0] == "{" and "\tauto_https disable_redirects" in body[1:4]
    assert len(re.findall(r"(?m)^" + re.escape(HOSTNAME) + r" \{$", text)) == 1
    assert len(re.findall(r"(?m)^(?:[^\s#].*)?\{$", text)) == 3  # global options, host name, fallback
    site = text.split(HOSTNAME + " {", 1)[1].split("\n}\n", 1)[0]
    assert "basic_auth {\n\t\t{$AGENT_UI_USER} {$AGENT_UI_PASSWORD_HASH}\n\t}" in site
    assert "reverse_proxy paperclip:3100" in site and "reverse_proxy m8trx-bridge:3200" in site
    assert re.search(r"(?m)^:8080 \{$", text)
    assert "$2b$" not in text  # the hash reaches caddy through the environment only


def _q(text):
    return "'" + text.replace("'", "'\\''") + "'"
