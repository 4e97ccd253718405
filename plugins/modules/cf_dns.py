#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, m8trx.deployer contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: cf_dns
short_description: Upsert or delete the Cloudflare A records this deployment owns, never anyone else's
version_added: 0.1.0
description:
  - Manages A records C({label}.{zone}) pointing at IPv4 addresses, one or many per call.
  - A record is owned only when its comment equals O(comment) exactly, character for character and case
    included (Cloudflare's comment filters ignore case, so ownership is checked by the module). Records
    without that comment are never updated or deleted.
  - With O(state=present), an A record not owned by the module or any CNAME at a managed name is a conflict;
    the module fails naming the record's id and comment before it writes anything (see O(on_conflict)).
  - An owned record is updated in place (C(PATCH) by id, only the fields that differ), so tags and anything
    else set by hand survive. Several owned A records at one name are converged to one.
  - "Reads use the fewest calls: for one name, one filtered call (C(name=<fqdn>)); for several names, one
    listing of the whole zone when it has at most as many pages as there are names, else one filtered
    call per name (one extra call finds out which). Every listing is read to its last page, capped by
    O(max_pages)."
  - "A listing that changed while it was read (C(result_info.total_count) or C(total_pages) differ between
    its pages, a record listed twice, a page short before the last) is read again from its first page, up to
    3 times; records are never planned from a listing whose offsets moved (records missed that way would be
    created a second time). A zone that keeps changing fails the task with a message saying so."
  - If another writer races the module (Cloudflare errors 81057, 81058, 81053, 81054), or a write's answer
    is lost, the names involved are read again and planned again, up to 5 rounds; a record already
    gone on delete (81044) is fine. Rate limits and server errors are retried with backoff.
author: m8trx platform team (@m8trx)
extends_documentation_fragment:
  - m8trx.deployer.cloudflare
attributes:
  check_mode:
    description: Reads only; returns the predicted records and actions.
    support: full
  diff_mode:
    description: Shows the owned records at the managed names before and after.
    support: full
options:
  zone_id:
    description:
      - The zone's id. No C(/zones) call is made, so a zone-scoped DNS-only token works.
      - With O(zone_id) alone, the zone's name (needed for names given as FQDNs) is taken from the records
        listing; set O(zone) as well to give it.
      - One of O(zone_id) and O(zone) is required.
    type: str
  zone:
    description:
      - The zone's name, for example V(example.com). Without O(zone_id) the id is looked up with
        C(GET /zones?name=), which needs C(Zone:Read).
    type: str
  records:
    description:
      - The A records. Mutually exclusive with O(name).
    type: list
    elements: dict
    suboptions:
      name:
        description:
          - A label (V(acme), becomes C(acme.<zone>)) or an FQDN inside the zone (V(acme.example.com)).
          - Names are lowercased; internationalized names are converted to Punycode.
        type: str
        required: true
      content:
        description: The IPv4 address. Required with O(state=present); ignored with O(state=absent).
        type: str
      ttl:
        description: V(1) (automatic) or 60-86400 seconds. Defaults to O(ttl).
        type: int
      proxied:
        description: Whether Cloudflare proxies the record. Defaults to O(proxied).
        type: bool
  name:
    description: Shorthand for one record, with O(content). Mutually exclusive with O(records).
    type: str
  content:
    description: The IPv4 address of the O(name) shorthand.
    type: str
  ttl:
    description: The TTL of records that do not set one; V(1) means automatic.
    type: int
    default: 1
  proxied:
    description: Whether records that do not say otherwise are proxied. A proxied record has O(ttl=1).
    type: bool
    default: false
  comment:
    description:
      - The ownership marker, written as the record's comment and required, exactly, on every record the
        module updates or deletes.
    type: str
    default: m8trx-managed:customer
  comment_max_length:
    description: The longest comment the zone's plan accepts (Cloudflare allows 100 on Free, 500 on paid plans).
    type: int
    default: 100
  state:
    description:
      - V(present) creates or updates the records; V(absent) deletes the owned A records at those names and
        leaves the others in place (they are reported in RV(conflicts), with a warning).
    type: str
    choices: [present, absent]
    default: present
  on_conflict:
    description:
      - V(fail) stops before any write when a managed name holds a record the module does not own.
      - V(skip) leaves those names alone (with a warning) and manages the others.
    type: str
    choices: [fail, skip]
    default: fail
  bulk:
    description:
      - Send all writes through C(POST /zones/{id}/dns_records/batch) (all or nothing per request), in
        requests of at most O(batch_size) operations, instead of one call per record.
    type: bool
    default: false
  batch_size:
    description: Operations per batch request (Cloudflare allows 200 on Free, 3500 on paid plans).
    type: int
    default: 200
  per_page:
    description: Records per page of a listing (1-5000). Larger pages mean fewer calls on large zones.
    type: int
    default: 100
  max_pages:
    description: The most pages one listing may have; a longer listing fails instead of being truncated.
    type: int
    default: 50
notes:
  - The token needs C(DNS:Edit) on the zone, plus C(Zone:Read) only when the zone is given by name alone.
  - One A record per name; round-robin sets of several A records at one name are not managed.
