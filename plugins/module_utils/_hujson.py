# -*- coding: utf-8 -*-
# Copyright (c) 2026, m8trx.deployer contributors
# Simplified BSD License (see LICENSES/BSD-2-Clause.txt or https://opensource.org/licenses/BSD-2-Clause)
# SPDX-License-Identifier: BSD-2-Clause
"""A small HuJSON reader and byte-preserving editor (JSON + ``//`` and ``/* */`` comments + trailing commas).

``parse(text)`` returns a tree of ``Node`` (kind, ``start``/``end`` offsets, Python ``value``, ``items``);
every array element and object member is an ``Item`` (``key``, ``start``, ``node``, ``comma`` offset or None).
Edits never re-serialise the document: an ``Editor`` collects insertions, deletions and replacements at
offsets and ``apply()`` splices them into the original text, so every byte outside an edit - comments,
trailing commas, key order, indentation, line endings - is exactly what it was::

    doc = parse(text)
    acls = doc.member("acls").node
    editor = Editor(text)
    remove_item(editor, acls, acls.items[0])
    append_items(editor, acls, ['{"action": "accept", "src": ["tag:a"], "dst": ["tag:a:*"]}'], marker="m8trx-managed")
    new_text = editor.apply()

Stdlib only; Python 3.8 compatible.
"""

from __future__ import annotations

import json
import re

_STRING = re.compile(r'"(?:[^"\\\x00-\x1f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"')
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_LITERALS = (("true", True), ("false", False), ("null", None))
_BLANK = " \t\r\n"
MAX_DEPTH = 200


class HuJSONError(ValueError):
    """The text is not HuJSON, or an edit is impossible; ``line``/``column`` locate the problem when known."""

    def __init__(self, message, text=None, pos=None):
        self.line = self.column = None
        if text is not None and pos is not None:
            self.line = text.count("\n", 0, pos) + 1
            self.column = pos - (text.rfind("\n", 0, pos) + 1) + 1
            message = "line %d, column %d: %s" % (self.line, self.column, message)
        super().__init__(message)


class Node(object):
    """A value: ``kind`` is object, array, string, number or literal; ``text[start:end]`` is its source."""

    __slots__ = ("kind", "start", "end", "value", "items")

    def __init__(self, kind, start, end=None, value=None, items=None):
        self.kind, self.start, self.end, self.value, self.items = kind, start, end, value, items

    def members(self, key):
        """The items of an object with this key (a valid policy has at most one)."""
        return [item for item in self.items or () if item.key == key]

    def member(self, key):
        """The item with this key, None when absent; HuJSONError when the key is duplicated."""
        found = self.members(key)
        if len(found) > 1:
            raise HuJSONError("the key %s appears %d times in one object; remove the duplicates" % (json.dumps(key), len(found)))
        return found[0] if found else None


class Item(object):
    """An array element or object member: ``start`` (its key for a member), ``node`` and its ``comma`` or None."""

    __slots__ = ("key", "start", "node", "comma")

    def __init__(self, key, start, node, comma=None):
        self.key, self.start, self.node, self.comma = key, start, node, comma


