"""gzip_base64: round trip, determinism (same bytes every render), non-strings refused."""

from __future__ import annotations

import base64
import gzip

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.m8trx.deployer.plugins.filter.gzip_base64 import gzip_base64


def test_round_trip_keeps_every_byte_including_the_final_newline():
    text = "#!/usr/bin/env bash\necho 'é ✓'\n" * 50
    assert gzip.decompress(base64.b64decode(gzip_base64(text))) == text.encode()


def test_the_same_text_gives_the_same_output_and_lines_fit_a_heredoc():
    text = "x" * 5000 + "\n"
    first = gzip_base64(text)
    assert first == gzip_base64(text)
    assert all(len(line) <= 76 for line in first.splitlines()) and not first.endswith("\n")


def test_a_non_string_is_refused():
    with pytest.raises(AnsibleFilterError, match="expects a string"):
        gzip_base64(b"bytes")
