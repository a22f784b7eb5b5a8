#!/usr/bin/env bash
# Installs the QEMU system emulators that .ci/qemu.sh needs (Debian packages, as root):
#   qemu-system-arm   lm3s6965evb, microbit, mps2-an386
#   qemu-system-misc  qemu-system-riscv32 (virt)
# Installing them replaces the image's qemu-utils (qemu-img), so it is installed again after.
# Skips everything when the emulators are already there. ~20 s on a fresh machine.
set -euo pipefail

if command -v qemu-system-arm >/dev/null && command -v qemu-system-riscv32 >/dev/null \
    && command -v qemu-img >/dev/null; then
    echo "install-qemu: already installed: $(qemu-system-arm --version | head -n1)"
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive

$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends qemu-system-arm qemu-system-misc
$SUDO apt-get install -y -qq --no-install-recommends qemu-utils
echo "install-qemu: $(qemu-system-arm --version | head -n1)"
