#!/usr/bin/env bash
# Installs everything m8trx.deployer needs on a Debian 12 / Ubuntu 22.04+ machine, idempotently:
# OS packages, the project virtualenv (.venv), the dependency collections, ansible-test's offline
# pip bootstrap, and the local systemd base image. A second run only checks and returns.
# Unattended: no prompts, no standard input. Progress goes to stdout, details to .cache/logs/.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
LOGS=$ROOT/.cache/logs
mkdir -p "$LOGS" "$ROOT/.cache/wheels"
export DEBIAN_FRONTEND=noninteractive PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1

step() { printf '==> %s\n' "$*"; }
die() { printf 'setup: %s\n' "$*" >&2; exit 1; }
run_logged() {  # run_logged NAME CMD...: output to a log, a progress line every 15 s, the log's tail on failure
  local log=$LOGS/$1.log pid rc start=$SECONDS; shift
  "$@" >"$log" 2>&1 &
  pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    sleep 1
    if (( (SECONDS - start) % 15 == 0 )) && kill -0 "$pid" 2>/dev/null; then
      printf '    ... %ds (%s)\n' $((SECONDS - start)) "$(grep -v 'is ignored' "$log" | tail -n 1 | cut -c1-100)"
    fi
  done
  wait "$pid"; rc=$?
  if [ "$rc" -ne 0 ]; then
    grep -v "is ignored: it is neither a file nor a directory" "$log" | tail -n 25 >&2
    die "'$*' failed (full log: $log)"
  fi
}

# ---------------------------------------------------------------- privileges
SUDO=()
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null && sudo -n true 2>/dev/null; then SUDO=(sudo -n); fi

