"""Testinfra checks for roles/brain_heartbeat, against the sandbox's brain emulator.

Every command goes through testinfra's podman backend (``podman exec``), not through ansible
(toolchain §10 P5). The container shares the host's network: the brain emulator is at
M8TRX_BRAIN_URL, and the stub brains this file starts inside the container listen on the same
127.0.0.1.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import re
import secrets
import shlex
import textwrap
import time
import urllib.request
from pathlib import Path

import pytest
import testinfra.utils.ansible_runner

testinfra_hosts = [
    "podman://" + name
    for name in testinfra.utils.ansible_runner.AnsibleRunner(
        os.environ["MOLECULE_INVENTORY_FILE"]
    ).get_hosts("all")
]

ROLE_FILES = Path(os.environ["MOLECULE_PROJECT_DIRECTORY"]) / "roles" / "brain_heartbeat" / "files"
SCRIPT = "/usr/local/bin/m8trx-brain-heartbeat"
SERVICE = "m8trx-brain-heartbeat.service"
TIMER = "m8trx-brain-heartbeat.timer"
ENV_FILE = "/etc/m8trx/brain.env"
STUB_UNIT = "m8trx-mol-hb-stub"
WORK = "/root/m8trx-mol-hb"

# A brain stand-in (python3 stdlib only) that records each request (path, Authorization, body) as
# one JSON line, waits --delay seconds, then answers 201 like the brain. With --cert it speaks TLS.
STUB = textwrap.dedent(
    """
    import argparse, http.server, json, ssl, time
    ap = argparse.ArgumentParser()
    ap.add_argument("--delay", type=float, default=0.0)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--record", required=True)
    ap.add_argument("--cert")
    ap.add_argument("--key")
    args = ap.parse_args()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with open(args.record, "a") as fh:
                fh.write(json.dumps({"path": self.path,
                                     "authorization": self.headers.get("Authorization"),
                                     "body": body.decode()}) + "\\n")
            time.sleep(args.delay)
            out = b'{"event_id": 4242}'
            self.send_response(201)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        def log_message(self, *_):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    if args.cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.cert, args.key)
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    with open(args.port_file, "w") as fh:
        fh.write(str(server.server_address[1]))
    server.serve_forever()
    """
)


def brain_admin(path):
    request = urllib.request.Request(
        os.environ["M8TRX_BRAIN_URL"] + path,
        headers={"Authorization": "Bearer " + os.environ["M8TRX_BRAIN_ADMIN_TOKEN"]},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def heartbeats(customer_id):
    return brain_admin("/admin/customers/%s/events?event_type=heartbeat&limit=1000" % customer_id)


def parse_env(text):
    env = {}
    for line in text.splitlines():
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            env[key] = value
    return env


def put_file(host, path, content, mode="0600"):
    """Write a file in the container (as base64 on the exec command line: test data and throwaway keys only)."""
    encoded = base64.b64encode(content.encode()).decode()
    host.check_output(
        "umask 077 && printf %%s %s | base64 -d > %s && chmod %s %s"
        % (shlex.quote(encoded), shlex.quote(path), mode, shlex.quote(path))
    )


# every throwaway key a test hands to the script, for the final journal check
FAKE_KEYS = []


def fake_key():
    key = "brk_test_" + secrets.token_urlsafe(24)
    FAKE_KEYS.append(key)
    return key


def start_service(host):
    """Start the heartbeat service once; return (systemctl rc, exit status, its journal lines)."""
    result = host.run("systemctl start %s" % SERVICE)
    props = dict(
        line.split("=", 1)
        for line in host.check_output("systemctl show -p ExecMainStatus -p InvocationID %s" % SERVICE).splitlines()
    )
    journal = ""
    for _attempt in range(50):  # journald stores the service's stderr lines asynchronously
        journal = host.check_output(
            "journalctl --no-pager -o cat _SYSTEMD_INVOCATION_ID=%s SYSLOG_IDENTIFIER=m8trx-brain-heartbeat"
            % props["InvocationID"]
        )
        if journal.strip():
            break
        time.sleep(0.1)
    return result.rc, int(props["ExecMainStatus"]), journal


@contextlib.contextmanager
def swapped_env(host, content):
    """Replace brain.env for the duration of a test; the role's file always comes back."""
    host.check_output("cp -p %s %s/brain.env.orig" % (ENV_FILE, WORK))
    try:
        put_file(host, ENV_FILE, content)
        yield
    finally:
        host.check_output("cp -p %s/brain.env.orig %s" % (WORK, ENV_FILE))


def read_records(host, name):
    text = host.file("%s/%s" % (WORK, name)).content_string
    return [json.loads(line) for line in text.splitlines() if line]


