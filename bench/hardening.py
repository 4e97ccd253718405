"""Benchmark: roles/host_hardening against an unhardened container and devsec.hardening — Lynis
hardening index, OpenSCAP ANSSI-BP-028 intermediary (stock and machine-mode), playbook time of the
first run and the re-run; prints the table with devsec's numbers from
/work/shared/reference/hardening-baseline.md and the ratios (our time / devsec time).

Not a test. Needs podman and the image localhost/m8trx-debian-systemd:bookworm, nothing else (no
sandbox). Two containers, A (baseline) and B (ours), are set up identically, as the reference
describes: lynis, openscap-scanner and openssh-server from bookworm, ssg-debian/ssg-base 0.1.76 from
trixie with a priority-100 pin, and a machine-mode copy of the datastream (3 lines patched so SSG
does not treat the container as one). playbooks/harden.yml is applied to B over containers.podman.podman
with the five kernel switches off (as in molecule). The containers are removed at the end.
Run: ``.venv/bin/python bench/hardening.py [--keep] [--strategy mitogen_linear]``.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
IMAGE = "localhost/m8trx-debian-systemd:bookworm"
PREFIX = "m8trx-bench-hardening-"
DS = "/usr/share/xml/scap/ssg/content/ssg-debian12-ds.xml"
DS_MACHINE = "/root/ssg-debian12-ds-machine.xml"
PROFILE = "xccdf_org.ssgproject.content_profile_anssi_bp28_intermediary"

# devsec.hardening 10.6.0 on the same substrate (hardening-baseline.md, TL;DR and Scores)
DEVSEC = {"lynis": 69, "stock": (51, 20, 81.31), "machine": (83, 92, 54.82), "first": 295.0, "rerun": 279.0}

SETUP = r"""
set -e
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq lynis openscap-scanner openssh-server >/dev/null
echo 'deb http://deb.debian.org/debian trixie main' > /etc/apt/sources.list.d/trixie.list
printf 'Package: *\nPin: release n=trixie\nPin-Priority: 100\n' > /etc/apt/preferences.d/trixie
apt-get update -qq
apt-get install -y -qq -t trixie ssg-debian ssg-base >/dev/null
rm /etc/apt/sources.list.d/trixie.list /etc/apt/preferences.d/trixie
apt-get update -qq
sed -e 's#<unix:filepath datatype="string">/.dockerenv</unix:filepath>#<unix:filepath datatype="string">/nonexistent/.dockerenv</unix:filepath>#' \
    -e 's#<unix:filepath datatype="string">/run/.containerenv</unix:filepath>#<unix:filepath datatype="string">/nonexistent/.containerenv</unix:filepath>#' \
    -e 's#<linux:name>linux-base</linux:name>#<linux:name>base-files</linux:name>#' %(ds)s > %(machine)s
