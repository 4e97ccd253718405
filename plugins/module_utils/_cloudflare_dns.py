# -*- coding: utf-8 -*-
# Copyright (c) 2026, m8trx.deployer contributors
# Simplified BSD License (see LICENSES/BSD-2-Clause.txt or https://opensource.org/licenses/BSD-2-Clause)
# SPDX-License-Identifier: BSD-2-Clause
"""Ownership-safe management of Cloudflare A records (the logic of ``m8trx.deployer.cf_dns``).

Three layers, each testable alone:

* ``validate()`` - pure: the module's options -> desired records, or ``DnsInputError`` saying what to fix.
* ``plan()`` - pure: desired records + the zone's current records -> actions (create/update/delete, via the
  one reconcile engine) and conflicts. A record is *owned* only when its comment equals the ownership
  marker exactly (the API's comment filters ignore case, so ownership is never left to the server).
  Only owned A records are ever updated or deleted; an unowned A or any CNAME at a managed name is a
  conflict.
* ``DnsZone`` + ``converge()`` - the API: read with the fewest calls (a listing that changed between its pages
  is read again by ``ApiClient.paginate``, never planned from), apply (one call per action, or the
  batch endpoint), and on a race (81057/81058/81053/81054, a lost response) re-read the names involved
  and plan again, a bounded number of rounds. 81044 on delete means already gone.
"""

from __future__ import annotations

import ipaddress
import json
import re

from ansible_collections.m8trx.deployer.plugins.module_utils._http import (
    ApiError,
    AuthError,
    ListingChanged,
    NotFound,
    PaginationError,
    RateLimited,
    ServerError,
    TransportError,
)
from ansible_collections.m8trx.deployer.plugins.module_utils._reconcile import reconcile

OWNER_COMMENT = "m8trx-managed:customer"
TTL_AUTO = 1
TTL_MIN, TTL_MAX = 60, 86400
RACE_CODES = frozenset((81057, 81058, 81053, 81054))  # exists / identical exists / CNAME vs A
GONE_CODE = 81044
MAX_ROUNDS = 5
LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
VIEW_KEYS = ("id", "name", "type", "content", "ttl", "proxied", "comment")


class DnsInputError(ValueError):
    """Bad input, found before any API call; the message says what to fix."""


class DnsConflictError(Exception):
    """Records this module does not own stand where it must write; ``conflicts`` lists them."""

    def __init__(self, message, conflicts):
        super().__init__(message)
        self.conflicts = conflicts


# -- validation (pure) ----------------------------------------------------------------------------------------
def to_ascii(name, what="name"):
    """Lowercase, no trailing dot, IDNA labels in Punycode; every label checked against LDH rules."""
    name = (name or "").strip().lower()
    name = name[:-1] if name.endswith(".") else name
    if not name:
        raise DnsInputError("%s is empty: give a DNS label such as 'acme' or an FQDN inside the zone" % what)
    try:
        name = name.encode("idna").decode("ascii") if not name.isascii() else name
    except UnicodeError:
        raise DnsInputError("%s %r cannot be converted to Punycode" % (what, name)) from None
    bad = [label for label in name.split(".") if not LABEL.match(label)]
    if bad:
        raise DnsInputError("%s %r is not a valid DNS name: label %r must be 1-63 letters, digits or hyphens and "
                            "must not start or end with a hyphen" % (what, name, bad[0]))
    if len(name) > 253:
        raise DnsInputError("%s %r is longer than 253 characters" % (what, name))
    return name


def resolve_name(name, zone_name):
    """``(fqdn, label)``: a name without dots is a label under the zone; a dotted name is an FQDN that must
    be inside the zone. ``fqdn`` is None while the zone's name is unknown (zone given by id only)."""
    ascii_name = to_ascii(name)
    if "." not in ascii_name:
        return ("%s.%s" % (ascii_name, zone_name) if zone_name else None), ascii_name
    if zone_name and ascii_name != zone_name and not ascii_name.endswith("." + zone_name):
        raise DnsInputError("name %r is not inside the zone %s: give a single label (e.g. %r) or an FQDN ending in .%s"
                            % (name, zone_name, ascii_name.split(".")[0], zone_name))
    return ascii_name, None


