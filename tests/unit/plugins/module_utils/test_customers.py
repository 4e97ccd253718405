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


REPO = Path(__file__).resolve().parents[4]
FLEET = {"acme": agent(), "acme-finance": agent(m8trx_customer="acme"), "beta": {"m8trx_template": "baseline"}}


@pytest.mark.parametrize("var, value, expected", [
    ("m8trx_customer", 123, "acme: m8trx_customer=123 is not valid: expected a string (the customer's name), got an integer"),
    ("m8trx_template", ["baseline"], "acme: m8trx_template=['baseline'] is not valid: expected a string, one of baseline, "
     "m8trx_agent, got a list"),
    ("m8trx_instance_type", {"t3": "medium"}, "m8trx_instance_type={'t3': 'medium'} is not valid: expected a string"),
    ("m8trx_volume_size_gb", [30], "m8trx_volume_size_gb=[30] is not valid: expected an integer from 20 to 500, got a list"),
    ("m8trx_volume_size_gb", True, "m8trx_volume_size_gb=True is not valid: expected an integer from 20 to 500, got a boolean"),
    ("m8trx_subdomain", 7, "m8trx_subdomain=7 is not valid: expected a string (a DNS label), got an integer"),
])
def test_a_wrong_type_names_host_variable_value_and_expectation_and_nothing_crashes(var, value, expected):
    hostvars = dict({"m8trx_template": "m8trx_agent"}, **{var: value})
    plans, errors = c.plan({"acme": hostvars, "beta": {"m8trx_template": "baseline"}}, DOMAIN)
    assert len(errors) == 1 and expected in errors[0], errors
    assert "customer_id" not in plans["acme"]  # nothing is derived from an inventory with errors


def test_mixed_types_across_hosts_never_compare_or_hash_them():
    _plans, errors = c.plan({"one": agent(m8trx_customer=123), "two": agent(m8trx_customer="two"),
                             "three": {"m8trx_template": ["baseline"]}}, DOMAIN)
    assert len(errors) == 2 and all("expected a string" in e for e in errors)


def test_every_name_is_derived_once_in_the_plan():
    plans, errors = c.plan(FLEET, DOMAIN, account_id="123456789012")
    assert errors == []
    finance = plans["acme-finance"]
    assert {k: finance[k] for k in ("customer_prefix", "resource_prefix", "vpc_name", "subnet_name", "route_table_name",
                                    "igw_name", "security_group", "log_group", "role_name", "instance_profile", "kms_alias",
                                    "bucket", "authkey_description", "snapshot_policy_description")} == {
        "customer_prefix": "m8trx-acme", "resource_prefix": "m8trx-acme-finance", "vpc_name": "m8trx-acme",
        "subnet_name": "m8trx-acme-public", "route_table_name": "m8trx-acme-public", "igw_name": "m8trx-acme",
        "security_group": "m8trx-acme-m8trx_agent", "log_group": "/m8trx/acme/vpc-flow-logs",
        "role_name": "m8trx-acme-instance", "instance_profile": "m8trx-acme", "kms_alias": "alias/m8trx-acme",
        "bucket": "m8trx-acme-123456789012", "authkey_description": "acme agents",
        "snapshot_policy_description": "m8trx-acme daily snapshots"}
    assert plans["beta"]["security_group"] == "m8trx-beta-baseline"
    assert "bucket" not in c.plan(FLEET, DOMAIN)[0]["beta"]  # the account id comes from AWS


def test_the_roles_build_no_name_of_their_own():
    """Names come from the plan: no task or template of the customer role spells a resource prefix."""
    role = REPO / "roles" / "customer"
    for path in list((role / "tasks").glob("*.yml")) + list((role / "templates").glob("*.j2")) + [role / "vars" / "main.yml"]:
        text = path.read_text()
        assert "m8trx-{{" not in text and "'m8trx-' ~" not in text and "agents\"" not in text, path


@pytest.mark.parametrize("kwargs, selected", [
    (dict(customer="acme"), ["acme", "acme-finance"]),
    (dict(customer=" acme , beta "), ["acme", "acme-finance", "beta"]),
    (dict(customer="all"), ["acme", "acme-finance", "beta"]),
    (dict(customer="acme", hosts=["acme-finance", "beta"], limited=True), ["acme-finance"]),
    (dict(hosts=["beta"], limited=True), ["beta"]),
    (dict(hosts=["acme", "beta"], limited=True, allow_all=False), ["acme", "beta"]),
])
def test_select_explicit_selections(kwargs, selected):
    assert c.select(c.plan(FLEET, DOMAIN)[0], **kwargs) == selected


@pytest.mark.parametrize("kwargs, message", [
    (dict(), "no deployment is selected: name the customer"),
    (dict(customer=""), "customer='' is empty"),
    (dict(customer="  "), "customer='  ' is empty"),
    (dict(customer=" , "), "is empty"),
    (dict(customer=123), "selection: customer=123 is not valid: expected a string"),
    (dict(customer=["acme"]), "customer=['acme'] is not valid"),
    (dict(customer=None, hosts=list(FLEET)), "no deployment is selected"),
    (dict(customer="all", allow_all=False), "customer=all is refused: destroy never acts on every customer"),
    (dict(hosts=list(FLEET), limited=True, allow_all=False), "destroy never acts on the whole inventory"),
    (dict(customer="acme", hosts=["beta"], limited=True), "customer 'acme' has no deployment among this run's hosts"),
])
def test_a_selection_that_is_empty_mistyped_or_fleet_wide_for_destroy_is_refused(kwargs, message):
    with pytest.raises(ValueError) as err:
        c.select(c.plan(FLEET, DOMAIN)[0], **kwargs)
    assert message in str(err.value)


def test_the_deploy_steps_are_one_list_with_a_task_file_each():
    spec = yaml.safe_load((REPO / "roles/customer/meta/argument_specs.yml").read_text())
    steps = [s for s in spec["argument_specs"]["main"]["options"]["customer_stop_after"]["choices"] if s]
    assert steps[0] == "plan" and steps[-1] == "device"
    for step in steps:
        assert (REPO / "roles/customer/tasks" / ("%s.yml" % step)).is_file(), step
    # the role reads the same list (no second copy in present.yml)
    assert "customer_stop_after.choices" in (REPO / "roles/customer/vars/main.yml").read_text().replace("\n", "").replace(" ", "")
