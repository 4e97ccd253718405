"""Benchmark: the deploy playbook — wall time, tasks and API calls per control plane for one
customer, the no-op re-run, and ten customers in one run with forks; prints the ratios
(no-op / first, ten customers / one customer).

Not a test. Needs the sandbox (`make sandbox-up`); uses its own customer names (bench-*) and
destroys them at the end. Run: ``.venv/bin/python bench/deploy.py [--customers 10] [--forks 10]``.

API calls are counted from the request logs of the three emulators and of the sandbox's moto
(``GET /_emulator/requests``); tasks are the PLAY RECAP's ok + failed + skipped, summed over hosts.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sandbox.launcher import read_env_file  # noqa: E402

ENV = read_env_file(REPO / ".sandbox" / "env")
PLANES = {"aws": ENV.get("AWS_ENDPOINT_URL"), "brain": ENV.get("M8TRX_BRAIN_URL"),
          "tailscale": ENV.get("TAILSCALE_BASE_URL"),
          "cloudflare": (ENV.get("CLOUDFLARE_BASE_URL") or "").rsplit("/client/v4", 1)[0]}


def requests_log(url):
    with urllib.request.urlopen(url + "/_emulator/requests", timeout=30) as response:
        return json.load(response)


def counts():
    return dict((plane, len(requests_log(url))) for plane, url in PLANES.items())


def inventory(tmp, names):
    inv = Path(tmp) / "inventory"
    shutil.rmtree(inv, ignore_errors=True)
    shutil.copytree(REPO / "inventories/sandbox/group_vars", inv / "group_vars")
    lines = ["all:", "  children:", "    customers:", "      hosts:"]
    for name in names:
        lines += ["        %s:" % name, "          m8trx_template: m8trx_agent"]
    (inv / "hosts.yml").write_text("\n".join(lines) + "\n")
    return str(inv)


def run(playbook, inv, tmp, *args):
    env = dict(os.environ, **ENV)
    env.update(ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_FORCE_COLOR="0",
               ANSIBLE_HOME=env.get("ANSIBLE_HOME", str(REPO / ".cache" / "ansible-home")))
    before, started = counts(), time.monotonic()
    proc = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), playbook, "-i", inv,
                           "-e", "customer_artifacts_dir=%s" % tmp, *args], cwd=REPO, env=env, capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, check=False)
    wall = time.monotonic() - started
    if proc.returncode:
        sys.exit("%s failed:\n%s" % (playbook, proc.stdout[-3000:]))
    after = counts()
    tasks = changed = 0
    for _host, line in re.findall(r"^(\S+)\s+:\s+(ok=.*)$", proc.stdout, re.M):
        fields = dict((k, int(v)) for k, v in re.findall(r"(\w+)=(\d+)", line))
        tasks += fields["ok"] + fields["failed"] + fields["skipped"]
        changed += fields["changed"]
    return dict(wall=wall, tasks=tasks, changed=changed, calls=dict((p, after[p] - before[p]) for p in PLANES))


def show(label, result):
    calls = " ".join("%s=%d" % (p, n) for p, n in result["calls"].items())
    print("%-28s %7.1fs  tasks=%-4d changed=%-4d %s" % (label, result["wall"], result["tasks"], result["changed"], calls))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=10)
    parser.add_argument("--forks", type=int, default=10)
    args = parser.parse_args()
    if not ENV:
        sys.exit("no .sandbox/env: run `make sandbox-up` first")
    many = ["bench-%02d" % i for i in range(args.customers)]
    with tempfile.TemporaryDirectory() as tmp:
        one_inv, many_inv = inventory(tmp + "/one", ["bench-one"]), inventory(tmp + "/many", many)
        try:
            first = run("playbooks/deploy.yml", one_inv, tmp, "-e", "customer=bench-one")
            noop = run("playbooks/deploy.yml", one_inv, tmp, "-e", "customer=bench-one")
            fleet = run("playbooks/deploy.yml", many_inv, tmp, "--forks", str(args.forks), "-e", "customer=all")
        finally:
            run("playbooks/destroy.yml", one_inv, tmp, "-e", "customer=bench-one", "-e", "destroy_confirm=bench-one")
            run("playbooks/destroy.yml", many_inv, tmp, "--forks", str(args.forks), "-e", "customer=%s" % ",".join(many),
                "-e", "destroy_confirm=%s" % ",".join(many))
    show("deploy, 1 customer", first)
    show("no-op re-run", noop)
    show("deploy, %d customers (forks %d)" % (args.customers, args.forks), fleet)
    print("ratio no-op / first:           time %.2f, API calls %.2f" % (
        noop["wall"] / first["wall"], sum(noop["calls"].values()) / float(sum(first["calls"].values()))))
    print("ratio %d customers / 1:        time %.2f (%.2f per customer), API calls %.2f" % (
        args.customers, fleet["wall"] / first["wall"], fleet["wall"] / first["wall"] / args.customers,
        sum(fleet["calls"].values()) / float(sum(first["calls"].values()))))
    per = collections.Counter()
    for plane, n in first["calls"].items():
        per[plane] = n
    print("API calls per plane, first deploy of one customer: %s" % dict(per))


if __name__ == "__main__":
    main()