@pytest.fixture(scope="module", autouse=True)
def workdir(host):
    """A root-only scratch directory in the container for stub files and saved configs."""
    host.check_output("rm -rf %s && mkdir -m 0700 %s" % (WORK, WORK))
    return WORK


@pytest.fixture(scope="module")
def brain_env(host):
    return parse_env(host.file(ENV_FILE).content_string)


@pytest.fixture(scope="module")
def hostname(host):
    return host.check_output("uname -n")


@pytest.fixture(scope="module")
def stubs(host):
    """Start a slow plain-HTTP stub brain and a TLS one; yield their ports and the TLS key's pin."""
    put_file(host, WORK + "/stub.py", STUB)
    host.check_output(
        "cd %s && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 "
        "-subj /CN=127.0.0.1 -keyout tls.key -out tls.crt 2>/dev/null" % WORK
    )
    pin = host.check_output(
        "openssl x509 -in %s/tls.crt -pubkey -noout | openssl pkey -pubin -outform der "
        "| openssl dgst -sha256 -binary | base64" % WORK
    )
    for name, extra in (("plain", "--delay 3"), ("tls", "--cert tls.crt --key tls.key")):
        unit = "%s-%s" % (STUB_UNIT, name)
        host.run("systemctl stop %s; systemctl reset-failed %s" % (unit, unit))
        host.check_output(
            "systemd-run --unit %s --working-directory %s python3 stub.py --port-file %s.port --record %s.jsonl %s"
            % (unit, WORK, name, name, extra)
        )
    ports = {}
    for name in ("plain", "tls"):
        for _attempt in range(50):
            if host.file("%s/%s.port" % (WORK, name)).exists:
                break
            time.sleep(0.1)
        ports[name] = int(host.file("%s/%s.port" % (WORK, name)).content_string)
    yield {"plain": ports["plain"], "tls": ports["tls"], "pin": pin}
    for name in ("plain", "tls"):
        host.run("systemctl stop %s-%s" % (STUB_UNIT, name))


def run_script(host, env_text, *args):
    """Run the script directly with a config of its own (M8TRX_BRAIN_ENV)."""
    put_file(host, WORK + "/test.env", env_text)
    return host.run(
        "M8TRX_BRAIN_ENV=%s/test.env %s %s" % (WORK, SCRIPT, " ".join(shlex.quote(a) for a in args))
    )


# --- what the role installed -------------------------------------------------------------------


@pytest.mark.parametrize(
    "path, source, mode",
    [
        (SCRIPT, "m8trx-brain-heartbeat", 0o755),
        ("/etc/systemd/system/" + SERVICE, SERVICE, 0o644),
        ("/etc/systemd/system/" + TIMER, TIMER, 0o644),
    ],
)
def test_trio_is_the_role_files_byte_for_byte(host, path, source, mode):
    installed = host.file(path)
    assert installed.is_file
    assert (installed.user, installed.group, installed.mode) == ("root", "root", mode)
    assert installed.sha256sum == hashlib.sha256((ROLE_FILES / source).read_bytes()).hexdigest()


def test_units_pass_systemd_analyze_verify(host):
    result = host.run("systemd-analyze verify /etc/systemd/system/%s /etc/systemd/system/%s" % (SERVICE, TIMER))
    assert result.rc == 0, result.stderr


def test_no_interval_drop_in_at_the_default_interval(host):
    assert not host.file("/etc/systemd/system/%s.d/interval.conf" % TIMER).exists


def test_packages(host):
    assert host.package("curl").is_installed
    assert host.package("ca-certificates").is_installed


def test_brain_env_is_root_only(host, brain_env):
    directory, env = host.file("/etc/m8trx"), host.file(ENV_FILE)
    assert (directory.user, directory.group, directory.mode) == ("root", "root", 0o700)
    assert (env.user, env.group, env.mode) == ("root", "root", 0o600)
    assert env.content_string.startswith("#")  # the ansible_managed comment
    assert brain_env["BRAIN_URL"] == os.environ["M8TRX_BRAIN_URL"]
    assert re.fullmatch(r"cust_mol_hb_[a-z0-9]{10}", brain_env["BRAIN_CUSTOMER_ID"])
    assert brain_env["BRAIN_API_KEY"].startswith("brk_")
    assert "BRAIN_SPKI_PIN" not in brain_env


def test_service_takes_nothing_from_the_environment(host):
    # the key must not reach the service's environment (ps e, /proc/<pid>/environ)
    show = host.check_output("systemctl show -p Environment -p EnvironmentFiles -p LoadCredential %s" % SERVICE)
    assert "brain.env" not in show and "BRAIN_" not in show, show


def test_timer_enabled_and_active(host):
    timer = host.service(TIMER)
    assert timer.is_enabled
    assert timer.is_running
    triggers = host.check_output("systemctl show -p TimersMonotonic %s" % TIMER)
    assert "OnUnitActiveUSec=5min" in triggers and "OnBootUSec=1min" in triggers


