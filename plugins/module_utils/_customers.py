# -*- coding: utf-8 -*-
# Copyright (c) 2026, m8trx.deployer contributors
# Simplified BSD License (see LICENSES/BSD-2-Clause.txt or https://opensource.org/licenses/BSD-2-Clause)
# SPDX-License-Identifier: BSD-2-Clause
"""Customers as inventory: validate every deployment and derive its identifiers (no API calls).

An inventory host is one deployment. Its variables (defaults in brackets):
``m8trx_customer`` [the host name], ``m8trx_template`` (baseline | m8trx_agent),
``m8trx_instance_type`` [t3.medium], ``m8trx_volume_size_gb`` [30], ``m8trx_subdomain`` [the host name].
``plan(deployments, platform_domain)`` returns ``(plans, errors)``: every problem of every host at
once, each message naming the host, the variable, the value and what is expected. Every name the
roles and modules use for a customer's resources is derived here, once (``names``).
"""

from __future__ import annotations

import hashlib
import re

NAME = re.compile(r"^[a-z][a-z0-9-]{1,30}[a-z0-9]$")
LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
TEMPLATES = {
    "baseline": {"ports": [8080]},
    "m8trx_agent": {"ports": [80, 443]},
}
INSTANCE_TYPES = ("t3.small", "t3.medium", "t3.large", "t3.xlarge", "t3a.medium", "t3a.large",
                  "m6i.large", "m6i.xlarge", "c6i.large", "c6i.xlarge")
DEFAULTS = {"m8trx_instance_type": "t3.medium", "m8trx_volume_size_gb": 30}
VOLUME_RANGE = (20, 500)
# the inventory variables of a deployment, their types and what the message says is expected
TYPES = (
    ("m8trx_customer", (str,), "a string (the customer's name)"),
    ("m8trx_template", (str,), "a string, one of baseline, m8trx_agent"),
    ("m8trx_instance_type", (str,), "a string (an instance type)"),
    ("m8trx_volume_size_gb", (int, str), "an integer from 20 to 500"),
    ("m8trx_subdomain", (str,), "a string (a DNS label)"),
)
# 10.<octet>.0.0/16 per customer; 0 and 255 are kept out, and 1-15 are left for the platform itself
OCTET_RANGE = (16, 254)
NAME_RULE = ("3-32 characters of lowercase letters, digits and hyphens, starting with a letter and ending "
             "with a letter or digit")


TAG_PREFIX = "tag:m8trx-cust-"
CUSTOMER_ID_PREFIX = "cust_"
# the selection that asks for every customer of the inventory (deploy only; destroy refuses it)
ALL = "all"


def customer_id(customer):
    return CUSTOMER_ID_PREFIX + customer.replace("-", "_")


def customer_tag(customer):
    return TAG_PREFIX + customer


def names(customer, host, template, account_id=None):
    """Every name of a customer's (and one deployment's) resources. Deploy, destroy and the modules
    use these and nothing else, so they cannot drift apart."""
    prefix = "m8trx-%s" % customer
    derived = dict(
        customer_id=customer_id(customer),
        tag=customer_tag(customer),
        ssm_path="/m8trx/%s/" % customer,
        customer_prefix=prefix,
        resource_prefix="m8trx-%s" % host,
        vpc_name=prefix,
        subnet_name=prefix + "-public",
        route_table_name=prefix + "-public",
        igw_name=prefix,
        security_group=prefix + "-" + str(template),
        log_group="/m8trx/%s/vpc-flow-logs" % customer,
        role_name=prefix + "-instance",
        role_policy_name="m8trx-customer-scope",
        instance_profile=prefix,
        kms_alias="alias/" + prefix,
        authkey_description="%s agents" % customer,
        snapshot_policy_description="%s daily snapshots" % prefix,
    )
    if account_id:
        derived["bucket"] = "%s-%s" % (prefix, account_id)
    return derived