def validate_comment(comment, max_length):
    if not comment:
        raise DnsInputError("comment (the ownership marker) must not be empty")
    if "\n" in comment or "\r" in comment:
        raise DnsInputError("comment must be one line (no newline or carriage return)")
    if len(comment) > max_length:
        raise DnsInputError("comment is %d characters, more than comment_max_length=%d (Cloudflare allows 100 on Free "
                            "zones, 500 on paid plans): shorten it or raise comment_max_length" % (len(comment), max_length))
    return comment


def validate_record(item, index, zone_name, state, default_ttl, default_proxied):
    where = "records[%d]" % index
    if not item.get("name"):
        raise DnsInputError("%s: name is required" % where)
    fqdn, label = resolve_name(item["name"], zone_name)
    content = item.get("content")
    if content is None and state == "present":
        raise DnsInputError("%s (%s): content (the IPv4 address) is required with state=present" % (where, item["name"]))
    if content is not None:
        try:
            content = str(ipaddress.IPv4Address(str(content).strip()))
        except ValueError:
            raise DnsInputError("%s (%s): content %r is not an IPv4 address" % (where, item["name"], content)) from None
    ttl = default_ttl if item.get("ttl") is None else item["ttl"]
    if ttl != TTL_AUTO and not TTL_MIN <= ttl <= TTL_MAX:
        raise DnsInputError("%s (%s): ttl %s is invalid: use 1 (automatic) or %d-%d seconds"
                            % (where, item["name"], ttl, TTL_MIN, TTL_MAX))
    proxied = default_proxied if item.get("proxied") is None else item["proxied"]
    if proxied and ttl != TTL_AUTO:
        raise DnsInputError("%s (%s): a proxied record always has ttl 1 (automatic); set ttl: 1" % (where, item["name"]))
    return {"name": fqdn, "label": label, "content": content, "ttl": ttl, "proxied": bool(proxied)}


def validate(params):
    """Desired records from the module's options (``records`` or the ``name``/``content`` shorthand)."""
    comment = validate_comment(params.get("comment") or "", params.get("comment_max_length") or 100)
    zone_name = to_ascii(params["zone"], "zone") if params.get("zone") else None
    if zone_name and "." not in zone_name:
        raise DnsInputError("zone %r is not a zone name such as example.com" % params["zone"])
    if params.get("zone_id") and not re.match(r"^[A-Za-z0-9]{1,32}$", params["zone_id"]):
        raise DnsInputError("zone_id %r is not a Cloudflare zone id (up to 32 letters and digits)" % params["zone_id"])
    items = params.get("records")
    if items is None:
        items = [{"name": params.get("name"), "content": params.get("content")}]
    if not items:
        raise DnsInputError("records is empty: give at least one record")
    if params.get("per_page") is not None and not 1 <= params["per_page"] <= 5000:
        raise DnsInputError("per_page must be between 1 and 5000")
    if params.get("max_pages") is not None and params["max_pages"] < 1:
        raise DnsInputError("max_pages must be at least 1")
    desired, seen = [], {}
    for index, item in enumerate(items):
        record = validate_record(item, index, zone_name, params["state"],
                                 TTL_AUTO if params.get("ttl") is None else params["ttl"], bool(params.get("proxied")))
        key = record["name"] or record["label"]
        if key in seen:
            raise DnsInputError("records[%d] and records[%d] both name %s: one A record per name" % (seen[key], index, key))
        seen[key] = index
        desired.append(record)
    return {"zone_name": zone_name, "comment": comment, "desired": desired}


def finish_names(desired, zone_name):
    """Fill in the FQDNs once the zone's name is known; dotted names must be inside the zone."""
    for want in desired:
        if want["label"]:
            want["name"] = "%s.%s" % (want["label"], zone_name)
        elif want["name"] != zone_name and not want["name"].endswith("." + zone_name):
            raise DnsInputError("name %r is not inside the zone %s" % (want["name"], zone_name))
    return desired


# -- planning (pure) ------------------------------------------------------------------------------------------
def view(record):
    """The managed view of an API record (``comment`` is None when the record has none)."""
    if record is None:
        return None
    out = dict((k, record.get(k)) for k in VIEW_KEYS)
    out["name"] = (out["name"] or "").lower()
    return out


def owned(record, comment):
    """Exact, case-sensitive ownership: the comment must equal the marker character for character."""
    return record.get("type") == "A" and isinstance(record.get("comment"), str) and record["comment"] == comment


def key_of(want):
    return want["name"] or want["label"]


