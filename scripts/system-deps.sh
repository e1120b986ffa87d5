#!/usr/bin/env bash
# Install the system tools evidock needs, from Debian's packages, when they are missing.
# Usage: scripts/system-deps.sh demo|test|bench|deb
set -euo pipefail
mode=${1:-demo}
need=()
command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null || need+=(ffmpeg)
command -v exiftool >/dev/null || need+=(libimage-exiftool-perl)
command -v openssl >/dev/null || need+=(openssl)
command -v setpriv >/dev/null || need+=(util-linux)  # media tools die with their parent
# view copies and receipts (issue 17): the CJK font, and pango for the PDF renderer
[ -f /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc ] || need+=(fonts-noto-cjk)
ls /usr/lib/*/libpangoft2-1.0.so.0 >/dev/null 2>&1 || need+=(libpango-1.0-0 libpangoft2-1.0-0)
if [ "$mode" = test ] || [ "$mode" = bench ]; then
  ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || need+=(postgresql)
  command -v runuser >/dev/null || need+=(util-linux)
  command -v promtool >/dev/null || need+=(prometheus)
  command -v amtool >/dev/null || need+=(prometheus-alertmanager)  # checks monitoring/alertmanager.yml
  command -v chromium >/dev/null || need+=(chromium)  # the console's browser tests (Playwright)
  command -v pdftotext >/dev/null && command -v pdffonts >/dev/null || need+=(poppler-utils)
  # the I/O fault shim (tests/ingest/faultfs.c) and the power-loss test's sync recorder
  # (tests/ingest/powercut.c), compiled by the tests
  command -v cc >/dev/null && [ -e /usr/include/stdio.h ] || need+=(gcc libc6-dev)
fi
if [ "$mode" = deb ] || [ "$mode" = test ]; then  # make deb, and the test that builds it
  command -v dpkg-buildpackage >/dev/null || need+=(dpkg-dev)
  command -v dh >/dev/null || need+=(debhelper)
  command -v dh_virtualenv >/dev/null || need+=(dh-virtualenv)
  command -v lintian >/dev/null || need+=(lintian)
  command -v python3.11 >/dev/null || need+=(python3.11)
  dpkg -s python3.11-venv >/dev/null 2>&1 || need+=(python3.11-venv)
  dpkg -s python3-dev >/dev/null 2>&1 || need+=(python3-dev)
  command -v fakeroot >/dev/null || need+=(fakeroot)
  command -v pybabel >/dev/null || need+=(python3-babel)  # debian/rules compiles the catalog
fi
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "evidock needs these Debian packages: ${need[*]}" >&2
  echo "install them as root:  apt-get install ${need[*]}" >&2
  exit 1
fi
echo "installing system packages: ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
