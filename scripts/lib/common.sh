# shellcheck shell=bash
# Helpers the set-up scripts share; sourced, not run.

# installed PKG: the Debian package is installed.
installed() { [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" == "install ok installed" ]]; }

# has_cap_sys_resource: the capability bounding set has CAP_SYS_RESOURCE
# (bit 24). Where it lacks it, privileged containers need slipway-runc.
has_cap_sys_resource() {
  local bnd
  bnd=$(awk '/^CapBnd:/{print $2}' /proc/self/status)
  (((16#$bnd >> 24) & 1))
}
