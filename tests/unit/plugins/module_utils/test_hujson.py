# Copyright (c) 2026, m8trx.deployer contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""_hujson: parsing (comments, trailing commas, errors with line and column) and the byte-preserving editor."""

from __future__ import annotations

import json

import pytest

from ansible_collections.m8trx.deployer.plugins.module_utils import _hujson as hujson

DOC = """// leading comment
{
\t/* block
\t   comment */
\t"groups": {"group:ops": ["a@example.com"],}, // same-line
\t"acls": [
\t\t// foreign rule
\t\t{"action": "accept", "src": ["group:ops"], "dst": ["tag:web:22"]},
\t\t{
\t\t\t"action": "accept",
\t\t\t"src": ["tag:web"], // inner
\t\t\t"dst": ["tag:db:5432"],
\t\t},
\t],
\t"n": -1.5e3, "t": true, "f": false, "z": null, "s": "a\\"b\\u00e9//not a comment",
}
"""


def test_parse_values_comments_and_trailing_commas():
    value = hujson.loads(DOC)
    assert value["groups"] == {"group:ops": ["a@example.com"]}
    assert value["acls"][1] == {"action": "accept", "src": ["tag:web"], "dst": ["tag:db:5432"]}
    assert (value["n"], value["t"], value["f"], value["z"]) == (-1500.0, True, False, None)
    assert value["s"] == 'a"b\u00e9//not a comment'


def test_offsets_point_at_the_source():
    root = hujson.parse(DOC)
    acls = root.member("acls").node
    assert [DOC[i.node.start:i.node.end][:1] for i in acls.items] == ["{", "{"]
    assert json.loads(DOC[acls.items[0].node.start:acls.items[0].node.end])["dst"] == ["tag:web:22"]
    assert acls.items[0].comma is not None and DOC[acls.items[0].comma] == ","


@pytest.mark.parametrize("text, where", [
    ('{"a": 1,, }', "line 1, column 9"),
    ('{\n  "a": [1 2]\n}', "line 2, column 11"),
    ("{'a': 1}", "line 1, column 2"),
    ('{"a": 1} x', "line 1, column 10"),
    ('{"a": /* open', "line 1, column 7"),
    ('{"a": tru}', "line 1, column 7"),
    ('{"a": [1,', "unexpected end"),
])
def test_errors_say_where(text, where):
    with pytest.raises(hujson.HuJSONError) as info:
        hujson.parse(text)
    assert where in str(info.value)


def test_duplicate_key_is_reported_by_member():
    root = hujson.parse('{"acls": [], "acls": []}')
    with pytest.raises(hujson.HuJSONError, match="appears 2 times"):
        root.member("acls")


def _edit(text, action):
    editor = hujson.Editor(text)
    root = hujson.parse(text)
    action(editor, root)
    out = editor.apply()
    hujson.parse(out)  # still HuJSON
    return out


def test_append_keeps_every_other_byte_and_marks_new_items():
    def action(editor, root):
        acls = root.member("acls").node
        hujson.append_items(editor, acls, ['{"x": 1}', '{"x": 2}'], marker="m8trx-managed")
    out = _edit(DOC, action)
    added = '\t\t{"x": 1}, // m8trx-managed\n\t\t{"x": 2}, // m8trx-managed\n'
    anchor = "\t\t},\n"
    assert out == DOC.replace(anchor + "\t],", anchor + added + "\t],")
    assert hujson.loads(out)["acls"][2:] == [{"x": 1}, {"x": 2}]


def test_append_after_an_item_without_trailing_comma_and_before_a_closing_bracket_on_its_line():
    text = '{\n  "acls": [\n    {"a": 1} // note\n  ],\n  "b": [\n    1,\n    2]\n}\n'

    def action(editor, root):
        hujson.append_items(editor, root.member("acls").node, ['{"x": 1}'], marker="m")
        hujson.append_items(editor, root.member("b").node, ["3"], marker="m")
    out = _edit(text, action)
    assert out == '{\n  "acls": [\n    {"a": 1}, // note\n    {"x": 1}, // m\n  ],\n  "b": [\n    1,\n    2,\n    3, // m\n  ]\n}\n'
    assert hujson.loads(out) == {"acls": [{"a": 1}, {"x": 1}], "b": [1, 2, 3]}


