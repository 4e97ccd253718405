# -*- coding: utf-8 -*-
# Copyright (c) 2026, m8trx.deployer contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""gzip a text and encode it as base64 (deterministic: no name, no time stamp in the header)."""

from __future__ import annotations

DOCUMENTATION = r"""
name: gzip_base64
author: m8trx platform team
version_added: 0.1.0
short_description: gzip a string and encode the result as base64
description:
  - Compresses the UTF-8 bytes of a string with gzip (level 9) and returns them as base64, wrapped at 76 characters.
  - The output is deterministic (the gzip header carries no file name and a zero time stamp), so a template that
    embeds it renders the same bytes on every run.
  - The customer role uses it to embed files in the first-boot user-data, which AWS limits to 16 KB;
    the host unpacks them with C(base64 -d | gunzip).
options:
  _input:
    description: The text to compress.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: A file as gzip+base64, for a heredoc in user-data
  ansible.builtin.debug:
    msg: "{{ lookup('ansible.builtin.file', 'script.sh', rstrip=false) | m8trx.deployer.gzip_base64 }}"
"""

RETURN = r"""
_value:
  description: The base64 text (lines of at most 76 characters, no trailing newline).
  type: str
"""

import base64
import gzip

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_bytes


def gzip_base64(text):
    if not isinstance(text, str):
        raise AnsibleFilterError("gzip_base64 expects a string, got %s" % type(text).__name__)
    packed = gzip.compress(to_bytes(text, errors="surrogate_or_strict"), compresslevel=9, mtime=0)
    return base64.encodebytes(packed).decode("ascii").rstrip("\n")


class FilterModule:
    def filters(self):
        return {"gzip_base64": gzip_base64}