test "$(diff %(ds)s %(machine)s | grep -c '^>')" = 3
""" % {"ds": DS, "machine": DS_MACHINE}

# playbooks/harden.yml as the operator runs it, with the five kernel switches off (as in molecule)
EXTRA_VARS = """\
m8trx_template: baseline
host_hardening_sysctl_apply: false
host_hardening_auditd_service: false
host_hardening_firewall_enable: false
host_hardening_apparmor_load: false
host_hardening_usbguard_service: false
"""


def podman(*args, check=True):
    proc = subprocess.run(["podman", *args], capture_output=True, text=True, check=False)
    if check and proc.returncode:
        sys.exit("podman %s failed (%d):\n%s%s" % (" ".join(args[:3]), proc.returncode, proc.stdout[-2000:], proc.stderr[-2000:]))
    return proc


def create(name):
    podman("rm", "-f", name, check=False)
    podman("run", "-d", "--name", name, "--hostname", name, "--runtime", "runc", "--ulimit", "nofile=1024:1024",
           "--ulimit", "nproc=1024:1024", IMAGE, "/sbin/init")
    for _attempt in range(60):
        state = podman("exec", name, "systemctl", "is-system-running", check=False).stdout.strip()
        if state in ("running", "degraded"):
            break
        time.sleep(1)
    podman("exec", name, "sh", "-c", SETUP)


def lynis(name):
    out = podman("exec", name, "lynis", "audit", "system", "--quick", "--no-colors", check=False).stdout
    index = re.search(r"Hardening index : (\d+)", out)
    suggestions = re.search(r"Suggestions \((\d+)\)", out)
    warnings = re.search(r"Warnings \((\d+)\)", out)
    if not index:
        sys.exit("lynis on %s printed no hardening index:\n%s" % (name, out[-2000:]))
    return {"index": int(index.group(1)), "suggestions": int(suggestions.group(1)) if suggestions else 0,
            "warnings": int(warnings.group(1)) if warnings else 0}


def oscap_score(name, datastream):
    """pass / fail / notapplicable counts and the default XCCDF score of one evaluation."""
    proc = podman("exec", name, "oscap", "xccdf", "eval", "--profile", PROFILE, "--results", "/root/oscap.xml",
                  datastream, check=False)
    if proc.returncode not in (0, 2):  # 2: some rule failed, the normal case
        sys.exit("oscap on %s failed (%d): %s" % (name, proc.returncode, proc.stderr[-2000:]))
    results = re.findall(r"^Result\s+(\w+)$", proc.stdout, re.M)
    xml = podman("exec", name, "cat", "/root/oscap.xml").stdout
    score = re.search(r'<score system="urn:xccdf:scoring:default"[^>]*>([0-9.]+)</score>', xml)
    return {"pass": results.count("pass"), "fail": results.count("fail"),
            "notapplicable": results.count("notapplicable"), "score": float(score.group(1)) if score else float("nan")}


def play(name, tmp, strategy):
    inventory = Path(tmp) / "inventory.ini"
    inventory.write_text("%s ansible_connection=containers.podman.podman ansible_become_method=su\n" % name)
    extra_vars = Path(tmp) / "vars.yml"
    extra_vars.write_text(EXTRA_VARS)
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_FORCE_COLOR="0",
               ANSIBLE_COLLECTIONS_PATH="%s:%s" % (REPO / ".venv" / "dev-collections", REPO / ".venv" / "collections"),
               ANSIBLE_HOME=os.environ.get("ANSIBLE_HOME", str(REPO / ".cache" / "ansible-home")))
    if strategy:
        import ansible_mitogen  # noqa: PLC0415 - only with --strategy

        env["ANSIBLE_STRATEGY_PLUGINS"] = str(Path(ansible_mitogen.__file__).parent / "plugins" / "strategy")
        env["ANSIBLE_STRATEGY"] = strategy
    started = time.monotonic()
    proc = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(inventory), "-e", "@%s" % extra_vars,
                           str(REPO / "playbooks" / "harden.yml")],
                          cwd=REPO, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False)
    wall = time.monotonic() - started
    if proc.returncode:
        sys.exit("ansible-playbook failed:\n%s" % proc.stdout[-4000:])
    recap = re.search(r"^%s\s+:\s+(ok=.*)$" % re.escape(name), proc.stdout, re.M).group(1)
    fields = dict((k, int(v)) for k, v in re.findall(r"(\w+)=(\d+)", recap))
    return {"wall": wall, **fields}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--keep", action="store_true", help="leave the two containers running")
    parser.add_argument("--strategy", default="", help="e.g. mitogen_linear (default: ansible's linear)")
    args = parser.parse_args()
    base, ours = PREFIX + "a", PREFIX + "b"
    results = {}
    try:
        for name in (base, ours):
            create(name)
        with tempfile.TemporaryDirectory() as tmp:
            first = play(ours, tmp, args.strategy)
            rerun = play(ours, tmp, args.strategy)
        for label, name in (("baseline", base), ("ours", ours)):
            results[label] = {"lynis": lynis(name), "stock": oscap_score(name, DS), "machine": oscap_score(name, DS_MACHINE)}
    finally:
        if not args.keep:
            for name in (base, ours):
                podman("rm", "-f", name, check=False)

    a, b = results["baseline"], results["ours"]
    row = "%-44s %-20s %-20s %-20s"
    print(row % ("metric", "baseline A", "ours B", "devsec (reference)"))
    print(row % ("Lynis hardening index (--quick)", a["lynis"]["index"], b["lynis"]["index"], DEVSEC["lynis"]))
    print(row % ("Lynis suggestions / warnings", "%d / %d" % (a["lynis"]["suggestions"], a["lynis"]["warnings"]),
                 "%d / %d" % (b["lynis"]["suggestions"], b["lynis"]["warnings"]), "30 / 1"))
    for mode in ("machine", "stock"):
        fmt = "%(pass)d / %(fail)d / %(notapplicable)d, %(score).2f"
        print(row % ("ANSSI-BP-028 intermediary, %s (p/f/na, score)" % mode, fmt % a[mode], fmt % b[mode],
                     "%d / %d, %.2f" % DEVSEC[mode]))
    print(row % ("playbook time, 1st run", "-", "%.1fs" % first["wall"], "%.0fs" % DEVSEC["first"]))
    print(row % ("playbook time, re-run", "-", "%.1fs" % rerun["wall"], "%.0fs" % DEVSEC["rerun"]))
    print(row % ("changed (1st run / re-run)", "-", "%d / %d" % (first["changed"], rerun["changed"]), "36 / 0"))
    print("ratio our time / devsec time: 1st run %.2f, re-run %.2f%s" % (
        first["wall"] / DEVSEC["first"], rerun["wall"] / DEVSEC["rerun"],
        " (strategy %s)" % args.strategy if args.strategy else " (linear strategy, plain podman connection)"))


if __name__ == "__main__":
    main()
