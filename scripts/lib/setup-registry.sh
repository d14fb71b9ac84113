#!/usr/bin/env bash
# setup-registry.sh - install a local container registry (Debian's
# docker-registry package: distribution 2.8) without running it as a service.
#
# Called by scripts/setup.sh; safe to run on its own. Idempotent and quick when
# installed. Registries are started per test by scripts/registry.sh.
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive
say() { printf '%s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

main() {
  local pkgs=(docker-registry curl) missing=() p
  for p in "${pkgs[@]}"; do installed "$p" || missing+=("$p"); done
  if ((${#missing[@]})); then
    say "installing: ${missing[*]}"
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    # The package ships a service on :5000 (with htpasswd auth); where
    # invoke-rc.d did start it, stop it: scripts/registry.sh runs our own.
    if [[ -f /var/run/docker-registry.pid ]] && kill -0 "$(cat /var/run/docker-registry.pid)" 2>/dev/null; then
      /etc/init.d/docker-registry stop >/dev/null 2>&1 || true
    fi
  fi
  [[ -x /usr/bin/docker-registry ]] || die "docker-registry not installed"
  say "ok: docker-registry $(dpkg-query -W -f='${Version}' docker-registry)"
}

main "$@"