def vpc_octet(customer, taken=()):
    """The customer's stable second octet: a hash of the name, probing upward past octets ``taken``."""
    low, high = OCTET_RANGE
    size = high - low + 1
    start = int(hashlib.sha256(customer.encode("utf-8")).hexdigest(), 16) % size
    for step in range(size):
        octet = low + (start + step) % size
        if octet not in taken:
            return octet
    raise ValueError("no free VPC octet left for %s" % customer)


def _int(value):
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def type_name(value):
    """The YAML/JSON name of a value's type (Ansible wraps values in tagged subclasses)."""
    for kind, name in ((bool, "a boolean"), (int, "an integer"), (float, "a float"), (str, "a string"), (dict, "a mapping"),
                       (list, "a list"), (tuple, "a list")):
        if isinstance(value, kind):
            return name
    return type(value).__name__


def check_type(owner, var, value, kinds, expected):
    """An error message when ``value`` is not one of ``kinds`` (booleans are never numbers), else None."""
    if isinstance(value, kinds) and not (isinstance(value, bool) and bool not in kinds):
        return None
    return "%s: %s=%r is not valid: expected %s, got %s" % (owner, var, value, expected, type_name(value))


def _check_host(host, hostvars):
    """Return (deployment, errors) for one inventory host: wrong types first, so that no later check
    compares or hashes a list, a mapping or a number; a variable of the wrong type is not checked again."""
    typed = dict((var, check_type(host, var, hostvars[var], kinds, expected))
                 for var, kinds, expected in TYPES if var in hostvars)
    mistyped = set(var for var, error in typed.items() if error)
    errors = [typed[var] for var, _kinds, _expected in TYPES if var in mistyped]
    valid = dict((k, v) for k, v in hostvars.items() if k not in mistyped)
    customer = valid.get("m8trx_customer") or host
    template = valid.get("m8trx_template")
    instance_type = valid.get("m8trx_instance_type", DEFAULTS["m8trx_instance_type"])
    volume = valid.get("m8trx_volume_size_gb", DEFAULTS["m8trx_volume_size_gb"])
    subdomain = valid.get("m8trx_subdomain") or host

    def bad(var, value, rule):
        if var not in mistyped:
            errors.append("%s: %s=%r is not valid: %s" % (host, var, value, rule))

    if not NAME.match(host):
        bad("inventory host name", host, NAME_RULE)
    if "m8trx_customer" in valid and not NAME.match(customer):
        bad("m8trx_customer", customer, NAME_RULE)
    if template not in TEMPLATES:
        bad("m8trx_template", template, "set it to one of %s" % ", ".join(sorted(TEMPLATES)))
    if instance_type not in INSTANCE_TYPES:
        bad("m8trx_instance_type", instance_type, "use one of %s" % ", ".join(INSTANCE_TYPES))
    size = _int(volume)
    if size is None or not VOLUME_RANGE[0] <= size <= VOLUME_RANGE[1]:
        bad("m8trx_volume_size_gb", volume, "an integer from %d to %d" % VOLUME_RANGE)
    if "m8trx_subdomain" in valid and not LABEL.match(subdomain):
        bad("m8trx_subdomain", subdomain, "a DNS label: up to 63 lowercase letters, digits and hyphens, no dots, "
            "not starting or ending with a hyphen")
    deployment = dict(host=host, customer=customer, template=template if template in TEMPLATES else None,
                      instance_type=instance_type, volume_size_gb=size, subdomain=subdomain)
    return deployment, errors