@pytest.mark.parametrize("text, expected", [
    ('{"acls": []}', '{"acls": [{"x": 1}, {"x": 2}]}'),
    ('{"acls": [{"a": 1}]}', '{"acls": [{"a": 1}, {"x": 1}, {"x": 2}]}'),
    ('{"acls": [{"a": 1},]}', '{"acls": [{"a": 1}, {"x": 1}, {"x": 2},]}'),
    ('{\n  "acls": [\n  ],\n}', '{\n  "acls": [\n    {"x": 1}, // m\n    {"x": 2}, // m\n  ],\n}'),
    ('{\n\t"acls": [ // rules\n\t],\n}', '{\n\t"acls": [ // rules\n\t\t{"x": 1}, // m\n\t\t{"x": 2}, // m\n\t],\n}'),
])
def test_append_layouts(text, expected):
    out = _edit(text, lambda e, r: hujson.append_items(e, r.member("acls").node, ['{"x": 1}', '{"x": 2}'], marker="m"))
    assert out == expected


def test_remove_whole_lines_inline_items_and_the_last_item():
    text = '{\n  "a": [\n    // keep me\n    1, // one\n    {\n      "two": 2,\n    },\n    3,\n  ],\n  "b": [1, 2, 3],\n  "c": [7, 8]\n}\n'

    def action(editor, root):
        a, b, c = (root.member(k).node for k in "abc")
        hujson.remove_item(editor, a, a.items[0])
        hujson.remove_item(editor, a, a.items[1])
        hujson.remove_item(editor, b, b.items[1])
        hujson.remove_item(editor, c, c.items[0])
        hujson.remove_item(editor, c, c.items[1])
    out = _edit(text, action)
    assert out == '{\n  "a": [\n    // keep me\n    3,\n  ],\n  "b": [1, 3],\n  "c": []\n}\n'


def test_remove_then_append_in_the_same_container():
    text = '{\n  "acls": [\n    {"a": 1},\n    {"old": 1}, // m\n  ],\n}\n'

    def action(editor, root):
        acls = root.member("acls").node
        hujson.remove_item(editor, acls, acls.items[1])
        hujson.append_items(editor, acls, ['{"new": 1}'], removed=[acls.items[1]], marker="m")
    assert _edit(text, action) == '{\n  "acls": [\n    {"a": 1},\n    {"new": 1}, // m\n  ],\n}\n'


def test_remove_every_item_then_append():
    text = '{\n  "acls": [\n    {"old": 1}, // m\n  ],\n}\n'

    def action(editor, root):
        acls = root.member("acls").node
        hujson.remove_item(editor, acls, acls.items[0])
        hujson.append_items(editor, acls, ['{"new": 1}'], removed=acls.items, marker="m")
    assert _edit(text, action) == '{\n  "acls": [\n    {"new": 1}, // m\n  ],\n}\n'


def test_replace_value_only():
    text = '{\n  "tagOwners": {\n    "tag:a": ["x"], // owners\n  },\n}\n'

    def action(editor, root):
        hujson.replace_value(editor, root.member("tagOwners").node.member("tag:a"), '["y", "z"]')
    assert _edit(text, action) == '{\n  "tagOwners": {\n    "tag:a": ["y", "z"], // owners\n  },\n}\n'


def test_crlf_documents_keep_crlf():
    text = '{\r\n  "acls": [\r\n    {"a": 1},\r\n    {"b": 2},\r\n  ],\r\n}\r\n'

    def action(editor, root):
        acls = root.member("acls").node
        hujson.remove_item(editor, acls, acls.items[0])
        hujson.append_items(editor, acls, ['{"c": 3}'], removed=[acls.items[0]], marker="m")
    assert _edit(text, action) == '{\r\n  "acls": [\r\n    {"b": 2},\r\n    {"c": 3}, // m\r\n  ],\r\n}\r\n'


def test_overlapping_edits_are_refused():
    editor = hujson.Editor("0123456789")
    editor.replace(2, 6, "x")
    editor.insert(4, "y")
    with pytest.raises(hujson.HuJSONError):
        editor.apply()


def test_indent_unit():
    assert hujson.indent_unit('{\n\t"a": 1\n}') == "\t"
    assert hujson.indent_unit('{\n    "a": {\n        "b": 1\n    }\n}') == "    "
    assert hujson.indent_unit("{}") == "  "
