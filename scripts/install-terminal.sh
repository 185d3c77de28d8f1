#!/usr/bin/env bash
# install-terminal.sh — make a blank Raspberry Pi OS (bookworm, 64-bit Lite) or Debian 12 machine
# a kiosk terminal. A technician runs it once, as root, from a checkout of this repository:
#
#   sudo scripts/install-terminal.sh [--dry-run] [--source DIR] [--prefix DIR] [--no-apt]
#
# It installs the apt packages, creates the unprivileged `kiosk` user and its groups
# (systemd-sysusers) and /var/lib/kiosk 0700 (systemd-tmpfiles), copies the checkout to
# PREFIX/src and builds PREFIX/venv from the pinned requirements.txt, loads the USB serial
# drivers at boot, installs and enables kiosk-ui.service and kiosk-uploader.service, and then
# says to run `kiosk provision`. Running it again repairs and updates; it never removes data.
#
#   --dry-run      print every action instead of doing it (works without root)
#   --source DIR   the checkout to install (default: the one this script is in)
#   --prefix DIR   where the code and venv go (default /opt/kiosk; the units expect it)
#   --no-apt       do not touch apt (packages installed by other means)
set -euo pipefail

SOURCE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PREFIX=/opt/kiosk
DRY_RUN=0
APT=1
PYTHON="${PYTHON:-python3}"

# Runtime packages only (the `dev` script adds Xvfb and Chromium for the tests).
APT_PACKAGES=(python3 python3-venv python3-dev ca-certificates rsync
              espeak-ng libespeak-ng1 fonts-noto-cjk alsa-utils sox
              libgl1 libgl1-mesa-dri libegl1 libgles2 libgbm1 libdrm2 libmtdev1
              v4l-utils usbutils systemd-timesyncd)
UNITS=(kiosk-ui.service kiosk-uploader.service)
MODULES=(usbserial cdc_acm)

ARGS=("$@")

usage() { sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; }

while [ "$#" -gt 0 ]; do
  case "$1" in
    --dry-run) DRY_RUN=1 ;;
    --no-apt) APT=0 ;;
    --source) SOURCE="$(cd "${2:?--source needs a directory}" && pwd)"; shift ;;
    --prefix) PREFIX="${2:?--prefix needs a directory}"; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "install-terminal: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
  shift
done

VENV="$PREFIX/venv"
SRC="$PREFIX/src"

say() { printf 'install-terminal: %s\n' "$*" >&2; }

# Run a command, or in --dry-run print it (quoted, so it can be copied).
run() {
  if [ "$DRY_RUN" = 1 ]; then
    printf '+'
    printf ' %q' "$@"
    printf '\n'
  else
    "$@"
  fi
}

# Write stdin to a file with a mode, or in --dry-run show what would be written.
write_file() {
  local dest="$1" mode="$2" content
  content="$(cat)"
  if [ "$DRY_RUN" = 1 ]; then
    printf '+ write %s (mode %s, %s lines):\n' "$dest" "$mode" "$(printf '%s\n' "$content" | wc -l)"
    printf '%s\n' "$content" | grep -v '^#' | grep -v '^$' | awk 'NR <= 4 || /^ExecStart=/' | sed 's/^/    /'
  else
    install -d -m 0755 "$(dirname "$dest")"
    printf '%s\n' "$content" > "$dest.tmp"
    chmod "$mode" "$dest.tmp"
    mv -f "$dest.tmp" "$dest"
  fi
}

preflight() {
  if [ ! -f "$SOURCE/setup.py" ] || [ ! -d "$SOURCE/systemd" ]; then
    say "$SOURCE is not a checkout of the kiosk (no setup.py or systemd/)"; exit 2
  fi
  if [ "$DRY_RUN" = 0 ] && [ "$(id -u)" != 0 ]; then
    say "run as root: sudo $0 ${ARGS[*]}"; exit 2
  fi
  command -v systemctl >/dev/null 2>&1 || { say "systemd is required"; exit 2; }
  if [ "$APT" = 1 ]; then
    command -v apt-get >/dev/null 2>&1 || { say "no apt-get: use --no-apt on other systems"; exit 2; }
  fi
}

