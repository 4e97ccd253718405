# -*- coding: utf-8 -*-
# Copyright (c) 2026, m8trx.deployer contributors
# Simplified BSD License (see LICENSES/BSD-2-Clause.txt or https://opensource.org/licenses/BSD-2-Clause)
# SPDX-License-Identifier: BSD-2-Clause
"""Pure logic of ``tailscale_acl``: the customer entries it owns in the policy file, the edit, the isolation
guard, and the ETag-guarded read -> edit -> validate -> write loop.

Per customer tag ``T`` (``tag_prefix`` + name) the module owns:

* ``tagOwners[T]`` (value: ``tag_owners``);
* the intra-customer rule ``{"action": "accept", "src": [T], "dst": [T:*]}``;
* the customer -> brain rule ``{"action": "accept", "src": [T], "dst": [<brain_tag>:<brain_port>]}``;
* the operator rule ``{"action": "accept", "src": [<operator_tags>..., <brain_tag>], "dst": [T:*]}``.

An ``acls`` rule is owned when it has exactly one of those shapes (src/dst compared as sets, no other key),
or when it carries the trailing comment ``// m8trx-managed`` (added to the rules this module writes) and
names ``T`` - so rules written for an earlier ``brain_port`` are replaced, not left behind. The operator and
brain tags get a ``tagOwners`` entry when they have none (never changed or removed: they are shared).
Everything else in the file is left byte for byte (see ``_hujson``).

A policy with neither an ``acls`` nor a ``grants`` key allows all traffic in Tailscale (``"acls": []`` or
``"grants": []`` denies all), so the guard treats it like the explicit allow-all rule: writing an ``acls`` section
would silently turn the tailnet default-deny, which only ``remove_allow_all`` accepts.
"""

from __future__ import annotations

import ipaddress
import json
import random
import re
import time
from urllib.parse import quote

from ansible_collections.m8trx.deployer.plugins.module_utils import _hujson as hujson
from ansible_collections.m8trx.deployer.plugins.module_utils._customers import NAME, NAME_RULE
from ansible_collections.m8trx.deployer.plugins.module_utils._http import PreconditionFailed, tailscale_error_message

MARKER = "m8trx-managed"
TAG = re.compile(r"^tag:[A-Za-z0-9-]+$")
OWNER = re.compile(r"^[^\s\"]+$")
ALLOW_ALL = ({"action": "accept", "src": ["*"], "dst": ["*:*"]}, {"src": ["*"], "dst": ["*"], "ip": ["*"]})
TAG_WILDCARDS = frozenset(("*", "autogroup:tagged", "autogroup:danger-all"))
TAILNET_RANGES = (ipaddress.ip_network(u"100.64.0.0/10"), ipaddress.ip_network(u"fd7a:115c:a1e0::/48"))
ANY = "any customer tag"
IMPLICIT_ALLOW_ALL = 'no "acls" or "grants" section (implicit allow-all)'


class PolicyError(ValueError):
    """The policy cannot be changed safely, or the API refused the edit; the message says what to fix."""


