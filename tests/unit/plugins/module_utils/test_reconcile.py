# Copyright (c) 2025, m8trx.deployer contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Table-driven unit tests of plugins/module_utils/_reconcile.py."""

from __future__ import annotations

import copy
import json

import pytest
from hypothesis import given, settings, strategies as st

from ansible_collections.m8trx.deployer.plugins.module_utils._reconcile import drop_none, reconcile, redact, same

CURRENT = {"id": "r1", "name": "www", "content": "1.2.3.4", "ttl": 300, "proxied": False, "created_on": "2024-01-01"}
IGNORE = ("id", "created_on")
VIEW = {"name": "www", "content": "1.2.3.4", "ttl": 300, "proxied": False}  # CURRENT without the ignored keys
CREATED = {"id": "new", "name": "www", "content": "1.2.3.4", "ttl": 300, "proxied": False, "created_on": "2025-01-01"}
UPDATED = dict(CURRENT, content="5.6.7.8")


class Api:
    """Callbacks that record their calls and return what a server would."""

    def __init__(self, check_mode):
        self.check_mode = check_mode
        self.calls = []

    def _record(self, *call):
        assert not self.check_mode, "callback %s called in check mode" % call[0]
        self.calls.append(call)

    def create(self, desired):
        self._record("create", desired)
        return dict(CREATED)

    def update(self, patch, current):
        self._record("update", patch, current)
        return dict(current, **patch)

    def delete(self, current):
        self._record("delete", current)


# id, current, desired, state, expected calls, expected result (real mode), predicted "after" in check mode
CASES = [
    ("create", None, {"name": "www", "content": "1.2.3.4", "ttl": 300, "proxied": None}, "present",
     [("create", {"name": "www", "content": "1.2.3.4", "ttl": 300})],
     {"changed": True, "operation": "create", "before": None, "after": CREATED, "changes": {},
      "diff": {"before": {}, "after": {"name": "www", "content": "1.2.3.4", "ttl": 300}}},
     {"name": "www", "content": "1.2.3.4", "ttl": 300}),
    ("update", CURRENT, {"name": "www", "content": "5.6.7.8", "ttl": 300, "proxied": None}, "present",
     [("update", {"content": "5.6.7.8"}, CURRENT)],
     {"changed": True, "operation": "update", "before": CURRENT, "after": UPDATED,
      "changes": {"content": {"before": "1.2.3.4", "after": "5.6.7.8"}},
      "diff": {"before": VIEW, "after": dict(VIEW, content="5.6.7.8")}},
     UPDATED),
    ("no-op", CURRENT, {"name": "www", "content": "1.2.3.4", "ttl": 300, "proxied": None}, "present",
     [],
     {"changed": False, "before": CURRENT, "after": CURRENT, "changes": {}, "diff": {"before": VIEW, "after": VIEW}},
     CURRENT),
    ("delete", CURRENT, {"name": "www"}, "absent",
     [("delete", CURRENT)],
     {"changed": True, "operation": "delete", "before": CURRENT, "after": None, "changes": {},
      "diff": {"before": VIEW, "after": {}}},
     None),
    ("absent no-op", None, {"name": "www"}, "absent",
     [],
     {"changed": False, "before": None, "after": None, "changes": {}, "diff": {"before": {}, "after": {}}},
     None),
]


@pytest.mark.parametrize("check_mode", [False, True], ids=["apply", "check"])
@pytest.mark.parametrize("name, current, desired, state, calls, expected, predicted", CASES, ids=[c[0] for c in CASES])
def test_reconcile_table(name, current, desired, state, calls, expected, predicted, check_mode):
    api = Api(check_mode)
    current_copy, desired_copy = copy.deepcopy(current), copy.deepcopy(desired)
    result = reconcile(current, desired, check_mode=check_mode, create=api.create, update=api.update, delete=api.delete,
                       state=state, ignore_keys=IGNORE)
    want = dict(expected, after=predicted) if check_mode else expected
    assert result == want
    assert api.calls == ([] if check_mode else calls)
    assert (current, desired) == (current_copy, desired_copy), "inputs must not be mutated"


def test_check_mode_diff_equals_apply_diff():
    for _name, current, desired, state, _calls, _expected, _predicted in CASES:
        results = [reconcile(current, desired, check_mode=mode, create=Api(mode).create, update=Api(mode).update,
                             delete=Api(mode).delete, state=state, ignore_keys=IGNORE) for mode in (True, False)]
        assert results[0]["diff"] == results[1]["diff"]
        assert results[0]["changed"] == results[1]["changed"]


def test_none_is_unmanaged_at_every_depth():
    current = {"name": "c", "ttl": 60, "settings": {"ipv4_only": True, "ipv6_only": False}, "labels": {"a": "1"}}
    desired = {"name": "c", "ttl": None, "settings": {"ipv4_only": None, "ipv6_only": False}, "labels": {"a": None}}
    result = reconcile(current, desired, check_mode=False, create=None, update=None, delete=None)
    assert result["changed"] is False and "operation" not in result


