"""Benchmark: m8trx.deployer.cf_dns vs community.general.cloudflare_dns - upsert 300 A records into a zone
that already holds 1,000 records, at the sandbox's page size of 100.

Not a test. Needs the sandbox (``make sandbox-up``); run ``.venv/bin/python bench/cf_dns.py``.

Each tool gets zones of its own on the shared Cloudflare emulator (``POST /_emulator/cloudflare/zones``,
never a reset), seeded through the batch API with the same 1,000 records (900 A, 50 CNAME, 50 TXT, no
ownership comment). Scenarios, each one ``ansible-playbook`` run with ``.sandbox/env`` in the environment:

* ``cf_dns``: one task, ``records:`` the 300 (one call per write);
* ``cf_dns bulk``: the same with ``bulk: true`` (batch endpoint, 200 operations per request on Free zones);
* ``cloudflare_dns``: community.general's module in a 300-item loop (it manages one record per task).

API calls are the emulator's request log for the zone (every request whose path holds the zone id, plus the
``GET /zones?name=`` lookups by the zone's name). Wall time is the whole ``ansible-playbook`` run. Correct means:
each of the 300 names has exactly one A record with the right address, and the 1,000 seeded records are
byte-for-byte what they were (same ids, contents, comments, modified_on). Each scenario then runs a second
time (nothing to change) to show the cost of a no-op run.

community.general.cloudflare_dns hard-codes ``cf_api_endpoint = 'https://api.cloudflare.com/client/v4'`` as a
class attribute and has no option or environment variable for the URL. The bench copies the installed module
to a temporary ``library/`` directory, rewrites only that line to read ``CLOUDFLARE_BASE_URL`` from the
environment (the emulator), and runs the copy as ``cloudflare_dns_emu``; nothing else in it changes. Its token
option reads ``CLOUDFLARE_TOKEN``, which the bench sets from ``CLOUDFLARE_API_TOKEN``.
"""

from __future__ import annotations

import json
import secrets
import sys
import tempfile
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))
from _common import read_env, run_playbook  # noqa: E402
CG_MODULE = REPO / ".venv/collections/ansible_collections/community/general/plugins/modules/cloudflare_dns.py"
ENDPOINT_LINE = "    cf_api_endpoint = 'https://api.cloudflare.com/client/v4'\n"
SEEDED, UPSERTS, MARKER = 1000, 300, "m8trx-managed:customer"

PLAYBOOKS = {
    "cf_dns": """
- hosts: localhost
  gather_facts: false
  tasks:
    - m8trx.deployer.cf_dns:
        zone_id: "{{ zone_id }}"
        records: "{{ records }}"
        bulk: %s
""",
    "cloudflare_dns": """
- hosts: localhost
  gather_facts: false
  tasks:
    - cloudflare_dns_emu:
        zone: "{{ zone }}"
        record: "{{ item.name }}"
        type: A
        value: "{{ item.content }}"
        ttl: 1
        proxied: false
        comment: %s
      loop: "{{ records }}"
      loop_control: {label: "{{ item.name }}"}
""" % MARKER,
}



class Emulator:
    def __init__(self, env):
        self.api, self.token = env["CLOUDFLARE_BASE_URL"].rstrip("/"), env["CLOUDFLARE_API_TOKEN"]
        self.root = self.api.rsplit("/client/v4", 1)[0]

    def call(self, method, url, body=None, auth=False):
        headers = {"Content-Type": "application/json"}
        if auth:
            headers["Authorization"] = "Bearer " + self.token
        data = None if body is None else json.dumps(body).encode()
        with urllib.request.urlopen(urllib.request.Request(url, data=data, headers=headers, method=method), timeout=60) as resp:
            return json.loads(resp.read() or b"null")

    def add_zone(self, name):
        return self.call("POST", self.root + "/_emulator/cloudflare/zones", {"name": name, "plan": "free"})["id"]

    def seed(self, zone_id, zone):
        posts = []
        for i in range(SEEDED):
            if i % 20 == 1:
                posts.append({"type": "CNAME", "name": "alias%04d.%s" % (i, zone), "content": "lb.example.net"})
            elif i % 20 == 2:
                posts.append({"type": "TXT", "name": "txt%04d.%s" % (i, zone), "content": "v=bench%d" % i})
            else:
                posts.append({"type": "A", "name": "host%04d.%s" % (i, zone), "content": "192.0.2.%d" % (i % 250 + 1)})
        for start in range(0, len(posts), 200):
            self.call("POST", "%s/zones/%s/dns_records/batch" % (self.api, zone_id), {"posts": posts[start:start + 200]}, auth=True)

    def records(self, zone_id):
        return [r for r in self.call("GET", self.root + "/_emulator/cloudflare/records") if r["zone_id"] == zone_id]

    def log_length(self):
        return len(self.call("GET", self.root + "/_emulator/requests"))

    def calls_since(self, mark, zone_id, zone):
        log = self.call("GET", self.root + "/_emulator/requests")[mark:]
        return [e for e in log if zone_id in e["path"] or (e["path"].rstrip("/").endswith("/zones") and zone in e["query"])]



