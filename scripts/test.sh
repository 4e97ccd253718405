#!/usr/bin/env bash
# The test suite in stages: `scripts/test.sh [stage ...]` (default: all). Each stage's time and
# result is summarised at the end; the exit code is non-zero when any stage failed.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
ROOT=$PWD
export PATH=$ROOT/.venv/bin:$PATH
export CONTAINERS_CONF=$ROOT/sandbox/containers.conf ANSIBLE_HOME=$ROOT/.cache/ansible-home
export ANSIBLE_CONFIG=$ROOT/ansible.cfg ANSIBLE_FORCE_COLOR=0 PY_COLORS=0 PYTHONDONTWRITEBYTECODE=1
export HYPOTHESIS_STORAGE_DIRECTORY=$ROOT/.cache/hypothesis
PYVER=$(python -c 'import sys; print("%d.%d" % sys.version_info[:2])')
VERSION=$(python -c 'import yaml; print(yaml.safe_load(open("galaxy.yml"))["version"])')
PYTEST=(python -m pytest -p no:cacheprovider)

# The collection as it ships (tracked and new files minus galaxy.yml's build_ignore, the one list of
# private paths: scripts/shipped_files.py), synced to a directory outside this git tree (ansible-test
# needs .../ansible_collections/ns/name and would otherwise see the copy as git-ignored); tests/output
# there is kept as ansible-test's cache.
shipped_copy() {
  local dest=$1 stage
  stage=$(mktemp -d)
  python scripts/shipped_files.py | tar --null -T - -cf - | tar -xf - -C "$stage"
  mkdir -p "$dest"
  rsync -a --delete --exclude /tests/output/ "$stage"/ "$dest"/
  rm -rf "$stage"
}

stage_unit() {
  PYTHONPATH=$ROOT/.venv/dev-collections:$ROOT/.venv/collections:$ROOT "${PYTEST[@]}" -q tests/unit tests/sandbox
}

stage_sanity() {
  local dir
  dir=${M8TRX_SANITY_DIR:-$HOME/.cache/m8trx-deployer/sanity-$(printf %s "$ROOT" | sha256sum | cut -c1-8)}/ansible_collections/m8trx/deployer
  shipped_copy "$dir"
  # the dependency collections (amazon.aws for ssm_bundle's imports, …) beside the copy, as ansible-test expects
  local ns
  for ns in "$ROOT"/.venv/collections/ansible_collections/*/; do
    ln -sfn "$ns" "$(dirname "$(dirname "$dir")")/$(basename "$ns")"
  done
  # pip's chatter while ansible-test builds its per-test venvs is dropped; everything else is shown
  (cd "$dir" && ansible-test sanity --venv --python "$PYVER" --color no 2>&1) | grep --line-buffered -vE \
    'is ignored: it is neither|^ *(Looking in|Collecting|Downloading|Processing|Installing|Successfully|Attempting|Found existing|Uninstalling|Requirement already|Using cached)|━━'
  return "${PIPESTATUS[0]}"
}

stage_lint() {
  ansible-lint --nocolor -q || return 1
  # shell the roles install (sanity's shellcheck only sees *.sh files)
  local role_scripts
  mapfile -d '' role_scripts < <(find roles/*/files -type f -perm -u+x -print0)
  shellcheck scripts/*.sh "${role_scripts[@]}"
}

stage_build() {
  rm -rf .cache/dist .cache/install context
  # a welcome card left by a deploy (artifacts/ is git-ignored) must not be shipped: check_installed proves it
  local probe=artifacts/build-probe-welcome.txt
  mkdir -p artifacts && : > "$probe"
  ansible-galaxy collection build --force --output-path .cache/dist >/dev/null || { rm -f "$probe"; return 1; }
  rm -f "$probe"
  local tarball=.cache/dist/m8trx-deployer-$VERSION.tar.gz
  ANSIBLE_COLLECTIONS_PATH=.cache/install ansible-galaxy collection install --no-deps --force \
    -p .cache/install "$tarball" || return 1
  # the installed copy (not the working tree) must be what ansible resolves, and must be complete
  ANSIBLE_COLLECTIONS_PATH=$ROOT/.cache/install:$ROOT/.venv/collections python scripts/check_installed.py \
    "$ROOT/.cache/install/ansible_collections/m8trx/deployer" || return 1
  cp "$tarball" "m8trx-deployer-$VERSION.tar.gz"   # execution-environment.yml takes it from the repo root
  ansible-builder create -f execution-environment.yml --context context >/dev/null || return 1
  test -s context/Containerfile && echo "ansible-builder create: context/Containerfile written"
}

# the sandbox is started by the first stage that needs it; one started here is stopped at exit,
# one that was already up (a developer's) is left running
SANDBOX_STARTED=0
need_sandbox() {
  python -m sandbox.launcher status >/dev/null 2>&1 && return 0
  python -m sandbox.launcher up || return 1
  SANDBOX_STARTED=1
}
trap '[ "$SANDBOX_STARTED" = 1 ] && python -m sandbox.launcher down >/dev/null' EXIT

stage_e2e() {
  need_sandbox || return 1
  PYTHONPATH=$ROOT "${PYTEST[@]}" -q tests/e2e
}

stage_molecule() {
  local scenarios=() dir rc=0
  for dir in extensions/molecule/*/molecule.yml; do
    [ -e "$dir" ] && scenarios+=("$(basename "$(dirname "$dir")")")
  done
  [ ${#scenarios[@]} -gt 0 ] || { echo "no molecule scenarios"; return 0; }
  need_sandbox || return 1
  set -a
  # shellcheck source=/dev/null
  . "$ROOT/.sandbox/env"
  set +a
  for scenario in "${scenarios[@]}"; do
    echo "--- molecule test -s $scenario"
    molecule test -s "$scenario" || rc=1
  done
  return $rc
}

ALL=(unit sanity lint build e2e molecule)
[ $# -gt 0 ] && STAGES=("$@") || STAGES=("${ALL[@]}")
declare -a SUMMARY
failed=0 passed=0
for stage in "${STAGES[@]}"; do
  printf '\n==> stage %s\n' "$stage"
  start=$SECONDS
  if "stage_$stage"; then result=passed; passed=$((passed + 1)); else result=FAILED; failed=$((failed + 1)); fi
  SUMMARY+=("$(printf '  %-8s %-7s %4ds' "$stage" "$result" $((SECONDS - start)))")
done
printf '\n==> summary (Python %s, ansible-core %s)\n' "$PYVER" "$(python -c 'import ansible; print(ansible.__version__)')"
printf '%s\n' "${SUMMARY[@]}"
echo "stages: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