def validate(params):
    """The settings as a dict, or ValueError saying what to fix (before any API call)."""
    names = list(params.get("customers") or [])
    if not names:
        raise ValueError("customers must name at least one customer")
    bad = [repr(n) for n in names if not isinstance(n, str) or not NAME.match(n)]
    if bad:
        raise ValueError("customers %s are not valid: each name is %s" % (", ".join(bad), NAME_RULE))
    prefix = params["tag_prefix"]
    if not TAG.match(prefix or ""):
        raise ValueError("tag_prefix %r is not valid: it must be tag: followed by letters, digits and dashes (Tailscale "
                         "tags allow nothing else), for example tag:m8trx-cust-" % prefix)
    operators, brain = list(params.get("operator_tags") or []), params["brain_tag"]
    for what, tag in [("operator_tags", t) for t in operators] + [("brain_tag", brain)]:
        if not isinstance(tag, str) or not TAG.match(tag):
            raise ValueError("%s: %r is not a valid tag: use tag: followed by letters, digits and dashes" % (what, tag))
        if tag.startswith(prefix):
            raise ValueError("%s: %s starts with tag_prefix %s, so it would be a customer tag; pick a tag outside "
                             "the customer namespace" % (what, tag, prefix))
    owners = list(params.get("tag_owners") or [])
    if not owners or not all(isinstance(o, str) and OWNER.match(o) for o in owners):
        raise ValueError("tag_owners must list at least one owner (autogroup:admin, group:..., tag:... or a user's "
                         "login), without spaces or quotes; got %r" % (owners,))
    port = params["brain_port"]
    if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
        raise ValueError("brain_port must be a TCP port number between 1 and 65535; got %r" % (port,))
    if params["max_retries"] < 0:
        raise ValueError("max_retries must be 0 or more; got %r" % params["max_retries"])
    unique = []
    for name in names:
        if name not in unique:
            unique.append(name)
    return dict(customers=unique, tags=[prefix + n for n in unique], prefix=prefix, owners=owners, operators=operators,
                brain=brain, port=port, state=params["state"], remove_allow_all=bool(params.get("remove_allow_all")))


def desired_rules(tag, cfg):
    """The acls rules owned for one customer tag, in the order they are written."""
    return [{"action": "accept", "src": [tag], "dst": [tag + ":*"]},
            {"action": "accept", "src": [tag], "dst": ["%s:%d" % (cfg["brain"], cfg["port"])]},
            {"action": "accept", "src": [t for i, t in enumerate(cfg["operators"] + [cfg["brain"]])
                                         if t not in cfg["operators"][:i]], "dst": [tag + ":*"]}]


def _strings(value):
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def same_rule(rule, want):
    """``rule`` has exactly the shape ``want``: the same keys, list values compared as sets."""
    if not isinstance(rule, dict) or set(rule) != set(want):
        return False
    for key, value in want.items():
        if isinstance(value, list):
            if not _strings(rule[key]) or set(rule[key]) != set(value):
                return False
        elif rule[key] != value:
            return False
    return True


def _dst_host(entry):
    """'tag:web:22,80' -> 'tag:web'; '*:*' -> '*'; '[fd7a::1]:22' -> 'fd7a::1'."""
    host = entry.rpartition(":")[0] if ":" in entry else entry
    return host[1:-1] if host.startswith("[") and host.endswith("]") else host


def _cover(entry, hosts, prefix):
    """The customer tags a selector may match: the tag, ANY (a wildcard or a tailnet address range), or None."""
    if isinstance(hosts.get(entry), str):
        entry = hosts[entry]
    if entry in TAG_WILDCARDS:
        return ANY
    if entry.startswith("tag:"):
        return entry if entry.startswith(prefix) else None
    try:
        net = ipaddress.ip_network(entry, strict=False)
    except ValueError:
        return None
    return ANY if any(net.version == r.version and net.overlaps(r) for r in TAILNET_RANGES) else None


def breach(section, rule, hosts, prefix):
    """Why ``rule`` lets one customer tag reach another's, or None."""
    if not isinstance(rule, dict):
        return None
    src = rule.get("src", rule.get("users") if section == "acls" else None)
    dst = rule.get("dst", rule.get("ports") if section == "acls" else None)
    if not _strings(src) or not _strings(dst):
        return None
    srcs = [(s, _cover(s, hosts, prefix)) for s in src]
    dsts = [(d, _cover(_dst_host(d) if section == "acls" else d, hosts, prefix)) for d in dst]
    for s, a in srcs:
        for d, b in dsts:
            if a is not None and b is not None and (ANY in (a, b) or a != b):
                return "src %s can reach dst %s" % (json.dumps(s), json.dumps(d))
    return None


def references(value, tag, path=""):
    """JSON paths in ``value`` whose key or string names ``tag`` (or ``tag:<port>``)."""
    def hit(text):
        return isinstance(text, str) and (text == tag or text.startswith(tag + ":"))
    found = []
    if isinstance(value, dict):
        for key, item in value.items():
            sub = "%s.%s" % (path, key) if path else key
            found.extend([sub] if hit(key) else references(item, tag, sub))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.extend(references(item, tag, "%s[%d]" % (path, index)))
    elif hit(value):
        found.append(path)
    return found