# A /dev/null that is a regular file (seen after some container snapshot restores) breaks every tool
# that reads it as an empty config (pycodestyle --config /dev/null, ...): put the device back.
if [ ! -c /dev/null ]; then
  if [ "$(id -u)" -eq 0 ] || [ ${#SUDO[@]} -gt 0 ]; then
    "${SUDO[@]}" sh -c 'rm -f /dev/null && mknod -m 666 /dev/null c 1 3'
    step "/dev/null was not a character device; recreated it"
  else
    die "/dev/null is not a character device; recreate it as root: rm -f /dev/null && mknod -m 666 /dev/null c 1 3"
  fi
fi

# ---------------------------------------------------------------- OS packages
OS_PACKAGES=(podman runc conmon containernetworking-plugins slirp4netns uidmap debootstrap
             debian-archive-keyring shellcheck rsync git make ca-certificates curl)
missing=()
for pkg in "${OS_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  command -v apt-get >/dev/null || die "install these packages with your package manager: ${missing[*]}"
  if [ "$(id -u)" -ne 0 ] && [ ${#SUDO[@]} -eq 0 ]; then
    die "run as root or with passwordless sudo, or install: sudo apt-get install ${missing[*]}"
  fi
  step "installing OS packages: ${missing[*]}"
  run_logged apt-update "${SUDO[@]}" apt-get update -q
  run_logged apt-install "${SUDO[@]}" apt-get install -y -q "${missing[@]}"
fi

# ---------------------------------------------------------------- Python
# The newest CPython >= 3.11 on this machine (PATH, pyenv, /usr/bin, /usr/local/bin).
pick_python() {
  local v cand
  for v in 3.14 3.13 3.12 3.11; do
    for cand in "python$v" "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$v".*/bin/"python$v" \
                "/usr/local/bin/python$v" "/usr/bin/python$v"; do
      if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import venv, ensurepip' >/dev/null 2>&1; then
        command -v "$cand"; return 0
      fi
    done
  done
  return 1
}
if [ -n "${M8TRX_PYTHON:-}" ]; then PY=$M8TRX_PYTHON
elif ! PY=$(pick_python); then
  if command -v python3 >/dev/null && python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    [ "$(id -u)" -eq 0 ] || [ ${#SUDO[@]} -gt 0 ] || die "install python3-venv (sudo apt-get install python3-venv)"
    step "installing python3-venv"
    run_logged apt-venv "${SUDO[@]}" apt-get install -y -q python3-venv
    PY=$(pick_python) || die "python3 -m venv does not work; install python3-venv"
  else
    die "Python >= 3.11 is needed (Debian 12: sudo apt-get install python3 python3-venv)"
  fi
fi
PYVER=$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
case "$PYVER" in 3.11) CORE=2.19 ;; *) CORE=2.21 ;; esac
CONSTRAINTS=requirements/constraints-core$CORE.txt

# ---------------------------------------------------------------- virtualenv
stamp_of() { cat "$@" | sha256sum | cut -c1-16; }
VENV_STAMP="$PYVER-$(stamp_of requirements/tools.in "$CONSTRAINTS")"
if [ "$(cat .venv/.m8trx-stamp 2>/dev/null)" != "$VENV_STAMP" ]; then
  step "creating .venv on Python $PYVER ($PY) with ansible-core $CORE (takes a few minutes the first time)"
  rm -rf .venv
  run_logged venv "$PY" -m venv .venv
  run_logged pip-upgrade .venv/bin/python -m pip install -q --upgrade pip
  run_logged pip-install .venv/bin/python -m pip install --progress-bar off -r requirements/tools.in -c "$CONSTRAINTS"
  echo "$VENV_STAMP" > .venv/.m8trx-stamp
else
  step ".venv is current (Python $PYVER, ansible-core $(.venv/bin/python -c 'import ansible; print(ansible.__version__)'))"
fi

# ---------------------------------------------------------------- collections
# Dependency collections come out of the `ansible` wheel from PyPI (no Galaxy here); the collection
# under test is linked in place so playbooks always run the working tree.
COLL=.venv/collections/ansible_collections
COLL_STAMP=$(stamp_of requirements/collections.txt)
if [ "$(cat .venv/collections/.m8trx-stamp 2>/dev/null)" != "$COLL_STAMP" ]; then
  step "unpacking amazon.aws, community.aws, community.general, community.docker, ansible.posix, containers.podman"
  spec=$(grep -E '^ansible==' requirements/collections.txt)
  run_logged pip-download .venv/bin/python -m pip download -q --no-deps -d .cache/wheels "$spec"
  rm -rf .venv/collections && mkdir -p "$COLL"
  .venv/bin/python - "$COLL" ".cache/wheels/ansible-${spec#ansible==}-py3-none-any.whl" <<'PYEOF'
import sys, zipfile
dest, wheel = sys.argv[1], sys.argv[2]
wanted = ("amazon/aws/", "community/aws/", "community/general/", "community/docker/", "ansible/posix/", "containers/podman/")
with zipfile.ZipFile(wheel) as zf:
    members = [n for n in zf.namelist() if n.startswith("ansible_collections/")
               and n[len("ansible_collections/"):].startswith(wanted)]
    for name in members:
        zf.extract(name, dest + "/../")
print("unpacked %d files" % len(members))
PYEOF
  echo "$COLL_STAMP" > .venv/collections/.m8trx-stamp
fi
DEV=.venv/dev-collections/ansible_collections
mkdir -p "$DEV/m8trx"
[ "$(readlink "$DEV/m8trx/deployer" 2>/dev/null)" = "$ROOT" ] || ln -sfn "$ROOT" "$DEV/m8trx/deployer"

# ---------------------------------------------------------------- ansible-test offline pip bootstrap
PIPV=$(.venv/bin/python -c "import re,pathlib,ansible_test;p=pathlib.Path(ansible_test.__file__).parent/'_internal/python_requirements.py';print(re.search(r\"pip='([0-9.]+)'\",p.read_text()).group(1).replace('.','_'))")
mkdir -p "$HOME/.ansible/test/cache"
install -m 0644 scripts/get_pip_standin.py "$HOME/.ansible/test/cache/get_pip_${PIPV}.py"

# ---------------------------------------------------------------- base image
if [ "${M8TRX_SKIP_IMAGE:-0}" != 1 ]; then
  scripts/build-image.sh
fi
step "set-up complete"
