"""The one list of private paths is galaxy.yml's build_ignore: what the collection ships is every
tracked or new (not git-ignored) file that no build_ignore pattern matches, the way
`ansible-galaxy collection build` matches them (fnmatch on the path and on each leading directory).

    python scripts/shipped_files.py            # NUL-separated paths, for tar --null -T -
"""

from __future__ import annotations

import fnmatch
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent


def build_ignore():
    return yaml.safe_load((REPO / "galaxy.yml").read_text())["build_ignore"]


def ignored(path, patterns=None):
    """Whether galaxy.yml's build_ignore leaves ``path`` (relative, posix) out of the collection."""
    patterns = build_ignore() if patterns is None else patterns
    parts = path.split("/")
    prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    return any(fnmatch.fnmatch(p, pattern) for p in prefixes for pattern in patterns)


def shipped():
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                            capture_output=True, check=True).stdout.decode().split("\0")
    patterns = build_ignore()
    return [p for p in listed if p and (REPO / p).exists() and not ignored(p, patterns)]


if __name__ == "__main__":
    sys.stdout.write("".join(p + "\0" for p in shipped()))
