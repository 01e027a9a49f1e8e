#!/usr/bin/env bash
# Install Debian packages, waiting for apt's locks: right after boot the automatic updates hold them.
#   bash scripts/apt-install.sh PAQUET...
# apt's own lines go to a log, shown only if it fails. `apt-get install` waits for dpkg's lock by itself
# (DPkg::Lock::Timeout); `apt-get update` does not wait for the lists' lock: it is tried again here.
set -uo pipefail

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
log="$(mktemp -t installation-apt.XXXXXX)"
failed() {
  tail -n 20 "$log" >&2
  echo "L'installation des paquets Debian a échoué (journal complet : $log)." >&2
  exit 1
}

deadline=$((SECONDS + 300))
told=0
until as_root apt-get -o DPkg::Lock::Timeout=300 update -qq >"$log" 2>&1; do
  if grep -qE "Could not get lock|Unable to lock" "$log" && [ "$SECONDS" -lt "$deadline" ]; then
    if [ "$told" = 0 ]; then
      echo "apt est occupé (mises à jour automatiques ?) : attente de sa fin, 5 minutes au plus…"
      told=1
    fi
    sleep 3
    continue
  fi
  failed
done
as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq \
  --no-install-recommends "$@" >"$log" 2>&1 || failed
rm -f "$log"