install_apt() {
  [ "$APT" = 1 ] || { say "skipping apt (--no-apt)"; return; }
  local missing=() p
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ "${#missing[@]}" -eq 0 ]; then
    say "apt packages already installed"
    return
  fi
  say "installing apt packages: ${missing[*]}"
  run apt-get update -qq
  run env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

check_python() {
  if [ "$DRY_RUN" = 1 ] && ! command -v "$PYTHON" >/dev/null 2>&1; then
    return
  fi
  "$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' || {
    say "Python 3.11 or newer is needed ($PYTHON is $("$PYTHON" -V 2>&1))"; exit 2; }
}

install_user() {
  say "user kiosk, its groups, /var/lib/kiosk (0700) and /etc/kiosk"
  # the same file names `kiosk provision` installs, so the two never leave duplicates
  run install -D -m 0644 "$SOURCE/systemd/kiosk.sysusers.conf" /etc/sysusers.d/kiosk.sysusers.conf
  run install -D -m 0644 "$SOURCE/systemd/kiosk.tmpfiles.conf" /etc/tmpfiles.d/kiosk.tmpfiles.conf
  run systemd-sysusers /etc/sysusers.d/kiosk.sysusers.conf
  run systemd-tmpfiles --create /etc/tmpfiles.d/kiosk.tmpfiles.conf
}

install_code() {
  say "code in $SRC, virtualenv in $VENV"
  run install -d -m 0755 "$PREFIX"
  if [ "$SOURCE" != "$SRC" ]; then
    run rsync -a --delete --exclude=.git/ --exclude=.venv/ --exclude=__pycache__/ \
      --exclude='*.egg-info/' --exclude=.pytest_cache/ "$SOURCE/" "$SRC/"
  fi
  run chown -R root:root "$SRC"
  [ -x "$VENV/bin/python" ] || run "$PYTHON" -m venv "$VENV"
  local stamp="$VENV/.installed" want=""
  want="$(cat "$SOURCE/requirements.txt" "$SOURCE/setup.py" | sha256sum | cut -c1-16)"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$VENV/bin/kiosk" ]; then
    say "python packages up to date"
  else
    run "$VENV/bin/python" -m pip install -q --upgrade "pip<26"
    run "$VENV/bin/pip" install -q -r "$SRC/requirements.txt"
    # face_recognition's metadata asks for a source build of dlib; dlib-bin provides it.
    run "$VENV/bin/pip" install -q --no-deps face-recognition==1.3.0
    # Editable: config/default.toml, systemd/ and the site presets are read from the checkout.
    run "$VENV/bin/pip" install -q --no-deps --no-build-isolation -e "$SRC"
    printf '%s\n' "$want" | write_file "$stamp" 0644
  fi
}

install_modules() {
  # DeviceAllow=char-ttyUSB/char-ttyACM resolve device majors when kiosk-ui starts: the USB
  # serial drivers must be loaded by then, not when a reader is plugged in later.
  printf '%s\n' "# serial drivers for the kiosk's ID-card reader and printer (kiosk-ui DeviceAllow)" \
    "${MODULES[@]}" | write_file /etc/modules-load.d/kiosk.conf 0644
  local m
  for m in "${MODULES[@]}"; do
    run modprobe -q "$m" || say "could not load $m now (it loads at next boot)"
  done
}

install_units() {
  say "systemd units: ${UNITS[*]}"
  local unit
  for unit in "${UNITS[@]}"; do
    # the units name /opt/kiosk/venv; another --prefix is written into them
    sed "s#/opt/kiosk/#$PREFIX/#g" "$SOURCE/systemd/$unit" | write_file "/etc/systemd/system/$unit" 0644
  done
  run systemctl daemon-reload
  run systemctl enable "${UNITS[@]}"
}

preflight
install_apt
check_python
install_user
install_code
install_modules
install_units

cat >&2 <<EOF
install-terminal: done$([ "$DRY_RUN" = 1 ] && echo " (dry run: nothing was changed)").

Next, with the back office's one-time token at hand (backoffice token create --terminal-id ID):

  sudo $VENV/bin/kiosk provision

It detects the devices, writes /etc/kiosk/kiosk.toml and /etc/kiosk/uploader.env, enrols the
terminal and runs the self-test. Then start it and check everything:

  sudo systemctl start kiosk-uploader kiosk-ui
  sudo -u kiosk $VENV/bin/kiosk doctor
EOF
