#!/usr/bin/env bash
# Builds the local Debian 12 systemd base image (no registry pulls: debootstrap + podman import).
# Idempotent: returns at once when the image exists.
set -euo pipefail
cd "$(dirname "$0")/.."
IMAGE=${M8TRX_BASE_IMAGE:-localhost/m8trx-debian-systemd:bookworm}
MIRROR=${M8TRX_DEBIAN_MIRROR:-http://deb.debian.org/debian}
export CONTAINERS_CONF=$PWD/sandbox/containers.conf
if podman image exists "$IMAGE" 2>/dev/null; then
  echo "==> base image $IMAGE is present"
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
