#!/usr/bin/env bash
# Install what the project needs on a fresh Debian machine; safe to run again.
#   bash scripts/install.sh          Python packages to build the sites (in .venv)
#   bash scripts/install.sh --test   plus Debian's chromium and nginx for the tests
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
[ "${1:-}" = "--test" ] && want_test=1

if [ "$want_test" = 1 ]; then
  missing=()
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
  [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
  command -v npm >/dev/null 2>&1 || missing+=(npm)
  [ -x /usr/sbin/dovecot ] || missing+=(dovecot-imapd)   # a real IMAP server for the bounce tests
  command -v openssl >/dev/null 2>&1 || missing+=(openssl)
  command -v java >/dev/null 2>&1 || missing+=(default-jre-headless)   # runs the Nu HTML Checker
  command -v soffice >/dev/null 2>&1 || missing+=(libreoffice-calc-nogui)   # opens the staff's CSV exports in the tests
  command -v git >/dev/null 2>&1 || missing+=(git)   # the editors' pushes to an installed repository
  command -v ssh-keygen >/dev/null 2>&1 || missing+=(openssh-client)   # their keys
  command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd)   # checks the installed units
  command -v pebble >/dev/null 2>&1 || missing+=(pebble)   # Let's Encrypt's test ACME server, on 127.0.0.1
  command -v certbot >/dev/null 2>&1 || missing+=(certbot)   # the certificate, as the installer gets it
  if [ "${#missing[@]}" -gt 0 ]; then
    echo "Installation des paquets Debian : ${missing[*]}"
    bash scripts/apt-install.sh "${missing[@]}" || exit 1
  fi
fi

if [ ! -x .venv/bin/python ]; then
  echo "Création de l'environnement Python dans .venv"
  python3 -m venv .venv
fi
extra=""
[ "$want_test" = 1 ] && extra="[test]"
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".${extra}"
if [ "$want_test" = 1 ] && [ ! -f .venv/axe/node_modules/axe-core/axe.min.js ]; then
  echo "Installation d'axe-core (tests d'accessibilité)"
  npm install --silent --no-audit --no-fund --prefix .venv/axe axe-core@4.14.1 >/dev/null
fi
if [ "$want_test" = 1 ] && [ ! -f .venv/vnu/node_modules/vnu-jar/build/dist/vnu.jar ]; then
  echo "Installation du Nu HTML Checker (tests de validité HTML)"
  npm install --silent --no-audit --no-fund --prefix .venv/vnu vnu-jar@26.9.27 >/dev/null
fi
echo "Installation terminée."
