"""Benchmark: m8trx.deployer.tailscale_acl for 50 customers - one batched call vs one call per customer.

Not a test. Needs the sandbox (``make sandbox-up``); run ``.venv/bin/python bench/tailscale_acl.py``.

Each scenario is one ``ansible-playbook`` run with ``.sandbox/env`` in the environment, against the shared
Tailscale emulator (never reset, never seeded: every write goes through the module's ETag-guarded path):

* ``batched``: one task, ``customers:`` the 50 names;
* ``per customer``: the same module in a 50-item loop, one customer per task (how a per-customer deploy
  role would call it).

Each scenario runs twice: the first run adds the 50 customers' entries, the second finds nothing to do.
API calls are the emulator's request log entries for the policy file (``GET``/``POST .../acl`` and
``POST .../acl/validate``) between two marks; wall time is the whole ``ansible-playbook`` run. Correct
means: all 50 customers' tags are in ``tagOwners`` with their 3 rules afterwards, and everything else in
the policy text is unchanged. Every customer is removed again at the end (one batched ``state: absent``).

The runs use ``remove_allow_all: true`` so they work on a fresh sandbox, whose default policy holds the
allow-all rule (the module refuses to report isolation otherwise); on the shared emulator that drops the
allow-all rule, an ETag-guarded edit like any other.
"""

from __future__ import annotations

import json
import re
import secrets
import sys
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))
from _common import read_env, run_playbook  # noqa: E402
CUSTOMERS = 50
ACL_PATH = re.compile(r"^/api/v2/tailnet/[^/]+/acl(/validate)?$")

PLAYBOOKS = {
    "batched": """
- hosts: localhost
  gather_facts: false
  tasks:
    - m8trx.deployer.tailscale_acl:
        customers: "{{ names }}"
        state: "{{ state }}"
        remove_allow_all: true
""",
    "per customer": """
- hosts: localhost
  gather_facts: false
  tasks:
    - m8trx.deployer.tailscale_acl:
        customers: ["{{ item }}"]
        state: "{{ state }}"
        remove_allow_all: true
      loop: "{{ names }}"
""",
}



class Emulator:
    def __init__(self, env):
        self.base, self.key = env["TAILSCALE_BASE_URL"].rstrip("/"), env["TAILSCALE_API_KEY"]

    def _get(self, url, headers=None):
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=30) as resp:
            return resp.read().decode()

    def log_length(self):
        return len(json.loads(self._get(self.base + "/_emulator/requests")))

    def calls_since(self, mark):
        entries = json.loads(self._get(self.base + "/_emulator/requests"))[mark:]
        return [e for e in entries if ACL_PATH.match(e["path"])]

    def policy(self):
        return self._get(self.base + "/api/v2/tailnet/-/acl",
                         {"Authorization": "Bearer " + self.key, "Accept": "application/hujson"})



def owned_lines(text, names):
    tags = tuple("tag:m8trx-cust-%s\"" % n for n in names) + tuple("tag:m8trx-cust-%s:" % n for n in names)
    return [line for line in text.split("\n") if any(t in line for t in tags)]


def run_or_exit(label, text, names, state, env):
    proc, seconds = run_playbook(text, {"names": names, "state": state}, env)
    if proc.returncode != 0:
        sys.exit("%s failed:\n%s" % (label, proc.stdout[-3000:]))
    return seconds


def scenario(emu, env, label, names):
    """Two runs of one scenario; whether the result was right (compared line by line, a trailing comma aside:
    the module adds one after a last item that had none)."""
    # present then absent: the platform's own tag owners (tag:m8trx-brain, …) exist and an allow-all rule is
    # gone, so that what the measured runs change is only the customers' entries
    run_or_exit("preparing " + label, PLAYBOOKS["batched"], names, "present", env)
    run_or_exit("preparing " + label, PLAYBOOKS["batched"], names, "absent", env)
    before = emu.policy()
    rows = []
    for attempt in ("first run", "second run"):
        mark = emu.log_length()
        seconds = run_or_exit("%s (%s)" % (label, attempt), PLAYBOOKS[label], names, "present", env)
        calls = emu.calls_since(mark)
        rows.append(dict(label=label, run=attempt, seconds=seconds, calls=len(calls),
                         gets=len([c for c in calls if c["method"] == "GET"]),
                         validates=len([c for c in calls if c["path"].endswith("/validate")]),
                         writes=len([c for c in calls if c["method"] == "POST" and not c["path"].endswith("/validate")]),
                         conflicts=len([c for c in calls if c["status"] == 412])))
    after = emu.policy()
    added = owned_lines(after, names)
    rest = [line.rstrip(",") for line in after.split("\n") if line not in added]
    correct = len(added) == 4 * len(names) and rest == [line.rstrip(",") for line in before.split("\n")]
    run_or_exit("cleanup of " + label, PLAYBOOKS["batched"], names, "absent", env)
    return rows, correct


def main():
    env = read_env()
    if not env:
        sys.exit("no .sandbox/env: run `make sandbox-up` first")
    emu = Emulator(env)
    run = secrets.token_hex(3)
    results, verdicts = [], {}
    for label, tag in (("batched", "b"), ("per customer", "l")):
        names = ["aclbench-%s-%s%02d" % (run, tag, i) for i in range(CUSTOMERS)]
        rows, correct = scenario(emu, env, label, names)
        results.extend(rows)
        verdicts[label] = correct
    print("tailscale_acl, %d customers (API calls = policy-file requests in the emulator log)\n" % CUSTOMERS)
    print("%-13s %-11s %6s %5s %9s %6s %4s %8s" % ("scenario", "run", "calls", "GET", "validate", "write", "412", "seconds"))
    for r in results:
        print("%-13s %-11s %6d %5d %9d %6d %4d %8.1f" % (r["label"], r["run"], r["calls"], r["gets"], r["validates"],
                                                         r["writes"], r["conflicts"], r["seconds"]))
    first = dict((r["label"], r) for r in results if r["run"] == "first run")
    again = dict((r["label"], r) for r in results if r["run"] == "second run")
    print()
    print("API calls, per customer / batched: first run %.1fx (%d vs %d), no-op run %.1fx (%d vs %d)" % (
        first["per customer"]["calls"] / float(first["batched"]["calls"]), first["per customer"]["calls"], first["batched"]["calls"],
        again["per customer"]["calls"] / float(again["batched"]["calls"]), again["per customer"]["calls"], again["batched"]["calls"]))
    print("wall time, per customer / batched: first run %.1fx" % (first["per customer"]["seconds"] / first["batched"]["seconds"]))
    print("correct (all entries present, nothing else changed): %s" % ", ".join(
        "%s %s" % (label, "yes" if ok else "NO") for label, ok in verdicts.items()))
    return 0 if all(verdicts.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