class _Parser(object):
    def __init__(self, text):
        self.text = text

    def fail(self, message, pos):
        raise HuJSONError(message, self.text, pos)

    def skip(self, pos):
        """Skip whitespace and comments (and a byte-order mark at the very start)."""
        text, size = self.text, len(self.text)
        while pos < size:
            char = text[pos]
            if char in _BLANK or (char == "\ufeff" and pos == 0):
                pos += 1
            elif text.startswith("//", pos):
                newline = text.find("\n", pos)
                pos = size if newline < 0 else newline + 1
            elif text.startswith("/*", pos):
                close = text.find("*/", pos + 2)
                if close < 0:
                    self.fail("unterminated /* comment", pos)
                pos = close + 2
            else:
                break
        return pos

    def value(self, pos, depth):
        text = self.text
        if depth > MAX_DEPTH:
            self.fail("nested more than %d levels deep" % MAX_DEPTH, pos)
        if pos >= len(text):
            self.fail("unexpected end of input", pos)
        char = text[pos]
        if char in "{[":
            return self.container(pos, depth)
        if char == '"':
            found = _STRING.match(text, pos)
            if not found:
                self.fail("invalid string", pos)
            return Node("string", pos, found.end(), json.loads(found.group()))
        found = _NUMBER.match(text, pos)
        if found and found.end() > pos:
            return Node("number", pos, found.end(), json.loads(found.group()))
        for word, value in _LITERALS:
            if text.startswith(word, pos) and not text[pos + len(word):pos + len(word) + 1].isalnum():
                return Node("literal", pos, pos + len(word), value)
        self.fail("unexpected character %r" % char, pos)

    def container(self, pos, depth):
        text, size = self.text, len(self.text)
        is_object = text[pos] == "{"
        close = "}" if is_object else "]"
        node = Node("object" if is_object else "array", pos, items=[])
        pos = self.skip(pos + 1)
        while True:
            if pos >= size:
                self.fail("unexpected end of input: %s is not closed" % ("object" if is_object else "array"), node.start)
            if text[pos] == close:
                break
            start, key = pos, None
            if is_object:
                found = _STRING.match(text, pos) if text[pos] == '"' else None
                if not found:
                    self.fail("expected a quoted key or %r" % close, pos)
                key = json.loads(found.group())
                pos = self.skip(found.end())
                if text[pos:pos + 1] != ":":
                    self.fail("expected ':' after the key %s" % found.group(), pos)
                pos = self.skip(pos + 1)
            child = self.value(pos, depth + 1)
            item = Item(key, start, child)
            node.items.append(item)
            pos = self.skip(child.end)
            if text[pos:pos + 1] == ",":
                item.comma = pos
                pos = self.skip(pos + 1)
            elif text[pos:pos + 1] != close:
                self.fail("expected ',' or %r" % close, pos)
        node.end = pos + 1
        if is_object:
            node.value = dict((item.key, item.node.value) for item in node.items)
        else:
            node.value = [item.node.value for item in node.items]
        return node


def parse(text):
    """The root ``Node`` of a HuJSON document; HuJSONError (with line and column) when it is not HuJSON."""
    parser = _Parser(text)
    root = parser.value(parser.skip(0), 0)
    end = parser.skip(root.end)
    if end != len(text):
        parser.fail("unexpected text after the document", end)
    return root


def loads(text):
    """The Python value of a HuJSON document."""
    return parse(text).value


# -- layout -----------------------------------------------------------------------------------------------

def newline_of(text):
    return "\r\n" if "\r\n" in text else "\n"


def line_start(text, pos):
    return text.rfind("\n", 0, pos) + 1


def line_end(text, pos):
    """The offset of the line break ending the line of ``pos`` (``\\r`` of a CRLF), or the end of the text."""
    newline = text.find("\n", pos)
    if newline < 0:
        return len(text)
    return newline - 1 if newline > 0 and text[newline - 1] == "\r" else newline


def starts_line(text, pos):
    """Only spaces and tabs precede ``pos`` on its line."""
    return text[line_start(text, pos):pos].strip(" \t") == ""


def rest_is_blank(text, pos):
    return text[pos:line_end(text, pos)].strip(" \t") == ""


def line_indent(text, pos):
    start = line_start(text, pos)
    return re.match(r"[ \t]*", text[start:]).group()


def indent_unit(text):
    """The document's indentation step: a tab when lines are tab-indented, else the smallest space indent (2)."""
    indents = re.findall(r"\n([ \t]+)\S", text)
    if any(indent.startswith("\t") for indent in indents):
        return "\t"
    sizes = [len(indent) for indent in indents if indent.strip(" ") == ""]
    return " " * (min(sizes) if sizes else 2)


def _after_same_line_comments(text, pos):
    """Skip spaces, tabs and comments that stay on the current line."""
    while True:
        while pos < len(text) and text[pos] in " \t":
            pos += 1
        if text.startswith("//", pos):
            return line_end(text, pos)
        if text.startswith("/*", pos):
            close = text.find("*/", pos + 2)
            if close < 0 or "\n" in text[pos:close]:
                return pos
            pos = close + 2
            continue
        return pos


def tail_end(text, item):
    """The end of an item with its comma and the comments that follow on the same line."""
    return _after_same_line_comments(text, item.node.end if item.comma is None else item.comma + 1)


def trailing_comment(text, item):
    """The text of the comments after an item (and its comma) on the same line, '' when none."""
    start = item.node.end if item.comma is None else item.comma + 1
    return text[start:tail_end(text, item)].strip()


def is_multiline(text, node):
    return "\n" in text[node.start:node.end]


def item_indent(text, container, anchor=None):
    """The indentation for a new item of a multi-line container: that of its items, else one step in."""
    for item in ([anchor] if anchor is not None else []) + list(reversed(container.items)):
        if starts_line(text, item.start):
            return line_indent(text, item.start)
    return line_indent(text, container.start) + indent_unit(text)