def _conflict(key, record, reason):
    return {"name": key, "id": record.get("id"), "type": record.get("type"), "content": record.get("content"),
            "comment": record.get("comment"), "reason": reason}


def _normalize(obj):
    obj = dict(obj)
    if obj.get("name"):
        obj["name"] = obj["name"].lower()
    if obj.get("proxied"):
        obj["ttl"] = TTL_AUTO
    return obj


def plan(desired, existing, comment, state):
    """Actions that bring ``existing`` (API records, any type and name) to ``desired`` without touching a
    record that lacks the exact ownership comment. Returns ``{"actions", "conflicts", "unchanged"}``; an
    action is ``{"operation", "name", "id", "body" (create: full record; update: changed fields only),
    "before", "after"}``."""
    by_name = {}
    for record in existing:
        if record.get("type") in ("A", "CNAME"):
            by_name.setdefault((record.get("name") or "").lower(), []).append(record)
    actions, conflicts, unchanged = [], [], []
    noop = dict(create=None, update=None, delete=None)
    for want in desired:
        key = key_of(want)
        here = by_name.get(key, []) if want["name"] else []
        mine = [r for r in here if owned(r, comment)]
        foreign = [r for r in here if not owned(r, comment)]
        if state == "absent":
            conflicts.extend(_conflict(key, r, "not owned by this module: left in place") for r in foreign)
            for record in mine:
                result = reconcile(view(record), None, state="absent", check_mode=True, **noop)
                actions.append({"operation": "delete", "name": key, "id": record["id"], "body": None,
                                "before": result["before"], "after": None})
            continue
        if foreign:
            conflicts.extend(_conflict(key, r, "a %s record not owned by this module (comment %r) is at this name"
                                       % (r.get("type"), r.get("comment"))) for r in foreign)
            continue
        keep = next((r for r in mine if r.get("content") == want["content"]), mine[0] if mine else None)
        for extra in mine:
            if extra is not keep:
                actions.append({"operation": "delete", "name": key, "id": extra["id"], "body": None,
                                "before": view(extra), "after": None})
        target = {"name": want["name"] or want["label"], "type": "A", "content": want["content"], "ttl": want["ttl"],
                  "proxied": want["proxied"], "comment": comment}
        result = reconcile(view(keep), target, check_mode=True, normalize=_normalize, ignore_keys=("id",), **noop)
        if not result["changed"]:
            unchanged.append(view(keep))
            continue
        if result["operation"] == "create":
            body, after = dict(target), dict(target, id=None)
        else:
            body = dict((k, change["after"]) for k, change in result["changes"].items())
            after = view(result["after"])
        actions.append({"operation": result["operation"], "name": key, "id": keep["id"] if keep else None,
                        "body": body, "before": view(keep), "after": after})
    return {"actions": actions, "conflicts": conflicts, "unchanged": unchanged}


def summarize(actions):
    """``operation`` of the result: the one kind of change, or ``mixed``."""
    kinds = sorted(set(a["operation"] for a in actions))
    return kinds[0] if len(kinds) == 1 else ("mixed" if kinds else None)


# -- the API --------------------------------------------------------------------------------------------------
def error_codes(error):
    """Every Cloudflare error code in an ``ApiError``'s body (errors and their error_chain)."""
    try:
        data = json.loads(error.body or "")
    except ValueError:
        return set()
    codes = set()
    for err in (data.get("errors") or []) if isinstance(data, dict) else []:
        for item in [err] + list(err.get("error_chain") or []) if isinstance(err, dict) else []:
            if isinstance(item, dict) and isinstance(item.get("code"), int):
                codes.add(item["code"])
    return codes


def is_race(error):
    """Someone changed the names we write (or our answer was lost): re-read and plan again."""
    if isinstance(error, (ServerError, TransportError, RateLimited)):
        return True
    return bool(error_codes(error) & RACE_CODES) or (isinstance(error, NotFound) and GONE_CODE in error_codes(error))


