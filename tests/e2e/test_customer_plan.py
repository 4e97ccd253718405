"""customer_plan through a real ansible-playbook run: bad inventories fail fast with messages that
say what to fix, and no emulator sees a single request."""

from __future__ import annotations

import json

import pytest

PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  tasks:
    - m8trx.deployer.customer_plan:
        platform_domain: m8trx.example
        customer: "{{ customer | default(omit) }}"
      register: plan
    - ansible.builtin.copy:
        content: "{{ plan | to_json }}"
        dest: "{{ out }}"
        mode: "0600"
"""


def write_inventory(tmp_path, hosts):
    lines = ["customers:", "  hosts:"]
    for host, hostvars in hosts.items():
        lines.append("    %s:" % json.dumps(host))
        for key, value in hostvars.items():
            lines.append("      %s: %s" % (key, json.dumps(value)))
    (tmp_path / "hosts.yml").write_text("\n".join(lines) + "\n")
    (tmp_path / "plan.yml").write_text(PLAYBOOK)


def total_requests(emulators):
    return sum(len(client.get("/_emulator/requests").json()) for client in emulators.values())


def test_sandbox_inventory_plans_acme(run_playbook, tmp_path):
    (tmp_path / "plan.yml").write_text(PLAYBOOK)
    result = run_playbook("-i", "inventories/sandbox", str(tmp_path / "plan.yml"), "-e", "customer=acme",
                          "-e", "out=%s" % (tmp_path / "out.json"))
    assert result.returncode == 0, result.stdout[-2000:]
    out = json.loads((tmp_path / "out.json").read_text())
    assert out["selected"] == ["acme"]
    assert out["plans"]["acme"]["customer_id"] == "cust_acme"
    assert out["plans"]["beta"]["template"] == "baseline"


@pytest.mark.parametrize("hosts, customer, expected", [
    ({"Acme": {"m8trx_template": "m8trx_agent"}}, None, "Acme: inventory host name='Acme' is not valid"),
    ({"acme": {"m8trx_template": "agent"}}, None, "m8trx_template='agent' is not valid"),
    ({"acme": {"m8trx_template": "baseline", "m8trx_volume_size_gb": 10}}, None, "m8trx_volume_size_gb=10 is not valid"),
    ({"acme": {"m8trx_template": "baseline", "m8trx_instance_type": "x1.32xlarge"}}, None, "m8trx_instance_type='x1.32xlarge'"),
    ({"acme": {"m8trx_template": "baseline", "m8trx_subdomain": "a.b"}}, None, "m8trx_subdomain='a.b' is not valid"),
    ({"acme": {"m8trx_template": "baseline"}, "acme-2": {"m8trx_template": "baseline", "m8trx_customer": "acme",
                                                           "m8trx_subdomain": "acme"}}, None, "is used by 2 deployments"),
    ({"acme": {"m8trx_template": "baseline"}}, "zeta", "customer 'zeta' is not in the inventory"),
])
def test_bad_inventories_fail_before_any_api_call(run_playbook, emulators, tmp_path, hosts, customer, expected):
    write_inventory(tmp_path, hosts)
    before = total_requests(emulators)
    args = ["-i", str(tmp_path / "hosts.yml"), str(tmp_path / "plan.yml"), "-e", "out=%s" % (tmp_path / "out.json")]
    if customer:
        args += ["-e", "customer=%s" % customer]
    result = run_playbook(*args)
    assert result.returncode != 0
    assert expected in result.stdout
    assert total_requests(emulators) == before
