#!/bin/sh
# Entrypoint of slipway.local/base/kind-node: prepares a nested container for
# containerd, then execs containerd (tini is PID 1 and reaps zombies).
set -eu
CONFIG=/etc/containerd/config.toml

# Mount propagation like kind's nodes.
mount --make-rshared / 2>/dev/null || true
mkdir -p /run/containerd /var/lib/containerd /tmp /var/log

# overlayfs inside docker's overlay root only works on a real filesystem such as
# a volume; fall back to the native snapshotter otherwise.
probe=/var/lib/containerd/.slipway-overlay-probe
rm -rf "$probe"; mkdir -p "$probe/l" "$probe/u" "$probe/w" "$probe/m"
if mount -t overlay overlay -o "lowerdir=$probe/l,upperdir=$probe/u,workdir=$probe/w" "$probe/m" 2>/dev/null; then
  umount "$probe/m"
  snap=overlayfs
else
  snap=native
fi
rm -rf "$probe"
sed -i "s/^\([[:space:]]*snapshotter = \).*/\1\"$snap\"/" "$CONFIG"
echo "slipway-node: snapshotter=$snap" >&2

exec containerd --config "$CONFIG" "$@"
