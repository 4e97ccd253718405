"""With ~20% of control-plane requests failing (429 + Retry-After, 503, dropped connections), a
batch of brain, Tailscale and Cloudflare operations converges, and leaves no duplicate customers,
keys or records. A run may fail part-way; re-running it must finish the job without duplicates."""

from __future__ import annotations

import secrets

import pytest

MODULES = ("tailscale_acl", "tailscale_authkey", "cf_dns")
FAULTS = ({"kind": "429", "rate": 0.08, "retry_after": 1}, {"kind": "503", "rate": 0.07}, {"kind": "drop", "rate": 0.07})
ROUTES = {"brain": r"^(POST|DELETE|GET) /admin/customers", "tailscale": r"^[A-Z]+ /api/v2/",
          "cloudflare": r"^[A-Z]+ /client/v4/zones/"}
MAX_RUNS = 4


def _have_modules():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "plugins" / "modules"
    return all((root / ("%s.py" % m)).exists() for m in MODULES)


def _inject(emulators, seed):
    for name, client in emulators.items():
        client.delete("/_emulator/faults").raise_for_status()
        for offset, fault in enumerate(FAULTS):
            client.post("/_emulator/faults", json=dict(fault, route=ROUTES[name], seed=seed + offset)).raise_for_status()


def _clear(emulators):
    for client in emulators.values():
        client.delete("/_emulator/faults").raise_for_status()


def _converge(run_playbook, customers, state):
    runs = []
    for _ in range(MAX_RUNS):
        result = run_playbook("tests/e2e/playbooks/control_plane_batch.yml", "-e", "fc_prefix=%s" % ",".join(customers),
                              "-e", "fc_state=%s" % state)
        runs.append(result)
        if result.returncode == 0:
            return runs
    pytest.fail("did not converge in %d runs:\n%s" % (MAX_RUNS, runs[-1].stdout[-3000:]))


@pytest.mark.skipif(not _have_modules(), reason="needs the tailscale_acl, tailscale_authkey and cf_dns modules")
def test_batch_converges_under_faults_without_duplicates(run_playbook, emulators, sandbox_env):
    tag = secrets.token_hex(3)
    customers = ["fc%s-%d" % (tag, i) for i in range(6)]
    injected = {}
    try:
        _inject(emulators, seed=int(tag, 16))
        runs = _converge(run_playbook, customers, "present")
        injected = {n: sum(f["fired"] for f in c.get("/_emulator/faults").json()) for n, c in emulators.items()}
    finally:
        _clear(emulators)

    brain = [c["customer_id"] for c in emulators["brain"].get("/_emulator/brain/customers").json()]
    for name in customers:
        assert brain.count("cust_" + name.replace("-", "_")) == 1

    state = emulators["tailscale"].get("/_emulator/tailscale/state").json()
    for name in customers:
        valid = [k for k in state["keys"] if k.get("description") == "%s agents" % name and not k.get("invalid")]
        assert len(valid) == 1, "customer %s has %d valid keys" % (name, len(valid))

    zone = sandbox_env["CLOUDFLARE_ZONE_ID"]
    records = [r for r in emulators["cloudflare"].get("/_emulator/cloudflare/records").json() if r.get("zone_id") == zone]
    for name in customers:
        fqdn = "%s.%s" % (name, sandbox_env["CLOUDFLARE_ZONE_NAME"])
        assert len([r for r in records if r["name"] == fqdn and r["type"] == "A"]) == 1

    # and the same batch without faults is now a no-op that reports no change
    again = run_playbook("tests/e2e/playbooks/control_plane_batch.yml", "-e", "fc_prefix=%s" % ",".join(customers))
    assert again.returncode == 0 and "changed=0" in again.stdout, again.stdout[-2000:]

    # removal converges under the same faults, and leaves nothing of these customers behind
    try:
        _inject(emulators, seed=int(tag, 16) + 100)
        _converge(run_playbook, customers, "absent")
        removed = {n: sum(f["fired"] for f in c.get("/_emulator/faults").json()) for n, c in emulators.items()}
    finally:
        _clear(emulators)
    assert sum(injected.values()) + sum(removed.values()) > 0, "no fault fired: the test proved nothing"
    brain = [c["customer_id"] for c in emulators["brain"].get("/_emulator/brain/customers").json()]
    keys = [k for k in emulators["tailscale"].get("/_emulator/tailscale/state").json()["keys"] if not k.get("invalid")]
    records = emulators["cloudflare"].get("/_emulator/cloudflare/records").json()
    for name in customers:
        assert "cust_" + name.replace("-", "_") not in brain
        assert not [k for k in keys if k.get("description") == "%s agents" % name]
        assert not [r for r in records if r["name"].startswith(name + ".")]
    print("converged in %d run(s); faults fired: %s; on removal: %s" % (len(runs), injected, removed))
