#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, m8trx.deployer contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: customer_plan
short_description: Validate the customers inventory and derive every deployment's identifiers
version_added: 0.1.0
description:
  - Customers are inventory hosts; one host is one deployment. This action runs on the controller,
    reads the variables of every host in O(group), checks their types and values and the selection,
    and derives every name the roles use (one derivation, which deploy, destroy and the modules read).
  - Bad input fails before any API call. Only then, with O(read_aws), it reads the account id
    (C(amazon.aws.aws_caller_info)) and the existing customer VPCs (C(amazon.aws.ec2_vpc_net_info)), with
    the AWS connection options it is given (it is in the C(group/m8trx.deployer.aws) action group, so
    C(module_defaults) apply).
  - "Host variables: C(m8trx_customer) (default: the host name), C(m8trx_template) (V(baseline) or
    V(m8trx_agent)), C(m8trx_instance_type) (allow-list, default V(t3.medium)), C(m8trx_volume_size_gb)
    (20-500, default 30), C(m8trx_subdomain) (a DNS label, default: the host name)."
  - "Rules: host and customer names are 3-32 lowercase letters, digits and hyphens, starting with a
    letter and ending with a letter or digit; subdomains are unique across the inventory; all
    deployments of a customer share one template; a host may not be named after another customer."
  - Every problem of every host is reported at once, each naming the host, the variable and the fix.
author: m8trx platform team (@m8trx)
attributes:
  check_mode:
    description: Reads only.
    support: full
  diff_mode:
    description: Nothing to show.
    support: none
options:
  group:
    description: The inventory group whose hosts are the deployments.
    type: str
    default: customers
  platform_domain:
    description: The DNS zone the subdomains live in.
    type: str
    required: true
  customer:
    description:
      - The operator's selection as given (C(-e customer=...)), a customer's name, several comma-separated, or V(all)
        for every customer (refused when O(allow_all=false)).
      - Not given, only O(limited) selects (the run's O(hosts)). An empty or blank value, or one that is not a string,
        fails naming the variable (an AWX survey sends an empty string for a blank field); it never widens the run.
    type: raw
  hosts:
    description: The hosts the run may act on (the play's hosts after C(--limit)); default every deployment.
    type: list
    elements: str
  limited:
    description: Whether C(--limit) narrowed O(hosts) (then they are the selection when O(customer) is not given).
    type: bool
    default: false
  allow_all:
    description:
      - Whether a fleet-wide selection is accepted (deploy). V(false) (destroy) refuses O(customer=all) and a C(--limit)
        that selects every deployment of several customers.
    type: bool
    default: true
  brain_url:
    description:
      - The brain URL the V(m8trx_agent) template needs; when given, every selected V(m8trx_agent) deployment is refused
        (before any API call) unless it and O(agent_fetch_pat) are non-empty.
    type: str
  agent_fetch_pat:
    description: The agent repository token the V(m8trx_agent) template needs (see O(brain_url)); never shown.
    type: str
  destroy_confirm:
    description:
      - The destroy confirmation as typed (comma-separated customer names); each name must be a selected customer.
    type: str
  read_aws:
    description: After validation, read the account id and the existing customer VPCs (their octets stay theirs).
    type: bool
    default: false
  region:
    description: AWS region for O(read_aws).
    type: str
  endpoint_url:
    description: AWS endpoint URL for O(read_aws) (moto, a VPC endpoint).
    type: str
  profile:
    description: AWS profile for O(read_aws).
    type: str
  access_key:
    description: AWS access key for O(read_aws) (default from the environment).
    type: str
  secret_key:
    description: AWS secret key for O(read_aws) (default from the environment).
    type: str
  session_token:
    description: AWS session token for O(read_aws) (default from the environment).
    type: str
  validate_certs:
    description: Verify TLS certificates for O(read_aws).
    type: bool
  aws_ca_bundle:
    description: CA bundle for O(read_aws).
    type: path
  aws_config:
    description: botocore configuration for O(read_aws).
    type: dict
  taken_octets:
    description:
      - Second octets of existing customer VPCs (C(10.<octet>.0.0/16)) mapped to the customer that owns
        each; a customer keeps its own, and no new customer gets a taken one.
    type: dict
    default: {}
"""

EXAMPLES = r"""
- name: Validate the inventory and select customer acme
  m8trx.deployer.customer_plan:
    platform_domain: m8trx.example
    customer: "{{ customer | default(omit) }}"
    hosts: "{{ ansible_play_hosts_all }}"
    limited: "{{ ansible_limit is defined }}"
    read_aws: true
  run_once: true
  register: plan
"""

RETURN = r"""
plans:
  description:
    - Every deployment with its derived identifiers and resource names, by host (C(bucket) only with O(read_aws)).
    - C(customer_prefix) (V(m8trx-<customer>)) names the customer's shared resources; C(resource_prefix)
      (V(m8trx-<host>)) names the deployment's own (its instance).
    - C(lead) marks the first selected deployment of each customer, the one that manages the customer-wide
      resources (brain customer, Tailscale entries, SSM parameters, KMS key, network, bucket, role).
  returned: always
  type: dict
  sample:
    acme:
      host: acme
      customer: acme
      customer_id: cust_acme
      tag: "tag:m8trx-cust-acme"
      ssm_path: /m8trx/acme/
      subdomain: acme
      fqdn: acme.m8trx.example
      customer_prefix: m8trx-acme
      resource_prefix: m8trx-acme
      vpc_name: m8trx-acme
      subnet_name: m8trx-acme-public
      route_table_name: m8trx-acme-public
      igw_name: m8trx-acme
      security_group: m8trx-acme-m8trx_agent
      log_group: /m8trx/acme/vpc-flow-logs
      role_name: m8trx-acme-instance
      role_policy_name: m8trx-customer-scope
      instance_profile: m8trx-acme
      kms_alias: alias/m8trx-acme
      bucket: m8trx-acme-123456789012
      authkey_description: acme agents
      snapshot_policy_description: m8trx-acme daily snapshots
      vpc_cidr: 10.131.0.0/16
      subnet_cidr: 10.131.1.0/24
      template: m8trx_agent
      ports: [80, 443]
      instance_type: t3.medium
      volume_size_gb: 30
      agents: 1
      lead: true
account:
  description: The account id and partition (with O(read_aws); empty otherwise).
  returned: success
  type: dict
  sample: {account_id: "123456789012", partition: aws}
selected:
  description: The hosts selected by O(customer) or O(hosts).
  returned: success
  type: list
  elements: str
  sample: [acme]
errors:
  description: Every problem found.
  returned: failure
  type: list
  elements: str
"""