def _section(root, key, kind, text):
    item = root.member(key)
    if item is not None and item.node.kind != kind:
        raise PolicyError("the policy's %s is not %s (line %d); fix the policy file first"
                          % (key, "an object" if kind == "object" else "a list", text.count("\n", 0, item.start) + 1))
    return item


def _label(text, section, index, item):
    return "%s[%d] (line %d)" % (section, index, text.count("\n", 0, item.start) + 1)


def _render(obj):
    return json.dumps(obj, separators=(", ", ": "))


def _new_section(key, entries, marker=None):
    """A callable rendering ``"key": {..}`` / ``"key": [..]`` for ``append_items``."""
    is_object = isinstance(entries, dict)

    def render(indent, unit, newline):
        parts = [(_render(k) + ": " + _render(v)) for k, v in entries.items()] if is_object else [_render(r) for r in entries]
        opener, closer = ("{", "}") if is_object else ("[", "]")
        if indent is None or not parts:
            return _render(key) + ": " + opener + ", ".join(parts) + closer
        tail = " // " + marker if marker and not is_object else ""
        lines = "".join(newline + indent + unit + part + "," + tail for part in parts)
        return _render(key) + ": " + opener + lines + newline + indent + closer
    return render


def implicit_allow_all(root):
    """Tailscale allows all traffic when the policy has neither an ``acls`` nor a ``grants`` key (an empty
    list in either denies all): tailscale/tailscale#2799, and Headscale's port of the rule."""
    return root.member("acls") is None and root.member("grants") is None


def refusal(problems, implicit, cfg):
    """The isolation guard's message: the rules that breach isolation, and/or the implicit allow-all."""
    parts = []
    if implicit:
        parts.append('the policy file has neither an "acls" nor a "grants" section, which Tailscale treats as '
                     'allow-all: every device reaches every other, customer tags (%s*) included. Writing this '
                     'module\'s "acls" section ends that allow-all and makes the tailnet default-deny, silently '
                     'cutting off every device that no acls or grants rule covers. Set remove_allow_all=true to '
                     'accept that (the result is default-deny plus this module\'s rules), or first add the rules '
                     'your other devices need to the policy file (any "acls" or "grants" section, even an empty '
                     'one, ends the allow-all).' % cfg["prefix"])
    if problems:
        hint = "" if cfg["remove_allow_all"] else (" For the default allow-all rule, delete it from the policy file or "
                                                   "set remove_allow_all=true to let this module drop it.")
        which = "that rule" if len(problems) == 1 else "those rules"
        parts.append("the resulting policy would let customer tags (%s*) reach each other: %s. Remove or narrow %s.%s"
                     % (cfg["prefix"], "; ".join(problems), which, hint))
    return "refusing to write: " + " Also, ".join(parts)