def test_update_gets_minimal_patch_and_current():
    api = Api(False)
    current = {"id": 1, "name": "c", "ttl": 60, "tags": ["a"], "settings": {"x": 1, "y": 2}}
    desired = {"name": "c", "ttl": 120, "tags": ["a"], "settings": {"x": 1, "y": 3}, "comment": "new"}
    result = reconcile(current, desired, check_mode=False, create=api.create, update=api.update, delete=api.delete)
    assert api.calls == [("update", {"ttl": 120, "settings": {"x": 1, "y": 3}, "comment": "new"}, current)]
    assert result["changes"] == {"ttl": {"before": 60, "after": 120}, "settings": {"before": {"x": 1, "y": 2}, "after": {"x": 1, "y": 3}},
                                 "comment": {"before": None, "after": "new"}}


def test_update_callback_returning_none_yields_prediction():
    current = {"id": 1, "settings": {"x": 1, "y": 2}}
    result = reconcile(current, {"settings": {"y": 3}}, check_mode=False, create=None, update=lambda patch, cur: None, delete=None)
    assert result["after"] == {"id": 1, "settings": {"x": 1, "y": 3}}
    assert result["operation"] == "update"


@pytest.mark.parametrize("compare, changed", [({}, True), ({"tags": "set"}, False), ({"tags": "ignore"}, False)])
def test_list_comparison_modes(compare, changed):
    current = {"tags": ["b", "a", "a"]}
    result = reconcile(current, {"tags": ["a", "b"]}, check_mode=True, create=None, update=None, delete=None, compare=compare)
    assert result["changed"] is changed


def test_set_mode_still_detects_membership_change():
    result = reconcile({"tags": ["a", "b"]}, {"tags": ["b", "c"]}, check_mode=True, create=None, update=None, delete=None,
                       compare={"tags": "set"})
    assert result["changes"] == {"tags": {"before": ["a", "b"], "after": ["b", "c"]}}
    assert result["after"] == {"tags": ["b", "c"]}


def test_set_mode_for_list_of_dicts_and_nested_path():
    current = {"spec": {"rules": [{"port": 22, "src": "a"}, {"port": 80, "src": "b"}], "keep": 1}}
    desired = {"spec": {"rules": [{"src": "b", "port": 80}, {"src": "a", "port": 22}]}}
    assert not reconcile(current, desired, check_mode=True, create=None, update=None, delete=None,
                         compare={"spec.rules": "set"})["changed"]
    assert reconcile(current, desired, check_mode=True, create=None, update=None, delete=None)["changed"]


@pytest.mark.parametrize("mode, changed, predicted", [
    ("value", False, {"labels": {"a": "1", "b": "2"}}),
    ("strict", True, {"labels": {"a": "1"}}),
])
def test_dict_value_vs_strict(mode, changed, predicted):
    result = reconcile({"labels": {"a": "1", "b": "2"}}, {"labels": {"a": "1"}}, check_mode=True, create=None, update=None,
                       delete=None, compare={"labels": mode})
    assert result["changed"] is changed
    assert result["after"] == predicted


def test_value_mode_merges_nested_dicts_in_prediction():
    current = {"labels": {"a": "1", "b": "2"}}
    result = reconcile(current, {"labels": {"a": "9"}}, check_mode=True, create=None, update=None, delete=None)
    assert result["after"] == {"labels": {"a": "9", "b": "2"}}
    assert result["diff"] == {"before": current, "after": {"labels": {"a": "9", "b": "2"}}}


def test_booleans_are_not_integers():
    assert reconcile({"proxied": 1}, {"proxied": True}, check_mode=True, create=None, update=None, delete=None)["changed"]
    assert not reconcile({"ttl": 1.0}, {"ttl": 1}, check_mode=True, create=None, update=None, delete=None)["changed"]


def test_normalize_is_for_comparison_only():
    def normalize(obj):
        return dict(obj, name=obj["name"].lower().rstrip(".")) if "name" in obj else obj

    current = {"id": "r1", "name": "www.example.com", "ttl": 60}
    api = Api(False)
    same_name = reconcile(current, {"name": "WWW.Example.com.", "ttl": 60}, check_mode=False, create=api.create,
                          update=api.update, delete=api.delete, normalize=normalize)
    assert same_name["changed"] is False and api.calls == []
    reconcile(current, {"name": "Other.Example.com.", "ttl": 60}, check_mode=False, create=api.create, update=api.update,
              delete=api.delete, normalize=normalize)
    assert api.calls == [("update", {"name": "Other.Example.com."}, current)]


def test_ignore_keys_with_dotted_paths():
    current = {"name": "c", "meta": {"modified_on": "yesterday", "owner": "x"}}
    desired = {"name": "c", "meta": {"modified_on": "today", "owner": "x"}}
    result = reconcile(current, desired, check_mode=True, create=None, update=None, delete=None, ignore_keys=("meta.modified_on",))
    assert result["changed"] is False
    assert result["diff"]["before"] == {"name": "c", "meta": {"owner": "x"}}