def plan(deployments, platform_domain, taken_octets=None, account_id=None):
    """Validate ``deployments`` ({host: hostvars}) and derive each one's identifiers.

    ``taken_octets`` maps octets already used by existing customer VPCs to the customer that owns
    them (from AWS); a customer keeps an octet it already owns. ``account_id`` (from AWS) completes
    the names that include it (the bucket). Returns ``(plans, errors)``."""
    errors, plans, by_customer, by_subdomain = [], {}, {}, {}
    for host in sorted(deployments):
        deployment, host_errors = _check_host(host, deployments[host] or {})
        errors.extend(host_errors)
        plans[host] = deployment
        by_customer.setdefault(deployment["customer"], []).append(host)
        by_subdomain.setdefault(deployment["subdomain"], []).append(host)
    for subdomain, hosts in sorted(by_subdomain.items()):
        if len(hosts) > 1:
            errors.append("%s: m8trx_subdomain %r is used by %d deployments; every deployment needs its own "
                          "(set m8trx_subdomain, e.g. %s-2)" % (", ".join(hosts), subdomain, len(hosts), subdomain))
    for customer, hosts in sorted(by_customer.items()):
        templates = sorted(set(str(plans[h]["template"]) for h in hosts))
        if len(templates) > 1:
            errors.append("customer %s: its deployments %s mix templates %s; a customer name is unique across "
                          "both templates" % (customer, ", ".join(hosts), " and ".join(templates)))
        if customer in plans and plans[customer]["customer"] != customer:
            errors.append("%s: the host name is also the name of customer %s (deployments %s); rename the host"
                          % (customer, customer, ", ".join(hosts)))
    if errors:
        return plans, errors
    taken = dict(taken_octets or {})
    octets = {}
    for customer in sorted(by_customer):
        owned = [o for o, owner in taken.items() if owner == customer]
        octets[customer] = owned[0] if owned else vpc_octet(customer, taken=set(taken) | set(octets.values()))
    for host, deployment in plans.items():
        customer = deployment["customer"]
        deployment.update(names(customer, host, deployment["template"], account_id))
        deployment.update(
            fqdn="%s.%s" % (deployment["subdomain"], platform_domain),
            vpc_cidr="10.%d.0.0/16" % octets[customer],
            subnet_cidr="10.%d.1.0/24" % octets[customer],
            ports=list(TEMPLATES[deployment["template"]]["ports"]),
            agents=len(by_customer[customer]),
        )
    return plans, errors


NO_SELECTION = ("no deployment is selected: name the customer (-e customer=acme, several: -e customer=acme,beta), "
                "or select hosts with --limit")


def select(plans, customer=None, hosts=None, limited=False, allow_all=True):
    """The deployments to act on, among ``hosts`` (the run's hosts; default every deployment).

    ``customer`` is the operator's selection as given (None: not given): one or more customer names,
    comma-separated, or ``all`` for every customer (only with ``allow_all``). Without it, only a
    ``--limit`` (``limited``) selects, and never the whole fleet when ``allow_all`` is false. Raises
    ValueError, naming the variable and what to type, for anything else: an empty or mistyped
    selection never widens to the whole inventory."""
    hosts = sorted(h for h in (hosts if hosts is not None else plans) if h in plans)
    if customer is None:
        if not limited:
            raise ValueError(NO_SELECTION)
        if not allow_all and len(hosts) == len(plans) and len(set(plans[h]["customer"] for h in hosts)) > 1:
            raise ValueError("destroy never acts on the whole inventory: --limit selects every deployment of %d "
                             "customers; name them with -e customer=<name>[,<name>...]"
                             % len(set(plans[h]["customer"] for h in hosts)))
        return hosts
    error = check_type("selection", "customer", customer, (str,), "a string: a customer's name, or names "
                       "comma-separated")
    if error:
        raise ValueError(error)
    wanted = [name.strip() for name in customer.split(",") if name.strip()]
    if not wanted:
        raise ValueError("customer=%r is empty (an AWX survey sends that when the field is left blank); %s%s"
                         % (customer, NO_SELECTION, ", or -e customer=all for every customer" if allow_all else ""))
    if ALL in wanted:
        if not allow_all:
            raise ValueError("customer=all is refused: destroy never acts on every customer; name them with "
                             "-e customer=<name>[,<name>...]")
        return hosts
    chosen = []
    for name in wanted:
        mine = [h for h, p in plans.items() if p["customer"] == name]
        if not mine:
            raise ValueError("customer %r is not in the inventory: add a host for it to the group 'customers' "
                             "(e.g. inventories/<env>/hosts.yml) with m8trx_template set" % name)
        if not set(mine) & set(hosts):
            raise ValueError("customer %r has no deployment among this run's hosts (%s): check --limit" % (name, ", ".join(mine)))
        chosen.extend(h for h in mine if h in hosts)
    return sorted(set(chosen))
