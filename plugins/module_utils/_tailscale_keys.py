# -*- coding: utf-8 -*-
# Copyright (c) 2026, m8trx.deployer contributors
# Simplified BSD License (see LICENSES/BSD-2-Clause.txt or https://opensource.org/licenses/BSD-2-Clause)
# SPDX-License-Identifier: BSD-2-Clause
"""Pure logic of ``tailscale_authkey``: input checks, key matching and the rotation decision.

An auth key's secret cannot be read back, so a key is identified by its ``description`` and matched
on its capabilities (tag set, reusable, ephemeral, preauthorized). ``plan()`` looks at the valid keys
with that description and decides: keep the newest matching key while it has more than
``rotate_before`` seconds left, else mint (``create`` when no key has the description, ``rotate`` when
the matching key is due, ``replace`` when only keys with other capabilities exist). ``Keys`` is the
thin client over an ``ApiClient``; everything else is pure.
"""

from __future__ import annotations

import email.utils
import re
import time
from datetime import datetime, timezone
from urllib.parse import quote

from ansible_collections.m8trx.deployer.plugins.module_utils._http import AuthError, ServerError, TransportError

DESCRIPTION = re.compile(r"^[A-Za-z0-9 -]{1,50}$")
TAG = re.compile(r"^tag:[A-Za-z0-9-]+$")
DURATION = re.compile(r"^\s*(\d+)\s*([smhdw]?)\s*$")
UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
MAX_EXPIRY = 90 * 86400  # Tailscale auth keys live at most 90 days
FLAGS = ("reusable", "ephemeral", "preauthorized")


def parse_duration(value, name):
    """Seconds from an int or a string such as ``"90d"``, ``"12h"``, ``"3600"``; ValueError saying what to fix."""
    if isinstance(value, bool) or value is None:
        raise ValueError("%s must be seconds (an integer) or a duration such as 90d, 12h, 30m; got %r" % (name, value))
    if isinstance(value, int):
        seconds = value
    else:
        found = DURATION.match(str(value))
        if not found:
            raise ValueError("%s must be seconds (an integer) or a duration such as 90d, 12h, 30m; got %r" % (name, value))
        seconds = int(found.group(1)) * UNITS[found.group(2)]
    if seconds < 0:
        raise ValueError("%s must not be negative; got %r" % (name, value))
    return seconds


def validate(params, oauth):
    """The wanted key as a dict, or raise ValueError with a message saying what to fix (no API call yet)."""
    description = params["description"]
    if not DESCRIPTION.match(description or ""):
        raise ValueError("description %r is not valid: use 1-50 letters, digits, dashes and spaces (it identifies the key)"
                         % description)
    tags = sorted(set(params.get("tags") or []))
    bad = [tag for tag in tags if not TAG.match(tag)]
    if bad:
        raise ValueError("tags %s are not valid: each tag is tag: followed by letters, digits and dashes" % ", ".join(bad))
    wanted = dict(description=description, tags=tags, state=params.get("state") or "present")
    if wanted["state"] == "absent":
        return wanted
    expiry = parse_duration(params["expiry"], "expiry")
    rotate_before = parse_duration(params["rotate_before"], "rotate_before")
    if not 0 < expiry <= MAX_EXPIRY:
        raise ValueError("expiry must be between 1 second and 90 days; got %s seconds" % expiry)
    if rotate_before >= expiry:
        raise ValueError("rotate_before (%ss) must be shorter than expiry (%ss), else every run would mint a new key"
                         % (rotate_before, expiry))
    if oauth and not tags:
        raise ValueError("tags are required when authenticating with an OAuth client: its keys are owned by the "
                         "tailnet and must be tagged")
    wanted.update(expiry=expiry, rotate_before=rotate_before, **dict((flag, bool(params[flag])) for flag in FLAGS))
    return wanted


def parse_time(text):
    """Epoch seconds of an RFC 3339 timestamp (``2026-01-02T03:04:05Z``, fractions allowed), or None."""
    if not isinstance(text, str) or not text:
        return None
    text = re.sub(r"\.\d+", "", text.strip()).replace("Z", "+00:00")
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    return (when if when.tzinfo else when.replace(tzinfo=timezone.utc)).timestamp()


def iso(epoch):
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def server_now(date_header, fallback=None):
    """The control plane's clock from an HTTP ``Date`` header, so a skewed controller clock neither
    churns keys nor misses a rotation; the local clock when the header is missing or unreadable."""
    try:
        when = email.utils.parsedate_to_datetime(date_header) if date_header else None
    except (TypeError, ValueError, IndexError):
        when = None
    if when is None or when.tzinfo is None:
        return time.time() if fallback is None else fallback
    return when.timestamp()


def create_capabilities(key):
    create = (((key or {}).get("capabilities") or {}).get("devices") or {}).get("create") or {}
    return create if isinstance(create, dict) else {}


def summary(key):
    """The documented, secret-free view of a key."""
    create = create_capabilities(key)
    out = dict(id=key.get("id"), description=key.get("description", ""), created=key.get("created"),
               expires=key.get("expires"), invalid=bool(key.get("invalid")), tags=sorted(create.get("tags") or []))
    out.update((flag, bool(create.get(flag))) for flag in FLAGS)
    return out


