# Copyright (c) 2026, m8trx.deployer contributors
# Simplified BSD License (see LICENSES/BSD-2-Clause.txt or https://opensource.org/licenses/BSD-2-Clause)
# SPDX-License-Identifier: BSD-2-Clause
"""_tailscale_policy.plan on policies without an acls or grants section.

Tailscale allows all traffic when a policy has neither an ``acls`` nor a ``grants`` key (tailscale/tailscale#2799:
"by design"; Headscale ports the rule, hscontrol/policy/v2/filter.go), while an empty list in either denies all
(tailscale/tailscale#19595, juanfont/headscale#3211). Adding an ``acls`` section to such a policy turns the whole
tailnet default-deny, so plan treats it like the explicit allow-all rule."""

from __future__ import annotations

import pytest

from ansible_collections.m8trx.deployer.plugins.module_utils import _hujson as hujson
from ansible_collections.m8trx.deployer.plugins.module_utils import _tailscale_policy as policy

OWNERS = """{
  // no access rules at all: Tailscale allows everything
  "tagOwners": {
    "tag:mgmt": ["autogroup:admin"],
    "tag:m8trx-brain": ["autogroup:admin"],
  },
  "ssh": [{"action": "check", "src": ["autogroup:member"], "dst": ["autogroup:self"], "users": ["root"]}],
}
"""
COMMENTED_OUT = """{
  "tagOwners": {"tag:web": ["autogroup:admin"]},
  // "acls": [
  //   {"action": "accept", "src": ["*"], "dst": ["*:*"]},
  // ],
}
"""
NEITHER = [pytest.param("{}", id="empty-object"), pytest.param(OWNERS, id="owners-and-ssh-only"),
           pytest.param(COMMENTED_OUT, id="acls-commented-out")]


def cfg(state="present", remove_allow_all=False, customers=("acme", "bigco")):
    return policy.validate(dict(customers=list(customers), state=state, tag_prefix="tag:m8trx-cust-",
                                tag_owners=["autogroup:admin"], operator_tags=["tag:mgmt"], brain_tag="tag:m8trx-brain",
                                brain_port=443, max_retries=5, remove_allow_all=remove_allow_all))


def owned_rules(doc):
    return [r for r in doc.get("acls", []) if any("tag:m8trx-cust-" in s for s in r["src"] + r["dst"])]


@pytest.mark.parametrize("text", NEITHER)
@pytest.mark.parametrize("state", ["present", "absent"])
def test_neither_section_is_allow_all_and_refused(text, state):
    with pytest.raises(policy.PolicyError) as refused:
        policy.plan(text, cfg(state))
    msg = str(refused.value)
    assert msg.startswith("refusing to write: ")
    assert 'neither an "acls" nor a "grants" section' in msg and "allow-all" in msg
    assert "default-deny" in msg and "remove_allow_all=true" in msg
    assert "tag:m8trx-cust-*" in msg


@pytest.mark.parametrize("text", NEITHER)
def test_remove_allow_all_writes_default_deny_plus_the_rules(text):
    edit = policy.plan(text, cfg(remove_allow_all=True))
    assert edit["changed"] and edit["removed_allow_all"] == [policy.IMPLICIT_ALLOW_ALL]
    doc = hujson.loads(edit["text"])
    assert "grants" not in doc and len(doc["acls"]) == 6 and owned_rules(doc) == doc["acls"]
    assert {r["action"] for r in doc["acls"]} == {"accept"}
    assert all(r in doc["acls"] for n in ("acme", "bigco") for r in policy.desired_rules("tag:m8trx-cust-" + n, cfg()))
    if text != "{}":  # multi-line files: every rule on a line of its own, marked
        assert edit["text"].count("// " + policy.MARKER) == 6
    again = policy.plan(edit["text"], cfg())  # now default-deny: no longer allow-all, no flag needed
    assert not again["changed"] and again["removed_allow_all"] == []


def test_remove_allow_all_keeps_the_commented_out_section():
    edit = policy.plan(COMMENTED_OUT, cfg(remove_allow_all=True))
    assert edit["text"].startswith('{\n  "tagOwners": {"tag:web": ["autogroup:admin"], ')
    assert edit["text"].endswith("\n".join(COMMENTED_OUT.split("\n")[2:]))


def test_absent_with_remove_allow_all_writes_an_empty_acls_section():
    edit = policy.plan(OWNERS, cfg(state="absent", remove_allow_all=True))
    assert edit["changed"] and edit["removed_allow_all"] == [policy.IMPLICIT_ALLOW_ALL]
    doc = hujson.loads(edit["text"])
    assert doc["acls"] == [] and '"acls": []' in edit["text"]
    assert doc["tagOwners"] == hujson.loads(OWNERS)["tagOwners"]
    assert not policy.plan(edit["text"], cfg(state="absent"))["changed"]


@pytest.mark.parametrize("text", [
    pytest.param('{"acls": []}', id="empty-acls-one-line"),
    pytest.param('{\n  "acls": [],\n}\n', id="empty-acls"),
    pytest.param('{\n  "grants": [],\n}\n', id="empty-grants"),
    pytest.param('{\n  "grants": [\n    {"src": ["tag:mgmt"], "dst": ["tag:web"], "ip": ["22"]},\n  ],\n}\n',
                 id="grants-only"),
])
def test_an_empty_or_grants_only_section_is_not_allow_all(text):
    edit = policy.plan(text, cfg())
    assert edit["changed"] and edit["removed_allow_all"] == []
    doc = hujson.loads(edit["text"])
    assert len(owned_rules(doc)) == 6 and doc.get("grants") == hujson.loads(text).get("grants")


def test_the_implicit_allow_all_and_a_breach_are_named_together():
    text = '{\n  "ssh": [\n    {"action": "accept", "src": ["tag:m8trx-cust-acme"], "dst": ["tag:m8trx-cust-bigco"],' \
           ' "users": ["root"]},\n  ],\n}\n'
    with pytest.raises(policy.PolicyError) as refused:
        policy.plan(text, cfg())
    msg = str(refused.value)
    assert 'neither an "acls" nor a "grants" section' in msg and "ssh[0] (line 3)" in msg
    with pytest.raises(policy.PolicyError) as still:
        policy.plan(text, cfg(remove_allow_all=True))  # remove_allow_all does not excuse the breach
    assert "ssh[0] (line 3)" in str(still.value) and "neither" not in str(still.value)


def test_the_explicit_allow_all_rule_is_still_refused_and_dropped():
    text = '{\n  "acls": [\n    {"action": "accept", "src": ["*"], "dst": ["*:*"]},\n  ],\n}\n'
    with pytest.raises(policy.PolicyError, match="remove_allow_all=true"):
        policy.plan(text, cfg())
    edit = policy.plan(text, cfg(remove_allow_all=True))
    assert edit["removed_allow_all"] == ["acls[0] (line 3)"] and len(hujson.loads(edit["text"])["acls"]) == 6