def plan(text, cfg):
    """Edit the policy text for ``cfg``: ``{"text", "changed", "operation", "customers", "removed_allow_all"}``.
    PolicyError when the result would break isolation or leave a removed tag referenced."""
    try:
        root = hujson.parse(text)
    except hujson.HuJSONError as exc:
        raise PolicyError("the current policy file is not valid HuJSON: %s" % exc)
    if root.kind != "object":
        raise PolicyError("the policy file is not a JSON object")
    owners_item, acls_item = _section(root, "tagOwners", "object", text), _section(root, "acls", "array", text)
    grants_item, ssh_item = _section(root, "grants", "array", text), _section(root, "ssh", "array", text)
    present, editor = cfg["state"] == "present", hujson.Editor(text)
    hosts = root.value.get("hosts") if isinstance(root.value.get("hosts"), dict) else {}
    existed, touched, new_owners, dropped_owners = set(), set(), {}, []
    # tagOwners: the customers' entries are owned; the operator and brain tags are only added when missing
    for tag in (cfg["operators"] + [cfg["brain"]]) if present else []:
        if not (owners_item and owners_item.node.members(tag)):
            new_owners[tag] = cfg["owners"]
    for tag in cfg["tags"]:
        found = owners_item.node.members(tag) if owners_item else []
        existed.update([tag] if found else [])
        if present and not found:
            new_owners[tag] = cfg["owners"]
            touched.add(tag)
        for index, item in enumerate(found):
            if not present or index:
                hujson.remove_item(editor, owners_item.node, item)
                dropped_owners.append(item)
                touched.add(tag)
            elif not _strings(item.node.value) or set(item.node.value) != set(cfg["owners"]):
                hujson.replace_value(editor, item, _render(cfg["owners"]))
                touched.add(tag)
    # acls: keep the first copy of each wanted rule, drop every other owned rule
    wanted = dict((tag, desired_rules(tag, cfg)) for tag in cfg["tags"])
    kept = dict((tag, [False] * 3) for tag in cfg["tags"])
    rules, removed, allow_all = [], [], []
    for index, item in enumerate(acls_item.node.items if acls_item else []):
        rule, label = item.node.value, _label(text, "acls", index, item)
        marked = MARKER in hujson.trailing_comment(text, item)
        owner = next((t for t in cfg["tags"] if any(same_rule(rule, w) for w in wanted[t])
                      or (marked and references(rule, t))), None)
        if owner is not None:
            existed.add(owner)
            slot = next((i for i, w in enumerate(wanted[owner]) if same_rule(rule, w) and not kept[owner][i]), None)
            if present and slot is not None:
                kept[owner][slot] = True
                rules.append(("acls", label, rule))
            else:
                removed.append(item)
                touched.add(owner)
        elif cfg["remove_allow_all"] and same_rule(rule, ALLOW_ALL[0]):
            removed.append(item)
            allow_all.append(label)
        else:
            rules.append(("acls", label, rule))
    additions = []
    for tag in cfg["tags"] if present else []:
        for slot, rule in enumerate(wanted[tag]):
            if not kept[tag][slot]:
                additions.append(rule)
                rules.append(("acls", "the new rule for %s" % tag, rule))
                touched.add(tag)
    for section, item in (("grants", grants_item), ("ssh", ssh_item)):
        for index, entry in enumerate(item.node.items if item else []):
            if section == "grants" and cfg["remove_allow_all"] and same_rule(entry.node.value, ALLOW_ALL[1]):
                hujson.remove_item(editor, item.node, entry)
                allow_all.append(_label(text, section, index, entry))
            else:
                rules.append((section, _label(text, section, index, entry), entry.node.value))
    # the isolation guard, on the resulting rule set, before anything is written; no acls and no grants = allow-all
    implicit = implicit_allow_all(root)
    problems = ["%s %s: %s" % (label, _render(rule), why) for section, label, rule in rules
                for why in [breach(section, rule, hosts, cfg["prefix"])] if why]
    if problems or (implicit and not cfg["remove_allow_all"]):
        raise PolicyError(refusal(problems, implicit and not cfg["remove_allow_all"], cfg))
    allow_all.extend([IMPLICIT_ALLOW_ALL] if implicit else [])
    for item in removed:
        hujson.remove_item(editor, acls_item.node, item)
    sections = []
    if new_owners and owners_item:
        hujson.append_items(editor, owners_item.node, [_render(k) + ": " + _render(v) for k, v in new_owners.items()],
                            removed=dropped_owners)
    elif new_owners:
        sections.append(_new_section("tagOwners", new_owners))
    if additions and acls_item:
        hujson.append_items(editor, acls_item.node, [_render(r) for r in additions], removed=removed, marker=MARKER)
    elif additions or implicit:  # implicit: remove_allow_all, so write an acls section even if it is empty
        sections.append(_new_section("acls", additions, marker=MARKER))
    hujson.append_items(editor, root, sections)
    new_text = editor.apply()
    if not present and new_text != text:
        result = hujson.loads(new_text)
        for tag in cfg["tags"]:
            left = references(result, tag)
            if left:
                raise PolicyError("refusing to remove %s: the policy still refers to it outside this module's entries "
                                  "(%s); remove those references first" % (tag, ", ".join(left)))
    changed = new_text != text
    operation = None
    if changed:
        operation = "update" if present and (existed & touched or not touched) else "create" if present else "delete"
    customers = [dict(name=n, tag=t, operation=(None if t not in touched else "delete" if not present
                                                else "update" if t in existed else "create"))
                 for n, t in zip(cfg["customers"], cfg["tags"])]
    return dict(text=new_text, changed=changed, operation=operation, customers=customers, removed_allow_all=allow_all)