class DnsZone(object):
    """The DNS records of one zone, read with the fewest calls. ``zone_name`` may be None until learned."""

    def __init__(self, client, zone_id, zone_name=None, per_page=100, max_pages=50):
        self.client, self.zone_id, self.zone_name = client, zone_id, zone_name
        self.per_page, self.max_pages = per_page, max_pages
        self.path = "/zones/%s/dns_records" % zone_id

    @staticmethod
    def lookup_zone_id(client, zone_name):
        """``GET /zones?name=`` (needs Zone:Read); only called when no zone_id was given."""
        try:
            zones = client.get("/zones", query={"name": zone_name}).json.get("result") or []
        except AuthError as exc:
            exc.message += " (looking a zone up by name needs Zone:Read; give zone_id to use a DNS-only token)"
            raise
        found = [z for z in zones if isinstance(z, dict) and (z.get("name") or "").lower() == zone_name]
        if len(found) != 1:
            raise DnsInputError("zone %s: %s" % (zone_name, "not found (or not visible to this token); check the name or "
                                                 "give zone_id" if not found else "several zones match; give zone_id"))
        return found[0]["id"]

    def _learn(self, records):
        for record in records:
            name = record.get("zone_name") if isinstance(record, dict) else None
            if not self.zone_name and isinstance(name, str) and name:
                self.zone_name = name.lower()

    def _list(self, query, max_pages):
        """Every record of one listing; one that changed while it was read is read again (``_http``)."""
        try:
            records = list(self.client.paginate(self.path, query=query, info_key="result_info", per_page=self.per_page,
                                                max_pages=max_pages))
        except ListingChanged as exc:
            exc.message = ("zone %s kept changing while its records were listed, so nothing is planned from an incomplete "
                           "listing: %s" % (self.zone_id, exc.message))
            raise
        self._learn(records)
        return records

    def read(self, names):
        """``(records, complete)``: the zone's records at ``names`` (FQDNs; None = a label whose zone name is not
        known yet), with the fewest calls: one filtered call per name for a single name, else one listing of the
        whole zone (``complete``) with a page budget of len(names); when the zone has more pages than that, one
        call per name instead. While the zone's name is unknown (zone given by id alone) the listing comes first,
        as its records tell the name. Returns ``(None, False)`` when the zone's name had to be learned with an
        extra call: resolve the labels and call ``read_names``."""
        budget = min(max(len(names), 1), self.max_pages)  # names are distinct; None stands for one label each
        names = sorted(set(names), key=str)
        if len(names) == 1 and names[0] is not None and self.zone_name:
            return self.read_names(names), False
        try:
            return self._list({}, budget), True
        except PaginationError as exc:
            if isinstance(exc, ListingChanged) or "max_pages" not in str(exc):
                raise
        if None in names or not self.zone_name:
            self._learn(self.client.get(self.path, query={"per_page": 1}).json.get("result") or [])
            if not self.zone_name:
                raise DnsInputError("could not learn the name of zone %s from its records: set zone (its name) together "
                                    "with zone_id" % self.zone_id)
            return None, False
        return self.read_names(names), False

    def read_names(self, names):
        records = []
        for name in sorted(set(names)):
            records.extend(self._list({"name": name}, self.max_pages))
        return records

    def create(self, body):
        return self.client.post(self.path, json=body).json["result"]

    def update(self, record_id, body):
        return self.client.patch("%s/%s" % (self.path, record_id), json=body, idempotent=True).json["result"]

    def delete(self, record_id):
        try:
            self.client.delete("%s/%s" % (self.path, record_id))
        except NotFound as exc:
            if GONE_CODE not in error_codes(exc):
                raise

    def batch(self, deletes, patches, posts):
        body = {"deletes": deletes, "patches": patches, "posts": posts}
        return self.client.post(self.path + "/batch", json=dict((k, v) for k, v in body.items() if v)).json["result"]


class Store(object):
    """What we know of the zone's records: replaced per name on re-reads, updated by write responses."""

    def __init__(self):
        self.records = {}

    def replace(self, records, names=None):
        if names is None:
            self.records = {}
        else:
            names = set(names)
            self.records = dict((i, r) for i, r in self.records.items() if (r.get("name") or "").lower() not in names)
        for record in records:
            self.records[record["id"]] = record

    def values(self):
        return list(self.records.values())