def matches(key, wanted):
    view = summary(key)
    return view["tags"] == wanted["tags"] and all(view[flag] == wanted[flag] for flag in FLAGS)


def is_valid(key, now):
    """Usable for joining: an auth key, not revoked or invalid, and not yet expired."""
    if key.get("keyType", "auth") != "auth" or key.get("invalid") or key.get("revoked"):
        return False
    expires = parse_time(key.get("expires"))
    return expires is None or expires > now


def plan(keys, wanted, now):
    """Decide what to do with the valid keys carrying ``wanted["description"]``.

    Returns ``{"operation": None|"create"|"rotate"|"replace"|"delete", "keep": key|None, "valid": [...],
    "duplicates": [...], "replaced": [...], "remaining": seconds|None}``; ``replaced`` are the keys a
    newly minted one supersedes (all valid keys of the description), ``duplicates`` the other valid keys
    when one is kept.
    """
    valid = [k for k in keys if k.get("description") == wanted["description"] and is_valid(k, now)]
    valid.sort(key=lambda k: (parse_time(k.get("created")) or 0, k.get("id") or ""), reverse=True)
    out = dict(operation=None, keep=None, valid=valid, duplicates=[], replaced=[], remaining=None)
    if wanted.get("state") == "absent":
        out.update(operation="delete" if valid else None, replaced=valid)
        return out
    matching = [k for k in valid if matches(k, wanted)]
    if matching:
        expires = parse_time(matching[0].get("expires"))
        out["remaining"] = None if expires is None else expires - now
        if out["remaining"] is None or out["remaining"] > wanted["rotate_before"]:
            out.update(keep=matching[0], duplicates=[k for k in valid if k is not matching[0]])
            return out
        out["operation"] = "rotate"
    else:
        out["operation"] = "replace" if valid else "create"
    out["replaced"] = valid
    return out


def create_body(wanted):
    create = dict((flag, wanted[flag]) for flag in FLAGS)
    if wanted["tags"]:
        create["tags"] = list(wanted["tags"])
    return {"keyType": "auth", "capabilities": {"devices": {"create": create}}, "expirySeconds": wanted["expiry"],
            "description": wanted["description"]}


def predicted(wanted, now):
    """The summary of the key a mint would return (check mode)."""
    key = dict(id=None, description=wanted["description"], created=iso(now), expires=iso(now + wanted["expiry"]),
               capabilities={"devices": {"create": dict(((f, wanted[f]) for f in FLAGS), tags=wanted["tags"])}})
    return summary(key)


def missing_tags(policy, tags):
    """The wanted tags that the policy's ``tagOwners`` does not define."""
    owners = policy.get("tagOwners") if isinstance(policy, dict) else None
    owners = owners if isinstance(owners, dict) else {}
    return [tag for tag in tags if tag not in owners]


MINT_ATTEMPTS = 3


class Keys(object):
    """The tailnet's auth keys over an ``ApiClient`` (list with details, policy tag check, revoke, mint)."""

    def __init__(self, client, tailnet):
        self.client, self.base = client, "/tailnet/%s" % quote(tailnet, safe="")

    def list(self, description):
        """(every key, with details where the listing lacks them, server time)."""
        response = self.client.get(self.base + "/keys", query={"all": True})
        out = []
        for key in (response.json or {}).get("keys") or []:
            if not isinstance(key, dict) or key.get("description", description) != description:
                continue
            if not all(name in key for name in ("description", "capabilities", "expires")):
                key = self.client.get(self.base + "/keys/" + quote(str(key.get("id")), safe=""), allow_404=True)
                key = key.json if key is not None else None
            if isinstance(key, dict):
                out.append(key)
        return out, server_now(response.headers.get("date"))

    def tags_missing_from_policy(self, tags, warn):
        """One read of the policy (JSON); a credential without policy_file:read only warns."""
        if not tags:
            return []
        try:
            policy = self.client.get(self.base + "/acl", headers={"Accept": "application/json"}).json
        except AuthError as exc:
            warn("could not read the policy file to check the tags (%s); minting anyway" % exc)
            return []
        return missing_tags(policy, tags)

    def revoke(self, key_id):
        self.client.delete(self.base + "/keys/" + quote(key_id, safe=""), allow_404=True)

    def mint(self, wanted, known_ids):
        """POST; when the answer is lost, revoke the keys of this description that appeared meanwhile (their
        secret never reached us) and mint again, a bounded number of times; never leaves such a key valid."""
        attempt = 1
        while True:
            try:
                minted = self.client.post(self.base + "/keys", json=create_body(wanted), expected=(200, 201)).json or {}
            except (ServerError, TransportError):
                listed, now = self.list(wanted["description"])
                for orphan in listed:
                    if orphan.get("id") not in known_ids and is_valid(orphan, now):
                        self.revoke(orphan["id"])
                if attempt >= MINT_ATTEMPTS:
                    raise
                attempt += 1
                continue
            self.client.add_secrets([minted.get("key")])
            return minted