seealso:
  - name: Cloudflare DNS records API
    description: The API this module calls.
    link: https://developers.cloudflare.com/api/resources/dns/subresources/records/
"""

EXAMPLES = r"""
- name: Point acme and globex at their instances
  m8trx.deployer.cf_dns:
    zone_id: "{{ cloudflare_zone_id }}"
    records:
      - {name: acme, content: 203.0.113.10}
      - {name: globex, content: 203.0.113.11, ttl: 300}

- name: One record, zone by name, all writes in one batch request
  m8trx.deployer.cf_dns:
    zone: example.com
    name: acme.example.com
    content: 203.0.113.10
    bulk: true

- name: Remove acme's record (only if this deployment owns it)
  m8trx.deployer.cf_dns:
    zone_id: "{{ cloudflare_zone_id }}"
    name: acme
    state: absent
"""

RETURN = r"""
records:
  description: The owned A records at the managed names after the run (predicted in check mode, where a new
    record has no id); empty with O(state=absent).
  returned: always
  type: list
  elements: dict
  sample: [{id: 372e67954025e0ba6aaa6d586b9e0b59, name: acme.example.com, type: A, content: 203.0.113.10,
            ttl: 1, proxied: false, comment: "m8trx-managed:customer"}]
operation:
  description: The kind of change, V(create), V(update) or V(delete); V(mixed) when there were several kinds.
  returned: when changed
  type: str
  sample: create
actions:
  description: One entry per write (planned in check mode) with its O(records[].name), operation and record id.
  returned: always
  type: list
  elements: dict
  sample: [{name: acme.example.com, operation: update, id: 372e67954025e0ba6aaa6d586b9e0b59}]
conflicts:
  description: Records at managed names that the module does not own (unowned A records, CNAMEs), with their
    id, type, content, comment and the reason; never modified.
  returned: always
  type: list
  elements: dict
  sample: [{name: acme.example.com, id: 023e105f4ecef8ad9ca31a8372d0c353, type: CNAME, content: lb.example.net,
            comment: null, reason: "a CNAME record not owned by this module (comment None) is at this name"}]
zone_id:
  description: The zone's id.
  returned: always
  type: str
  sample: 023e105f4ecef8ad9ca31a8372d0c353
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.m8trx.deployer.plugins.module_utils._api import CLOUDFLARE_ARGSPEC, cloudflare_client, run_module
from ansible_collections.m8trx.deployer.plugins.module_utils._cloudflare_dns import (
    OWNER_COMMENT,
    DnsConflictError,
    DnsInputError,
    DnsZone,
    converge,
    validate,
)


def main():
    argument_spec = dict(
        zone_id=dict(type="str"),
        zone=dict(type="str"),
        records=dict(type="list", elements="dict", options=dict(
            name=dict(type="str", required=True),
            content=dict(type="str"),
            ttl=dict(type="int"),
            proxied=dict(type="bool"),
        )),
        name=dict(type="str"),
        content=dict(type="str"),
        ttl=dict(type="int", default=1),
        proxied=dict(type="bool", default=False),
        comment=dict(type="str", default=OWNER_COMMENT),
        comment_max_length=dict(type="int", default=100),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        on_conflict=dict(type="str", choices=["fail", "skip"], default="fail"),
        bulk=dict(type="bool", default=False),
        batch_size=dict(type="int", default=200),
        per_page=dict(type="int", default=100),
        max_pages=dict(type="int", default=50),
    )
    argument_spec.update(CLOUDFLARE_ARGSPEC)
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True,
                           required_one_of=[("zone_id", "zone"), ("records", "name")],
                           mutually_exclusive=[("records", "name"), ("records", "content")])
    params = module.params
    empty = dict(changed=False, records=[], actions=[], conflicts=[], zone_id=params["zone_id"])
    try:
        spec = validate(params)
        if params["batch_size"] < 1:
            raise DnsInputError("batch_size must be at least 1")
    except DnsInputError as exc:
        module.fail_json(msg=str(exc), **empty)

    def execute():
        client = cloudflare_client(params)
        zone_id = params["zone_id"] or DnsZone.lookup_zone_id(client, spec["zone_name"])
        zone = DnsZone(client, zone_id, spec["zone_name"], params["per_page"], params["max_pages"])
        try:
            outcome = converge(zone, spec, params["state"], check_mode=module.check_mode, bulk=params["bulk"],
                               batch_size=params["batch_size"], on_conflict=params["on_conflict"])
        except (DnsConflictError, DnsInputError) as exc:
            failed = dict(empty)
            failed.update(zone_id=zone_id, conflicts=getattr(exc, "conflicts", []))
            module.fail_json(msg=str(exc), **failed)
        for conflict in outcome["conflicts"]:
            module.warn("%s: %s (id %s), not touched" % (conflict["name"], conflict["reason"], conflict["id"]))
        result = dict(changed=outcome["changed"], records=outcome["records"], actions=outcome["actions"],
                      conflicts=outcome["conflicts"], zone_id=zone_id)
        if outcome["changed"]:
            result["operation"] = outcome["operation"]
            result["diff"] = dict(before=dict(records=outcome["before"]), after=dict(records=outcome["records"]))
        return result

    run_module(module, execute, **empty)


if __name__ == "__main__":
    main()