class PolicyFile(object):
    """The policy file endpoints, as HuJSON text (comments kept) under ETag."""

    def __init__(self, client, tailnet):
        self.client, self.path = client, "/tailnet/%s/acl" % quote(tailnet, safe="")

    def read(self):
        response = self.client.get(self.path, headers={"Accept": "application/hujson"})
        if not response.etag:
            raise PolicyError("GET %s returned no ETag; refusing to write the policy without If-Match" % self.path)
        try:
            return response.body.decode("utf-8"), response.etag
        except UnicodeDecodeError:
            raise PolicyError("the policy file returned by the API is not UTF-8")

    def validate(self, text):
        """POST /acl/validate: a 200 that carries a message is a refusal too."""
        body = self.client.post(self.path + "/validate", data=text.encode("utf-8"), content_type="application/hujson",
                                idempotent=True).json
        if isinstance(body, dict) and body.get("message"):
            raise PolicyError("the Tailscale API refused the edited policy: %s" % tailscale_error_message(body))

    def write(self, text, etag):
        """POST with If-Match (safe to repeat: once applied, the old ETag no longer matches); the new ETag."""
        quoted = '"%s"' % etag.strip()[2:].strip('"') if etag.strip().startswith("W/") else '"%s"' % etag.strip().strip('"')
        response = self.client.post(self.path, data=text.encode("utf-8"), content_type="application/hujson",
                                    headers={"If-Match": quoted, "Accept": "application/hujson"}, idempotent=True)
        return response.etag


def apply(api, cfg, check_mode=False, validate_first=True, max_retries=5, sleep=time.sleep, rand=random.random):
    """Read -> plan -> validate -> write under If-Match; on 412 read again, re-plan, re-validate, up to
    ``max_retries`` times. Returns the module result (without ``diff`` when nothing changes).

    A write whose answer was lost may have landed although its retry got a 412: when the file read next is
    exactly the text that was sent, that write is reported (changed), not the no-op the new plan sees."""
    attempt, sent = 0, None
    while True:
        text, etag = api.read()
        if sent is not None and text == sent[0]:
            return dict(sent[1], policy_etag=etag, retries=attempt)
        try:
            edit = plan(text, cfg)
        except hujson.HuJSONError as exc:
            raise PolicyError("cannot edit the policy file: %s" % exc)
        result = dict(changed=edit["changed"], tags=list(cfg["tags"]), policy_etag=etag, customers=edit["customers"],
                      removed_allow_all=edit["removed_allow_all"], retries=attempt)
        if not edit["changed"]:
            return result
        result.update(operation=edit["operation"],
                      diff=dict(before=text, after=edit["text"], before_header="policy file (ETag %s)" % etag,
                                after_header="policy file (edited by tailscale_acl)"))
        if check_mode:
            return result
        if validate_first:
            api.validate(edit["text"])
        try:
            result["policy_etag"] = api.write(edit["text"], etag) or etag
            return result
        except PreconditionFailed as exc:
            sent = (edit["text"], result) if exc.attempts > 1 else None
            if attempt >= max_retries:
                now = api.read() if sent is not None else None
                if now is not None and now[0] == sent[0]:
                    return dict(result, policy_etag=now[1], retries=attempt)
                exc.message = ("the policy file kept changing while this module was writing it: %d write(s) refused with "
                               "412 precondition failed; re-run, or raise max_retries (%s)" % (attempt + 1, exc.message))
                raise
        attempt += 1
        sleep(rand() * min(5.0, 0.25 * 2 ** attempt))