def patched_library(tmp):
    source = CG_MODULE.read_text()
    if ENDPOINT_LINE not in source:
        sys.exit("community.general.cloudflare_dns no longer has the line the bench rewrites: %r" % ENDPOINT_LINE)
    lib = Path(tmp, "library")
    lib.mkdir()
    patched = source.replace(ENDPOINT_LINE, "    cf_api_endpoint = __import__('os').environ['CLOUDFLARE_BASE_URL'].rstrip('/')\n")
    (lib / "cloudflare_dns_emu.py").write_text(patched)
    return str(lib)


def verify(emu, zone_id, seeded, wanted):
    now = emu.records(zone_id)
    by_id = dict((r["id"], r) for r in now)
    untouched = all(by_id.get(r["id"]) == r for r in seeded) and len(seeded) == SEEDED
    ok = True
    for item in wanted:
        found = [r for r in now if r["name"] == item["fqdn"] and r["type"] == "A"]
        ok = ok and len(found) == 1 and found[0]["content"] == item["content"]
    extra = len(now) - SEEDED - UPSERTS
    return ok and untouched and extra == 0, "300 once: %s, 1000 untouched: %s, extra records: %d" % (ok, untouched, extra)


def scenario(emu, env, name, tag, library):
    zone = "cfbench-%s-%s.example" % (tag, name.replace(" ", "-").replace("_", "-"))
    zone_id = emu.add_zone(zone)
    emu.seed(zone_id, zone)
    seeded = emu.records(zone_id)
    wanted = [{"name": "cust%03d" % i, "content": "203.0.113.%d" % (i % 250 + 1)} for i in range(UPSERTS)]
    for item in wanted:
        item["fqdn"] = "%s.%s" % (item["name"], zone)
    records = [{"name": w["name"], "content": w["content"]} for w in wanted]
    text = PLAYBOOKS["cloudflare_dns"] if name == "cloudflare_dns" else PLAYBOOKS["cf_dns"] % ("true" if "bulk" in name else "false")
    out = {}
    for run in ("first", "again"):
        mark = emu.log_length()
        proc, seconds = run_playbook(text, {"zone_id": zone_id, "zone": zone, "records": records}, env, library,
                                     extra_env={"CLOUDFLARE_TOKEN": env["CLOUDFLARE_API_TOKEN"]})
        calls = emu.calls_since(mark, zone_id, zone)
        if proc.returncode != 0:
            print(proc.stdout[-3000:], proc.stderr[-2000:], file=sys.stderr)
        out[run] = {"calls": len(calls), "seconds": seconds, "rc": proc.returncode,
                    "by_method": dict((m, sum(1 for c in calls if c["method"] == m)) for m in ("GET", "POST", "PATCH", "PUT", "DELETE"))}
        if run == "first":
            out["correct"], out["detail"] = verify(emu, zone_id, seeded, wanted)
    for record in emu.records(zone_id):  # leave the shared emulator as small as we found it
        emu.call("DELETE", "%s/zones/%s/dns_records/%s" % (emu.api, zone_id, record["id"]), auth=True)
    return out


def main():
    env = read_env()
    emu = Emulator(env)
    tag = secrets.token_hex(3)
    results = {}
    with tempfile.TemporaryDirectory(prefix="cfbench-lib-") as tmp:
        library = patched_library(tmp)
        for name in ("cf_dns", "cf_dns bulk", "cloudflare_dns"):
            print("running %s ..." % name, flush=True)
            results[name] = scenario(emu, env, name, tag, library)
    print("\nUpsert %d A records into a zone holding %d (per_page 100)\n" % (UPSERTS, SEEDED))
    print("%-16s %7s %9s %-40s %8s %9s  %s" % ("tool", "calls", "seconds", "calls by method (first run)", "no-op", "no-op s", "correct"))
    for name, res in results.items():
        methods = " ".join("%s=%d" % (m, n) for m, n in res["first"]["by_method"].items() if n)
        print("%-16s %7d %9.1f %-40s %8d %9.1f  %s (%s)" % (name, res["first"]["calls"], res["first"]["seconds"], methods,
                                                           res["again"]["calls"], res["again"]["seconds"],
                                                           "yes" if res["correct"] and res["first"]["rc"] == 0 else "NO",
                                                           res["detail"]))
    peer = results["cloudflare_dns"]
    print()
    for name in ("cf_dns", "cf_dns bulk"):
        ours = results[name]
        print("%s vs cloudflare_dns: %.1fx fewer API calls, %.1fx faster (first run); no-op run: %.1fx fewer calls, %.1fx faster"
              % (name, peer["first"]["calls"] / max(ours["first"]["calls"], 1), peer["first"]["seconds"] / ours["first"]["seconds"],
                 peer["again"]["calls"] / max(ours["again"]["calls"], 1), peer["again"]["seconds"] / ours["again"]["seconds"]))


if __name__ == "__main__":
    main()
