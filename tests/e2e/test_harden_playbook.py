"""playbooks/harden.yml refuses a missing or unknown template before it touches a host (the template
decides the firewall's ports). Applying it is proven by bench/hardening.py, which runs this playbook on
a container; the role itself by the host_hardening molecule scenario."""

from __future__ import annotations

import pytest

# a host that cannot be reached: the check must fail the play before any connection is attempted
INVENTORY = "unreachable-host.invalid,"


@pytest.mark.parametrize("template", [None, "", "m8trx-agent", "windows"])
def test_harden_refuses_an_unknown_template(run_playbook, template):
    args = ["-i", INVENTORY, "playbooks/harden.yml"]
    if template is not None:
        args += ["-e", "m8trx_template=%s" % template]
    result = run_playbook(*args)
    assert result.returncode == 2, result.stdout[-3000:]
    assert "set m8trx_template to one of baseline, m8trx_agent (got '%s')" % (template or "") in result.stdout
    assert "UNREACHABLE" not in result.stdout
    assert "ok=0" in result.stdout and "failed=1" in result.stdout


def test_harden_lists_every_control(run_playbook):
    result = run_playbook("-i", INVENTORY, "playbooks/harden.yml", "-e", "m8trx_template=baseline", "--list-tags")
    assert result.returncode == 0, result.stdout[-3000:]
    tags = set(result.stdout.split("TASK TAGS: [", 1)[1].split("]", 1)[0].replace(" ", "").split(","))
    for concern in ("sysctl", "audit", "fail2ban", "firewall", "apparmor", "aide", "updates", "ssh", "coredump", "cron"):
        assert "host_hardening_%s" % concern in tags, concern
