# -*- coding: utf-8 -*-
# Copyright (c) 2025, m8trx.deployer contributors
# Simplified BSD License (see LICENSES/BSD-2-Clause.txt or https://opensource.org/licenses/BSD-2-Clause)
# SPDX-License-Identifier: BSD-2-Clause
"""The one desired-vs-current engine of m8trx.deployer: read -> desired -> diff -> apply.

A module reads the resource (``current``; None when absent, e.g. after a 404), builds ``desired`` from
the options the user set, and hands both to ``reconcile()`` with three callbacks::

    result = reconcile(current, desired, check_mode=module.check_mode,
                       create=lambda want: client.post(path, json=want).json,
                       update=lambda patch, cur: client.patch(path + cur["id"], json=patch).json,
                       delete=lambda cur: client.delete(path + cur["id"]),
                       ignore_keys=("id", "created_on"), secret_keys=("api_key",), compare={"tags": "set"})

Comparison, per key (``compare`` maps a key or a dotted path such as ``"settings.tags"`` to a mode):

* ``"value"`` (default): dicts are compared key by key over the keys ``desired`` has (keys the
  user did not set are not managed); lists in order; scalars by value (``True`` is not ``1``).
* ``"strict"``: exact equality; extra keys in the current dict are a change (use it for ``purge_*``).
* ``"set"``: lists compared ignoring order and duplicates.
* ``"ignore"``: never compared.

``before``/``after`` in the result are the raw objects (a secret the API minted on create is in
``after``: return it once, under one documented key). ``diff`` and ``changes`` never hold secrets:
every ``secret_keys`` key, at any depth, is ``[redacted]``.
"""

from __future__ import annotations

import copy
import json

REDACTED = "[redacted]"
MODES = frozenset(("value", "strict", "set", "ignore"))


def drop_none(value):
    """``value`` without the dict entries that are None, at any depth outside lists (None = unmanaged).
    A nested dict whose every entry was None is dropped as well."""
    if not isinstance(value, dict):
        return value
    out = {}
    for key, item in value.items():
        cleaned = drop_none(item)
        if item is not None and not (isinstance(item, dict) and item and not cleaned):
            out[key] = cleaned
    return out


def redact(obj, secret_keys):
    """A copy of ``obj`` in which the value of every key named in ``secret_keys`` (at any depth) is
    ``[redacted]``; None stays None so a diff still shows that a secret is being set or removed."""
    secret_keys = frozenset(secret_keys)
    if isinstance(obj, dict):
        return dict((k, REDACTED if k in secret_keys and v is not None else redact(v, secret_keys)) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return [redact(item, secret_keys) for item in obj]
    return copy.deepcopy(obj)


def same(a, b):
    """Deep equality in which booleans only equal booleans and tuples equal lists."""
    if isinstance(a, dict) and isinstance(b, dict):
        return set(a) == set(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return a == b


def _canonical(value):
    return json.dumps(value, sort_keys=True, default=str)


def _mode(compare, path):
    mode = compare.get(path, "value")
    if mode not in MODES:
        raise ValueError("compare mode for %r must be one of %s, not %r" % (path, ", ".join(sorted(MODES)), mode))
    return mode


def differs(before, after, path="", compare=None):
    """Whether the current value ``before`` must change to reach the desired value ``after``."""
    mode = _mode(compare or {}, path)
    if mode == "ignore":
        return False
    if mode == "set":
        if not isinstance(before, (list, tuple)) or not isinstance(after, (list, tuple)):
            return not same(before, after)
        return set(_canonical(x) for x in before) != set(_canonical(x) for x in after)
    if mode == "value" and isinstance(before, dict) and isinstance(after, dict):
        return any(differs(before.get(k), v, _join(path, k), compare) for k, v in after.items())
    return not same(before, after)


def _join(path, key):
    return "%s.%s" % (path, key) if path else str(key)


def _merge(current, patch, compare, path=""):
    """``current`` with ``patch`` applied the way ``differs`` compares (value-mode dicts merge key-wise)."""
    out = copy.deepcopy(current)
    for key, value in patch.items():
        sub = _join(path, key)
        if isinstance(value, dict) and isinstance(out.get(key), dict) and _mode(compare, sub) == "value":
            out[key] = _merge(out[key], value, compare, sub)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _view(obj, normalize, ignore_keys):
    """The comparable form: normalized, without ignored (server-managed) keys; dotted paths allowed."""
    if obj is None:
        return None
    view = normalize(copy.deepcopy(obj)) if normalize else copy.deepcopy(obj)
    for dotted in ignore_keys:
        *parents, last = dotted.split(".")
        node = view
        for part in parents:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.pop(last, None)
    return view


def reconcile(current, desired, *, check_mode, create, update, delete, state="present", normalize=None,
              ignore_keys=(), secret_keys=(), compare=None):
    """Bring one resource from ``current`` (None = absent) to ``desired`` (None values = unmanaged).

    Callbacks (never called in check mode): ``create(desired)``, ``update(patch, current)`` with only the
    changed top-level keys in ``patch``, ``delete(current)``. ``create``/``update`` may return the new
    object (else the prediction is used). ``normalize(obj)`` returns a comparable copy of an object; it is
    used for comparison and the diff only: callbacks get the values as given.

    Returns ``{"changed", "operation" (only when changed: create|update|delete), "before", "after",
    "diff": {"before", "after"}, "changes": {key: {"before", "after"}}}``; in check mode ``after`` is the
    predicted object (current merged with the patch, desired for a create, None for a delete).
    """
    if state not in ("present", "absent"):
        raise ValueError("state must be 'present' or 'absent', not %r" % (state,))
    compare = dict(compare or {})
    desired = drop_none(desired or {})
    before_view = _view(current, normalize, ignore_keys)
    desired_view = _view(desired, normalize, ignore_keys)
    changes, patch, operation, after, after_view = {}, {}, None, current, before_view
    if state == "absent":
        if current is not None:
            operation, after, after_view = "delete", None, None
    elif current is None:
        operation, after, after_view = "create", copy.deepcopy(desired), desired_view
    else:
        for key, value in desired_view.items():
            if differs(before_view.get(key), value, key, compare):
                changes[key] = {"before": before_view.get(key), "after": value}
                patch[key] = copy.deepcopy(desired[key] if key in desired else value)
        if changes:
            operation = "update"
            after = _merge(current, patch, compare)
            after_view = _merge(before_view, dict((k, desired_view[k]) for k in changes), compare)

    if operation and not check_mode:
        if operation == "create":
            returned = create(copy.deepcopy(desired))
        elif operation == "update":
            returned = update(copy.deepcopy(patch), copy.deepcopy(current))
        else:
            returned = delete(copy.deepcopy(current))
        if returned is not None and operation != "delete":
            after = returned

    result = {
        "changed": operation is not None,
        "before": current,
        "after": after,
        "diff": {"before": redact(before_view or {}, secret_keys), "after": redact(after_view or {}, secret_keys)},
        "changes": dict((key, redact(change, secret_keys) if key not in secret_keys else
                         {"before": REDACTED if change["before"] is not None else None, "after": REDACTED})
                        for key, change in changes.items()),
    }
    if operation:
        result["operation"] = operation
    return result
