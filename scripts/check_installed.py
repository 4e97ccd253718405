"""Check a collection installed from the built tarball: complete, nothing private shipped, resolvable.

    python scripts/check_installed.py <install-dir>/ansible_collections/m8trx/deployer
(ANSIBLE_COLLECTIONS_PATH must put the install dir first.)
"""

import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from shipped_files import build_ignore, ignored  # noqa: E402  (galaxy.yml's build_ignore: the one list of private paths)


def main(installed: Path) -> int:
    repo = Path(__file__).resolve().parent.parent
    problems = []
    files = [f["name"] for f in json.loads((installed / "FILES.json").read_text())["files"]]
    patterns = build_ignore()
    problems += ["private path shipped: %s" % f for f in files if ignored(f, patterns) or f.startswith("artifacts/")]
    for sub in ("plugins/modules", "plugins/module_utils", "plugins/doc_fragments", "roles", "playbooks"):
        for path in sorted((repo / sub).rglob("*")) if (repo / sub).is_dir() else []:
            rel = path.relative_to(repo).as_posix()
            if path.is_file() and "__pycache__" not in rel and rel not in files:
                problems.append("missing from the tarball: %s" % rel)
    env = dict(os.environ)
    listing = subprocess.run(["ansible-galaxy", "collection", "list", "m8trx.deployer", "--format", "json"],
                             capture_output=True, text=True, env=env, check=False)
    found = list(json.loads(listing.stdout or "{}"))
    if not found or Path(found[0]).resolve() != installed.parent.parent.resolve():
        problems.append("m8trx.deployer does not resolve to the installed copy first: %s" % found)
    modules = sorted(p.stem for p in (installed / "plugins/modules").glob("*.py"))
    for module in modules:
        doc = subprocess.run(["ansible-doc", "-t", "module", "m8trx.deployer." + module],
                             capture_output=True, text=True, env=env, check=False)
        if doc.returncode != 0:
            problems.append("ansible-doc m8trx.deployer.%s failed: %s" % (module, doc.stderr.strip()[-300:]))
    for playbook in sorted((installed / "playbooks").glob("*.yml")):
        run = subprocess.run(["ansible-playbook", "--syntax-check", "m8trx.deployer." + playbook.stem],
                             capture_output=True, text=True, env=env, check=False)
        if run.returncode != 0:
            problems.append("syntax check of m8trx.deployer.%s failed: %s" % (playbook.stem, run.stderr.strip()[-300:]))
    for problem in problems:
        print("check_installed: " + problem, file=sys.stderr)
    print("installed collection: %d files, %d modules, %d playbooks, %d problems"
          % (len(files), len(modules), len(list((installed / "playbooks").glob("*.yml"))), len(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