# --- the real service against the brain emulator ----------------------------------------------


def test_service_run_reaches_the_brain(host, brain_env, hostname):
    customer = brain_env["BRAIN_CUSTOMER_ID"]
    before = max((event["id"] for event in heartbeats(customer)), default=0)
    rc, status, journal = start_service(host)
    assert (rc, status) == (0, 0), journal
    assert "heartbeat sent to %s: HTTP 201" % os.environ["M8TRX_BRAIN_URL"] in journal
    new = [event for event in heartbeats(customer) if event["id"] > before]
    assert new, "no new heartbeat for %s in the brain emulator" % customer
    event = new[-1]
    payload = event["payload"]
    assert event["hostname"] == payload["hostname"] == hostname
    assert payload["customer_id"] == customer
    assert isinstance(payload["uptime_s"], int) and payload["uptime_s"] > 0
    assert len(payload["load"]) == 3 and all(isinstance(x, (int, float)) for x in payload["load"])
    assert payload["tailscale"] == "absent"


def test_wrong_key_exits_4_and_logs_without_the_key(host, brain_env):
    wrong = fake_key()
    env = "BRAIN_URL=%s\nBRAIN_API_KEY=%s\nBRAIN_CUSTOMER_ID=%s\n" % (
        brain_env["BRAIN_URL"], wrong, brain_env["BRAIN_CUSTOMER_ID"])
    with swapped_env(host, env):
        rc, status, journal = start_service(host)
    assert rc != 0
    assert status == 4, journal
    assert "rejected the heartbeat: HTTP 401" in journal
    assert len(journal.strip().splitlines()) == 1, journal
    assert wrong not in journal and brain_env["BRAIN_API_KEY"] not in journal
    # the role's brain.env is back and works again
    assert start_service(host)[:2] == (0, 0)


def test_key_not_in_process_list_during_a_run(host, stubs, hostname):
    key = fake_key()
    env = "BRAIN_URL=http://127.0.0.1:%d\nBRAIN_API_KEY=%s\nBRAIN_CUSTOMER_ID=cust_mol_hb_stub\n" % (
        stubs["plain"], key)
    with swapped_env(host, env):
        host.check_output("systemctl start --no-block %s" % SERVICE)
        # the stub holds the request for 3 s: catch curl in flight, with every process's environment
        snapshot = ""
        for _attempt in range(50):
            snapshot = host.check_output("ps auxeww")
            if re.search(r"\bcurl\b.*/v1/events", snapshot):
                break
            time.sleep(0.1)
        cmdlines = host.check_output(
            "for p in /proc/[0-9]*; do cat $p/cmdline $p/environ 2>/dev/null | tr '\\0' ' '; echo; done"
        )
        for _attempt in range(100):
            if host.run("systemctl is-active --quiet %s" % SERVICE).rc != 0:
                break
            time.sleep(0.1)
        status = host.check_output("systemctl show -p ExecMainStatus --value %s" % SERVICE)
    assert re.search(r"\bcurl\b.*/v1/events", snapshot), "never saw curl running:\n" + snapshot
    assert key not in snapshot
    assert key not in cmdlines
    assert status == "0"
    record = read_records(host, "plain.jsonl")[-1]
    assert record["path"] == "/v1/events"
    assert record["authorization"] == "Bearer " + key  # sent, just never visible
    body = json.loads(record["body"])
    assert body["event_type"] == "heartbeat"
    assert body["payload"]["hostname"] == hostname
    assert body["payload"]["customer_id"] == "cust_mol_hb_stub"


def test_tailscale_state_is_reported(host, stubs):
    fake = "#!/bin/sh\nprintf '{\\n  \"Version\": \"1.80.0\",\\n  \"BackendState\": \"Running\",\\n  \"Peer\": {}\\n}\\n'\n"
    put_file(host, "/usr/local/bin/tailscale", fake, mode="0755")
    try:
        result = run_script(host, "BRAIN_URL=http://127.0.0.1:%d\nBRAIN_API_KEY=%s\n" % (stubs["plain"], fake_key()))
    finally:
        host.check_output("rm -f /usr/local/bin/tailscale")
    assert result.rc == 0, result.stderr
    body = json.loads(read_records(host, "plain.jsonl")[-1]["body"])
    assert body["payload"]["tailscale"] == "Running"
    assert body["payload"]["customer_id"] is None


# --- the script's exit codes ------------------------------------------------------------------


