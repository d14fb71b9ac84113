#!/usr/bin/env bash
# daemonize.sh LOG CMD [ARG...] - run CMD as a daemon: its own session, stdin
# from /dev/null, output appended to LOG, and no other inherited file
# descriptor. A daemon that kept one would hold its starter's pipes open (a
# CI runner reading the test output would wait for it forever).
set -u
log=$1
shift
for fd in "/proc/$$/fd/"*; do
  fd=${fd##*/}
  if [[ $fd =~ ^[0-9]+$ ]] && ((fd > 2)); then
    eval "exec $fd>&-" 2>/dev/null || true
  fi
done
exec setsid nohup "$@" >>"$log" 2>&1 </dev/null