# -- editing ----------------------------------------------------------------------------------------------

class Editor(object):
    """Collects edits at offsets of ``text`` and splices them in; nothing else is rewritten."""

    def __init__(self, text):
        self.text = text
        self._inserts, self._deletes, self._replaces = [], [], []

    def insert(self, pos, new):
        self._inserts.append((pos, len(self._inserts), new))

    def delete(self, start, end):
        if end > start:
            self._deletes.append((start, end))

    def replace(self, start, end, new):
        self._replaces.append((start, end, new))

    @property
    def changed(self):
        return bool(self._inserts or self._deletes or self._replaces)

    def apply(self):
        """The edited text. Overlapping deletions merge; an insertion or replacement inside a deleted or
        replaced span is a programming error (HuJSONError)."""
        spans = []
        for start, end in sorted(self._deletes):
            if spans and start <= spans[-1][1] and spans[-1][2] is None:
                spans[-1][1] = max(spans[-1][1], end)
            else:
                spans.append([start, end, None])
        spans = sorted(spans + [[s, e, new] for s, e, new in self._replaces])
        for before, after in zip(spans, spans[1:]):
            if after[0] < before[1]:
                raise HuJSONError("overlapping edits at offsets %d and %d" % (before[0], after[0]))
        for pos, _order, _new in self._inserts:
            if any(start < pos < end for start, end, _repl in spans):
                raise HuJSONError("an insertion at offset %d falls inside an edited span" % pos)
        edits = sorted([(pos, 0, order, pos, new) for pos, order, new in self._inserts]
                       + [(start, 1, 0, end, new or "") for start, end, new in spans])
        out, cursor = [], 0
        for start, _kind, _order, end, new in edits:
            out.append(self.text[cursor:start])
            out.append(new)
            cursor = end
        out.append(self.text[cursor:])
        return "".join(out)


def remove_item(editor, container, item):
    """Delete an item: its whole line(s) when it stands on lines of its own, else just it and its comma."""
    text = editor.text
    end = tail_end(text, item)
    if starts_line(text, item.start) and rest_is_blank(text, end):
        newline = text.find("\n", end)
        editor.delete(line_start(text, item.start), len(text) if newline < 0 else newline + 1)
    elif item.comma is not None:
        stop = item.comma + 1
        while stop < len(text) and text[stop] in " \t":
            stop += 1
        editor.delete(item.start, stop)
    else:
        index = container.items.index(item)
        previous = container.items[index - 1] if index else None
        editor.delete(previous.comma + 1 if previous is not None else item.start, item.node.end)


def replace_value(editor, item, new):
    """Replace an item's value (not its key, comma or comments) with the text ``new``."""
    editor.replace(item.node.start, item.node.end, new)


def append_items(editor, container, snippets, removed=(), marker=None):
    """Append items after the last item not in ``removed``.

    ``snippets`` are item texts, or callables ``(indent, unit, newline)`` returning one (``indent`` is None
    when the container is on one line: render compactly). In a multi-line container each new item gets a
    line of its own, a trailing comma and, with ``marker``, a trailing ``// <marker>`` comment; on one line
    they are added inline, without marker.
    """
    if not snippets:
        return
    text = editor.text
    removed_ids = set(id(item) for item in removed)
    kept = [item for item in container.items if id(item) not in removed_ids]
    anchor = kept[-1] if kept else None
    newline, unit = newline_of(text), indent_unit(text)
    if not is_multiline(text, container):
        rendered = [s(None, unit, newline) if callable(s) else s for s in snippets]
        if anchor is None:
            editor.insert(container.start + 1, ", ".join(rendered))
        elif anchor.comma is not None:
            editor.insert(anchor.comma + 1, " " + ", ".join(rendered) + ",")
        else:
            editor.insert(anchor.node.end, ", " + ", ".join(rendered))
        return
    indent = item_indent(text, container, anchor)
    rendered = [s(indent, unit, newline) if callable(s) else s for s in snippets]
    body = "".join(newline + indent + snippet + "," + (" // " + marker if marker else "") for snippet in rendered)
    if anchor is None:
        pos = _after_same_line_comments(text, container.start + 1)
    else:
        if anchor.comma is None:
            editor.insert(anchor.node.end, ",")
        pos = tail_end(text, anchor)
    if not rest_is_blank(text, pos):
        body += newline + line_indent(text, container.start)
    editor.insert(pos, body)
