"""Benchmark: m8trx.deployer.ssm_bundle vs a loop of community.aws.ssm_parameter over the same six parameters.

Not a test. Run from anywhere: ``.venv/bin/python bench/ssm_bundle.py [--repeat N]``.

How calls are counted: the bench starts its own moto server in this process (not the shared sandbox
one, which it never touches) behind a WSGI wrapper that counts every HTTP request by its
``X-Amz-Target`` header (``AmazonSSM.PutParameter``, ``TrentService.DescribeKey``...). Each scenario is
an ``ansible-playbook`` run against that server, so the counts are exactly the AWS API calls the
modules made (botocore retries would show up as extra requests). Wall time is the whole
``ansible-playbook`` run; a one-task ``debug`` playbook gives the fixed cost of starting Ansible.

Scenarios (each on its own path, values random): first run (six creates), no-op run (repeated,
median time), one value changed.
"""

from __future__ import annotations

import argparse
import collections
import json
import logging
import os
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import boto3
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server

REPO = Path(__file__).resolve().parents[1]
REGION = "us-east-2"
SECURE = ("brain-key", "tailscale-auth-key", "agent-fetch-pat", "agent-ui-password")
NAMES = ("brain-key", "brain-customer-id", "brain-url", "tailscale-auth-key", "agent-fetch-pat", "agent-ui-password")

PLAYBOOKS = {
    "baseline": """
- hosts: localhost
  gather_facts: false
  tasks:
    - ansible.builtin.debug: {msg: baseline}
""",
    "ssm_bundle": """
- hosts: localhost
  gather_facts: false
  tasks:
    - m8trx.deployer.ssm_bundle:
        path: "{{ path }}"
        key_id: "{{ key_id }}"
        parameters: "{{ params }}"
""",
    "ssm_parameter loop": """
- hosts: localhost
  gather_facts: false
  tasks:
    - community.aws.ssm_parameter:
        name: "{{ path }}{{ item.name }}"
        value: "{{ item.value }}"
        string_type: "{{ item.type }}"
        key_id: "{{ key_id if item.type == 'SecureString' else omit }}"
      loop: "{{ params }}"
      loop_control: {label: "{{ item.name }}"}
      no_log: true
""",
}


class CountingApp:
    """WSGI middleware: counts requests by X-Amz-Target (the AWS JSON-protocol operation)."""

    def __init__(self, app):
        self.app, self.lock, self.counts = app, threading.Lock(), collections.Counter()

    def __call__(self, environ, start_response):
        if not environ.get("PATH_INFO", "").startswith("/moto-api"):
            with self.lock:
                self.counts[environ.get("HTTP_X_AMZ_TARGET") or "%s %s" % (environ["REQUEST_METHOD"], environ["PATH_INFO"])] += 1
        return self.app(environ, start_response)

    def take(self):
        with self.lock:
            counts, self.counts = self.counts, collections.Counter()
        return counts


def start_moto():
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    app = CountingApp(DomainDispatcherApplication(create_backend_app))
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=MotoRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, app, "http://127.0.0.1:%d" % server.server_address[1]


def run_playbook(workdir, name, env, extra):
    varsfile = workdir / "vars.json"
    varsfile.write_text(json.dumps(extra))
    varsfile.chmod(0o600)
    playbook = workdir / ("%s.yml" % name.replace(" ", "_"))
    playbook.write_text(PLAYBOOKS[name])
    start = time.monotonic()
    proc = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,", "-c", "local",
                           "-e", "ansible_python_interpreter=%s" % sys.executable, "-e", "@%s" % varsfile, str(playbook)],
                          cwd=REPO, env=env, capture_output=True, text=True, check=False)
    elapsed = time.monotonic() - start
    if proc.returncode != 0:
        sys.exit("%s failed:\n%s" % (name, proc.stdout[-3000:] + proc.stderr[-2000:]))
    changed = int(re.search(r"changed=(\d+)", proc.stdout).group(1))
    return elapsed, changed


def fmt_counts(counts):
    return ", ".join("%s %d" % (op.split(".")[-1], n) for op, n in sorted(counts.items())) or "-"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="no-op runs per module (median wall time); default 3")
    args = parser.parse_args()

    server, counter, url = start_moto()
    env = dict(os.environ, AWS_ENDPOINT_URL=url, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
               AWS_DEFAULT_REGION=REGION, AWS_REGION=REGION, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"),
               ANSIBLE_HOME=str(REPO / ".cache" / "ansible-home"), ANSIBLE_FORCE_COLOR="0", ANSIBLE_DEPRECATION_WARNINGS="0",
               PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    env.pop("AWS_URL", None)
    env.pop("AWS_PROFILE", None)
    kms = boto3.client("kms", endpoint_url=url, region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing")
    key_id = kms.create_key(Description="ssm_bundle bench")["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName="alias/m8trx-bench", TargetKeyId=key_id)

    rows, results = [], {}
    with tempfile.TemporaryDirectory(prefix="ssm-bench-") as tmp:
        workdir = Path(tmp)
        counter.take()
        baseline = statistics.median(run_playbook(workdir, "baseline", env, {})[0] for _ in range(args.repeat))
        counter.take()
        for module in ("ssm_bundle", "ssm_parameter loop"):
            values = dict((n, secrets.token_urlsafe(24)) for n in NAMES)
            extra = dict(path="/m8trx/bench-%s/" % module.split()[0].replace("_", "-"), key_id="alias/m8trx-bench")

            def params():
                return [dict(name=n, value=values[n], type="SecureString" if n in SECURE else "String") for n in NAMES]

            runs = []
            elapsed, changed = run_playbook(workdir, module, env, dict(extra, params=params()))
            runs.append(("first run (6 creates)", elapsed, changed, counter.take()))
            noop = []
            for _ in range(args.repeat):
                noop.append(run_playbook(workdir, module, env, dict(extra, params=params())) + (counter.take(),))
            runs.append(("no-op run (median of %d)" % args.repeat, statistics.median(r[0] for r in noop),
                         max(r[1] for r in noop), noop[0][2]))
            values["tailscale-auth-key"] = secrets.token_urlsafe(24)
            elapsed, changed = run_playbook(workdir, module, env, dict(extra, params=params()))
            runs.append(("one value changed", elapsed, changed, counter.take()))
            results[module] = runs
            for label, elapsed, changed, counts in runs:
                rows.append((module, label, sum(counts.values()), elapsed, elapsed - baseline, changed, fmt_counts(counts)))
    server.shutdown()

    print("ansible-playbook fixed cost (one debug task, median of %d): %.2f s" % (args.repeat, baseline))
    print("%-20s %-26s %6s %8s %8s %8s  %s" % ("module", "run", "calls", "wall s", "net s", "changed", "calls by operation"))
    for module, label, calls, wall, net, changed, detail in rows:
        print("%-20s %-26s %6d %8.2f %8.2f %8s  %s" % (module, label, calls, wall, net, "yes" if changed else "no", detail))
    print("\nratios (ssm_parameter loop / ssm_bundle):")
    for i, (label, _, _, _) in enumerate(results["ssm_bundle"]):
        ours, peer = results["ssm_bundle"][i], results["ssm_parameter loop"][i]
        print("  %-26s API calls %5.1fx   wall %4.1fx   net wall %4.1fx" % (
            label, sum(peer[3].values()) / max(1, sum(ours[3].values())), peer[1] / ours[1],
            (peer[1] - baseline) / max(0.01, ours[1] - baseline)))


if __name__ == "__main__":
    main()