def test_pinned_tls_with_the_right_pin(host, stubs):
    key = fake_key()
    result = run_script(host, "BRAIN_URL=https://127.0.0.1:%d\nBRAIN_API_KEY=%s\nBRAIN_SPKI_PIN=%s\n" % (
        stubs["tls"], key, stubs["pin"]))
    assert result.rc == 0, result.stderr
    assert "HTTP 201, event 4242" in result.stderr
    assert read_records(host, "tls.jsonl")[-1]["authorization"] == "Bearer " + key


def test_pinned_tls_rotation_list_with_the_right_pin_second(host, stubs):
    other = base64.b64encode(hashlib.sha256(b"old key").digest()).decode()
    result = run_script(host, "BRAIN_URL=https://127.0.0.1:%d\nBRAIN_API_KEY=%s\nBRAIN_SPKI_PIN=%s;sha256//%s\n" % (
        stubs["tls"], fake_key(), other, stubs["pin"]))
    assert result.rc == 0, result.stderr


def test_pinned_tls_with_a_wrong_pin_exits_3_before_sending(host, stubs):
    sent = len(read_records(host, "tls.jsonl"))
    wrong = base64.b64encode(hashlib.sha256(b"not the key").digest()).decode()
    key = fake_key()
    result = run_script(host, "BRAIN_URL=https://127.0.0.1:%d\nBRAIN_API_KEY=%s\nBRAIN_SPKI_PIN=%s\n" % (
        stubs["tls"], key, wrong))
    assert result.rc == 3, result.stderr
    assert "curl 90" in result.stderr
    assert key not in result.stderr + result.stdout
    assert len(read_records(host, "tls.jsonl")) == sent


def test_unpinned_tls_to_a_self_signed_brain_exits_3(host, stubs):
    result = run_script(host, "BRAIN_URL=https://127.0.0.1:%d\nBRAIN_API_KEY=%s\n" % (stubs["tls"], fake_key()))
    assert result.rc == 3, result.stderr


def test_unreachable_brain_exits_3(host):
    result = run_script(host, "BRAIN_URL=http://127.0.0.1:9\nBRAIN_API_KEY=%s\n" % fake_key())
    assert result.rc == 3, result.stderr
    assert "network or TLS error" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "env_text, message",
    [
        (None, "is missing"),
        ("BRAIN_API_KEY=brk_abc\n", "BRAIN_URL is not set"),
        ("BRAIN_URL=http://127.0.0.1:9\n", "BRAIN_API_KEY is not set"),
        ("BRAIN_URL=ftp://127.0.0.1\nBRAIN_API_KEY=brk_abc\n", "not an http(s) URL"),
        ("BRAIN_URL=http://user:pw@127.0.0.1\nBRAIN_API_KEY=brk_abc\n", "not an http(s) URL"),
        ("BRAIN_URL=http://127.0.0.1:9\nBRAIN_API_KEY=brk_a\"b\n", "characters a bearer token cannot have"),
        ("BRAIN_URL=http://127.0.0.1:9\nBRAIN_API_KEY=brk_abc\nBRAIN_CUSTOMER_ID=acme\n", "BRAIN_CUSTOMER_ID"),
        ("BRAIN_URL=http://127.0.0.1:9\nBRAIN_API_KEY=brk_abc\nBRAIN_SPKI_PIN=%s\n" % ("A" * 43 + "="),
         "BRAIN_URL is not https"),
        ("BRAIN_URL=https://127.0.0.1:9\nBRAIN_API_KEY=brk_abc\nBRAIN_SPKI_PIN=abc\n", "not a base64 SHA-256"),
        ("BRAIN_URL=http://127.0.0.1:9\nthis line has no equals sign\n", "line 2 is not KEY=VALUE"),
    ],
)
def test_bad_config_exits_2(host, env_text, message):
    if env_text is None:
        result = host.run("M8TRX_BRAIN_ENV=%s/does-not-exist %s" % (WORK, SCRIPT))
    else:
        result = run_script(host, env_text)
    assert result.rc == 2, result.stderr
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_check_config_accepts_the_role_brain_env(host):
    result = host.run("%s --check-config" % SCRIPT)
    assert result.rc == 0, result.stderr
    assert "is valid" in result.stderr


def test_quoted_values_and_comments_parse(host, stubs):
    result = run_script(host, "# comment\n\nexport BRAIN_URL=\"http://127.0.0.1:%d/\"\nBRAIN_API_KEY='%s'\r\n" % (
        stubs["plain"], fake_key()))
    assert result.rc == 0, result.stderr


# --- last: after all the runs above, no key anywhere in the journal --------------------------------


def test_no_key_anywhere_in_the_journal(host, brain_env):
    journal = host.check_output("journalctl --no-pager -o verbose")
    assert "heartbeat sent to" in journal and "rejected the heartbeat" in journal  # it holds the runs
    assert FAKE_KEYS
    for key in [brain_env["BRAIN_API_KEY"]] + FAKE_KEYS:
        assert key not in journal