def _read(zone, store, desired, keys):
    """Re-read the records at the desired names whose key is in ``keys`` into ``store``."""
    keys = set(keys)  # a label planned before the zone's name was known still finds its record
    wants = [w for w in desired if key_of(w) in keys or (w["label"] and w["label"] in keys)]
    records, complete = zone.read([w["name"] for w in wants])
    if records is None:  # the zone's name was learned: labels become FQDNs
        finish_names(desired, zone.zone_name)
        records = zone.read_names([w["name"] for w in wants])
    if zone.zone_name:
        finish_names(desired, zone.zone_name)
    if not zone.zone_name and any(w["label"] is None for w in desired):
        raise DnsInputError("zone %s has no records to learn its name from, so FQDN names cannot be checked: set zone "
                            "(its name) together with zone_id, or give labels" % zone.zone_id)
    store.replace(records, None if complete else [w["name"] or w["label"] for w in wants])


def _apply_one(zone, store, action):
    if action["operation"] == "delete":
        zone.delete(action["id"])
        store.records.pop(action["id"], None)
        return
    if action["operation"] == "create":
        record = zone.create(action["body"])
    else:
        record = zone.update(action["id"], action["body"])
    zone._learn([record])
    store.records[record["id"]] = record


def _apply_batch(zone, store, actions, batch_size):
    for start in range(0, len(actions), batch_size):
        chunk = actions[start:start + batch_size]
        result = zone.batch([{"id": a["id"]} for a in chunk if a["operation"] == "delete"],
                            [dict(a["body"], id=a["id"]) for a in chunk if a["operation"] == "update"],
                            [a["body"] for a in chunk if a["operation"] == "create"])
        for action in chunk:
            if action["operation"] == "delete":
                store.records.pop(action["id"], None)
        for record in (result.get("patches") or []) + (result.get("posts") or []):
            store.records[record["id"]] = record
        zone._learn(result.get("posts") or [])


def converge(zone, spec, state, check_mode=False, bulk=False, batch_size=200, on_conflict="fail"):
    """Read, plan, apply; on a race re-read the names involved and plan again (``MAX_ROUNDS``).
    Returns ``{"changed", "operation", "actions", "conflicts", "before", "records"}``."""
    desired, comment, store = spec["desired"], spec["comment"], Store()
    if zone.zone_name:
        finish_names(desired, zone.zone_name)
    _read(zone, store, desired, [key_of(w) for w in desired])
    first, last_error = None, None
    for _round in range(MAX_ROUNDS):
        todo = plan(desired, store.values(), comment, state)
        first = first or todo
        if todo["conflicts"] and state == "present" and on_conflict == "fail":
            raise DnsConflictError("; ".join("%s: %s (id %s)" % (c["name"], c["reason"], c["id"]) for c in todo["conflicts"])
                                   + (". Nothing was changed" if todo is first else "") + ": remove or re-comment those "
                                   "records by hand, or set on_conflict=skip to manage the other names", todo["conflicts"])
        if check_mode or not todo["actions"]:
            break
        dirty = set()
        if bulk:
            try:
                _apply_batch(zone, store, todo["actions"], batch_size)
            except ApiError as exc:
                if not is_race(exc):
                    raise
                last_error, dirty = exc, set(a["name"] for a in todo["actions"])
        else:
            for action in todo["actions"]:
                try:
                    _apply_one(zone, store, action)
                except ApiError as exc:
                    if not is_race(exc):
                        raise
                    last_error = exc
                    dirty.add(action["name"])
        if zone.zone_name and any(w["name"] is None for w in desired):
            finish_names(desired, zone.zone_name)
        if not dirty:
            break
        _read(zone, store, desired, sorted(dirty, key=str))
    else:
        raise last_error
    final = todo if check_mode else plan(desired, store.values(), comment, state)
    if check_mode:
        records = [a["after"] for a in todo["actions"] if a["after"]] + todo["unchanged"]
    else:
        keys = set(key_of(w) for w in desired)
        records = [view(r) for r in store.values() if owned(r, comment) and (r.get("name") or "").lower() in keys]
    actions = first["actions"]
    return {"changed": bool(actions), "operation": summarize(actions),
            "actions": [dict(operation=a["operation"], name=_full(a["name"], zone.zone_name), id=a["id"]) for a in actions],
            "conflicts": final["conflicts"],
            "before": _sorted([a["before"] for a in actions if a["before"]] + first["unchanged"]),
            "records": _sorted(records) if state == "present" else []}


def _full(name, zone_name):
    """A label planned before the zone's name was known, as the FQDN it became."""
    return "%s.%s" % (name, zone_name) if zone_name and "." not in name else name


def _sorted(records):
    return sorted(records, key=lambda r: (r["name"], r.get("id") or ""))
