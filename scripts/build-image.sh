#!/usr/bin/env bash
# Builds the local Debian 12 systemd base image (no registry pulls: debootstrap + podman import).
# Then the sandbox's EC2 host image on top of it (sandbox/host/Containerfile: curl, jq, git, AWS CLI).
# Idempotent: an image that exists is left alone.
set -euo pipefail
cd "$(dirname "$0")/.."
IMAGE=${M8TRX_BASE_IMAGE:-localhost/m8trx-debian-systemd:bookworm}
MIRROR=${M8TRX_DEBIAN_MIRROR:-http://deb.debian.org/debian}
export CONTAINERS_CONF=$PWD/sandbox/containers.conf
HOST_IMAGE=${M8TRX_HOST_IMAGE:-localhost/m8trx-sandbox-host:bookworm}

build_host_image() {
  if podman image exists "$HOST_IMAGE" 2>/dev/null; then
    echo "==> sandbox host image $HOST_IMAGE is present"
    return 0
  fi
  echo "==> building sandbox host image $HOST_IMAGE (about a minute the first time)"
  local context
  context=$(mktemp -d /var/tmp/m8trx-host-image.XXXXXX)
  cp sandbox/host/Containerfile "$context"/
  # the AWS CLI for the image's Python (3.11), as wheels: the build itself reaches no index
  if ! .venv/bin/python -m pip download -q --disable-pip-version-check --only-binary=:all: --python-version 3.11 \
      --implementation cp --platform manylinux2014_x86_64 -d "$context/wheels" awscli >.cache/logs/host-wheels.log 2>&1; then
    tail -n 20 .cache/logs/host-wheels.log >&2
    rm -rf "$context"
    echo "build-image: could not download the AWS CLI wheels (log: .cache/logs/host-wheels.log)" >&2
    return 1
  fi
  if ! podman build --quiet --network host -t "$HOST_IMAGE" "$context" >.cache/logs/host-image.log 2>&1; then
    tail -n 20 .cache/logs/host-image.log >&2
    rm -rf "$context"
    echo "build-image: the sandbox host image failed (log: .cache/logs/host-image.log)" >&2
    return 1
  fi
  rm -rf "$context"
  echo "==> built $HOST_IMAGE"
}

mkdir -p .cache/logs
if podman image exists "$IMAGE" 2>/dev/null; then
  echo "==> base image $IMAGE is present"
  build_host_image
  exit 0
fi
echo "==> building base image $IMAGE with debootstrap (about 2 minutes the first time)"
mkdir -p .cache/logs
rootfs=$(mktemp -d /var/tmp/m8trx-rootfs.XXXXXX)
trap 'rm -rf "$rootfs"' EXIT
packages=python3,python3-apt,systemd,systemd-sysv,dbus,procps,ca-certificates,iproute2,sudo
if ! debootstrap --variant=minbase --include="$packages" bookworm "$rootfs" "$MIRROR" \
    >.cache/logs/debootstrap.log 2>&1; then
  tail -n 20 .cache/logs/debootstrap.log >&2
  echo "build-image: debootstrap failed (log: .cache/logs/debootstrap.log)" >&2
  exit 1
fi
# systemd in a container: no getty on consoles, a machine-id made at first boot
rm -f "$rootfs"/etc/machine-id && : > "$rootfs"/etc/machine-id
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
tar -C "$rootfs" -c . | podman import --change 'CMD ["/sbin/init"]' --change 'STOPSIGNAL SIGRTMIN+3' - "$IMAGE" >/dev/null
echo "==> built $IMAGE"
build_host_image
