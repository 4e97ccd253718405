"""Customers as inventory: validation messages and derived identifiers (pure, no API calls)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ansible_collections.m8trx.deployer.plugins.module_utils import _customers as c

DOMAIN = "m8trx.example"


def agent(**extra):
    return dict({"m8trx_template": "m8trx_agent"}, **extra)


def test_a_valid_inventory_derives_every_identifier():
    plans, errors = c.plan({"acme": agent(), "acme-finance": agent(m8trx_customer="acme"),
                            "beta": {"m8trx_template": "baseline", "m8trx_volume_size_gb": "40"}}, DOMAIN)
    assert errors == []
    acme, finance, beta = plans["acme"], plans["acme-finance"], plans["beta"]
    assert acme["customer_id"] == "cust_acme" == finance["customer_id"]
    assert acme["tag"] == "tag:m8trx-cust-acme" == finance["tag"]
    assert acme["ssm_path"] == "/m8trx/acme/" == finance["ssm_path"]
    assert acme["vpc_cidr"] == finance["vpc_cidr"] != beta["vpc_cidr"]
    # one subnet per customer, inside its VPC: both derived from the same octet
    assert acme["subnet_cidr"] == acme["vpc_cidr"].replace(".0.0/16", ".1.0/24") == finance["subnet_cidr"]
    assert (acme["fqdn"], finance["fqdn"]) == ("acme.m8trx.example", "acme-finance.m8trx.example")
    assert (acme["resource_prefix"], finance["resource_prefix"]) == ("m8trx-acme", "m8trx-acme-finance")
    assert acme["agents"] == 2 and beta["agents"] == 1
    assert acme["ports"] == [80, 443] and beta["ports"] == [8080]
    assert acme["instance_type"] == "t3.medium" and acme["volume_size_gb"] == 30 and beta["volume_size_gb"] == 40


def test_customer_ids_replace_hyphens():
    plans, errors = c.plan({"acme-west": agent()}, DOMAIN)
    assert errors == [] and plans["acme-west"]["customer_id"] == "cust_acme_west"


@pytest.mark.parametrize("host, hostvars, fragment", [
    ("Acme", agent(), "Acme: inventory host name='Acme' is not valid"),
    ("ab", agent(), "inventory host name='ab' is not valid: 3-32 characters"),
    ("a" * 33, agent(), "is not valid: 3-32 characters"),
    ("acme-", agent(), "inventory host name='acme-' is not valid"),
    ("9acme", agent(), "is not valid"),
    ("acme", agent(m8trx_customer="ACME"), "m8trx_customer='ACME' is not valid"),
    ("acme", {}, "m8trx_template=None is not valid: set it to one of baseline, m8trx_agent"),
    ("acme", {"m8trx_template": "agent"}, "m8trx_template='agent' is not valid"),
    ("acme", agent(m8trx_instance_type="p5.48xlarge"), "m8trx_instance_type='p5.48xlarge' is not valid: use one of"),
    ("acme", agent(m8trx_volume_size_gb=19), "m8trx_volume_size_gb=19 is not valid: an integer from 20 to 500"),
    ("acme", agent(m8trx_volume_size_gb=501), "from 20 to 500"),
    ("acme", agent(m8trx_volume_size_gb="big"), "m8trx_volume_size_gb='big' is not valid"),
    ("acme", agent(m8trx_volume_size_gb=True), "m8trx_volume_size_gb=True is not valid"),
    ("acme", agent(m8trx_volume_size_gb=30.5), "m8trx_volume_size_gb=30.5 is not valid"),
    ("acme", agent(m8trx_subdomain="acme.eu"), "m8trx_subdomain='acme.eu' is not valid: a DNS label"),
    ("acme", agent(m8trx_subdomain="x" * 64), "m8trx_subdomain="),
    ("acme", agent(m8trx_subdomain="-acme"), "m8trx_subdomain='-acme' is not valid"),
])
def test_each_bad_input_fails_with_a_message_naming_host_variable_and_fix(host, hostvars, fragment):
    _plans, errors = c.plan({host: hostvars}, DOMAIN)
    assert len(errors) >= 1
    assert any(fragment in e for e in errors), errors


def test_every_problem_is_reported_at_once():
    _plans, errors = c.plan({"Bad": {"m8trx_template": "x", "m8trx_volume_size_gb": 1}}, DOMAIN)
    assert len(errors) == 3


def test_duplicate_subdomains_are_rejected():
    _plans, errors = c.plan({"acme": agent(), "acme-2": agent(m8trx_customer="acme", m8trx_subdomain="acme")}, DOMAIN)
    assert errors == ["acme, acme-2: m8trx_subdomain 'acme' is used by 2 deployments; every deployment needs its own "
                      "(set m8trx_subdomain, e.g. acme-2)"]


def test_a_customer_cannot_mix_templates():
    _plans, errors = c.plan({"acme": agent(), "acme-web": {"m8trx_template": "baseline", "m8trx_customer": "acme"}}, DOMAIN)
    assert len(errors) == 1 and "mix templates baseline and m8trx_agent" in errors[0]


def test_a_host_named_like_another_customer_is_rejected():
    _plans, errors = c.plan({"acme-finance": agent(m8trx_customer="acme"), "af-1": agent(m8trx_customer="acme-finance")},
                            DOMAIN)
    assert any("the host name is also the name of customer acme-finance" in e for e in errors)


def test_vpc_octet_is_stable_and_avoids_taken_octets():
    first = c.vpc_octet("acme")
    assert first == c.vpc_octet("acme")
    assert c.OCTET_RANGE[0] <= first <= c.OCTET_RANGE[1]
    assert c.vpc_octet("acme", taken={first}) != first


def test_existing_vpcs_keep_their_octet_and_block_others():
    plans, _errors = c.plan({"beta": {"m8trx_template": "baseline"}}, DOMAIN, taken_octets={c.vpc_octet("beta"): "zeta"})
    assert plans["beta"]["vpc_cidr"] == "10.%d.0.0/16" % c.vpc_octet("beta", taken={c.vpc_octet("beta")})
    owned = c.OCTET_RANGE[0] if c.vpc_octet("acme") != c.OCTET_RANGE[0] else c.OCTET_RANGE[0] + 1
    plans, _errors = c.plan({"acme": agent()}, DOMAIN, taken_octets={owned: "acme"})
    assert plans["acme"]["vpc_cidr"] == "10.%d.0.0/16" % owned


def test_two_new_customers_never_share_an_octet():
    names = ["cust%d" % i for i in range(120)]
    plans, errors = c.plan(dict((n, agent()) for n in names), DOMAIN)
    assert errors == []
    cidrs = [plans[n]["vpc_cidr"] for n in names]
    assert len(set(cidrs)) == len(cidrs)


def test_select_by_customer_and_unknown_customer_message():
    plans, _errors = c.plan({"acme": agent(), "acme-finance": agent(m8trx_customer="acme"), "beta": agent()}, DOMAIN)
    assert c.select(plans, customer="acme") == ["acme", "acme-finance"]
    with pytest.raises(ValueError, match="customer 'zeta' is not in the inventory: add a host for it"):
        c.select(plans, customer="zeta")


def test_the_harden_playbook_opens_the_ports_of_each_template():
    """playbooks/harden.yml keeps its own table of firewall ports per template: it must be the one the
    security groups are built from, or UFW would block what the security group lets in."""
    play = yaml.safe_load((Path(__file__).resolve().parents[4] / "playbooks" / "harden.yml").read_text())[0]
    ports = play["vars"]["__harden_ports"]
    assert {name: sorted(int(p.split("/")[0]) for p in entries) for name, entries in ports.items()} == {
        name: sorted(t["ports"]) for name, t in c.TEMPLATES.items()}
    assert all(p.endswith("/tcp") for entries in ports.values() for p in entries)