SECRET = "brain-key-Zq9fS3cr3t"


@pytest.mark.parametrize("check_mode", [False, True])
def test_secrets_redacted_in_diff_and_changes_at_any_depth(check_mode):
    current = {"name": "c", "password": "old-pw-value", "creds": {"api_key": "old-key-value", "user": "u"},
               "tokens": [{"token": "old-token-value", "label": "t"}]}
    desired = {"name": "c", "password": SECRET, "creds": {"api_key": SECRET, "user": "u"},
               "tokens": [{"token": SECRET, "label": "t"}]}
    result = reconcile(current, desired, check_mode=check_mode, create=None, update=lambda patch, cur: None, delete=None,
                       secret_keys=("password", "api_key", "token"))
    shown = json.dumps([result["diff"], result["changes"]])
    for secret in (SECRET, "old-pw-value", "old-key-value", "old-token-value"):
        assert secret not in shown
    assert result["diff"]["after"] == {"name": "c", "password": "[redacted]", "creds": {"api_key": "[redacted]", "user": "u"},
                                       "tokens": [{"token": "[redacted]", "label": "t"}]}
    assert result["changes"]["password"] == {"before": "[redacted]", "after": "[redacted]"}
    assert result["changes"]["creds"] == {"before": {"api_key": "[redacted]", "user": "u"}, "after": {"api_key": "[redacted]", "user": "u"}}
    assert result["after"]["password"] == SECRET  # raw result: the module decides what to return


def test_secret_being_set_shows_none_before():
    result = reconcile({"name": "c"}, {"name": "c", "password": SECRET}, check_mode=True, create=None, update=None,
                       delete=None, secret_keys=("password",))
    assert result["changes"] == {"password": {"before": None, "after": "[redacted]"}}
    assert result["diff"] == {"before": {"name": "c"}, "after": {"name": "c", "password": "[redacted]"}}


def test_create_diff_redacts_secret_but_callback_gets_it():
    api = Api(False)
    result = reconcile(None, {"name": "c", "api_key": SECRET}, check_mode=False, create=api.create, update=None, delete=None,
                       secret_keys=("api_key",))
    assert api.calls == [("create", {"name": "c", "api_key": SECRET})]
    assert result["diff"]["after"] == {"name": "c", "api_key": "[redacted]"}


def test_redact_helper():
    obj = {"a": {"token": "t", "keep": [1, {"token": "u", "x": None}]}, "token": None, "tuple": ({"token": "v"},)}
    original = copy.deepcopy(obj)
    assert redact(obj, ["token"]) == {"a": {"token": "[redacted]", "keep": [1, {"token": "[redacted]", "x": None}]},
                                      "token": None, "tuple": [{"token": "[redacted]"}]}
    assert obj == original
    assert redact("scalar", ["token"]) == "scalar"


def test_drop_none_helper():
    assert drop_none({"a": None, "b": {"c": None}, "d": {}, "e": [None, {"f": None}], "g": {"h": None, "i": 0}}) == \
        {"d": {}, "e": [None, {"f": None}], "g": {"i": 0}}


def test_same_helper():
    assert same({"a": [1, (2, 3)]}, {"a": [1, [2, 3]]})
    assert not same({"a": 1}, {"a": 1, "b": 2})
    assert not same([True], [1])
    assert not same(0, False)


@pytest.mark.parametrize("kwargs, message", [
    ({"state": "gone"}, "state must be 'present' or 'absent'"),
    ({"compare": {"tags": "unordered"}}, "compare mode for 'tags' must be one of"),
])
def test_invalid_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        reconcile({"tags": [1]}, {"tags": [2]}, check_mode=True, create=None, update=None, delete=None, **kwargs)


def test_no_shared_state_between_calls():
    first = reconcile(None, {"a": 1}, check_mode=True, create=None, update=None, delete=None, secret_keys=("a",))
    second = reconcile(None, {"b": 2}, check_mode=True, create=None, update=None, delete=None)
    assert first["diff"]["after"] == {"a": "[redacted]"}
    assert second["diff"]["after"] == {"b": 2}


JSON = st.recursive(st.none() | st.booleans() | st.integers(-3, 3) | st.text("ab", max_size=2),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from("xyz"), inner, max_size=3),
                    max_leaves=8)
OBJ = st.dictionaries(st.sampled_from("abcd"), JSON, max_size=4)


@settings(max_examples=300, deadline=None, database=None)
@given(current=OBJ, desired=OBJ)
def test_predicted_update_is_a_fixed_point(current, desired):
    first = reconcile(current, desired, check_mode=True, create=None, update=None, delete=None)
    second = reconcile(first["after"], desired, check_mode=True, create=None, update=None, delete=None)
    assert second["changed"] is False
    assert set(first["changes"]) <= set(desired)
