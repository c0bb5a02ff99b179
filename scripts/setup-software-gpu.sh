#!/usr/bin/env bash
# Installs Mesa's lavapipe (a software Vulkan driver, version 24 or newer) so that Dawn's WebGPU finds an
# adapter on a machine without a GPU. Debian 12 ships Mesa 22, which Dawn refuses, so on bookworm the
# driver comes from the bookworm-backports suite. Safe to run twice; needs root (apt-get).
set -euo pipefail
installed=$(dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null || true)
if [[ "$installed" =~ ^(2[4-9]|[3-9][0-9])\. ]]; then
  echo "setup-software-gpu: lavapipe from mesa-vulkan-drivers $installed is present"
  exit 0
fi
. /etc/os-release
export DEBIAN_FRONTEND=noninteractive
suite_args=()
if [ "${ID:-}" = debian ] && [ "${VERSION_CODENAME:-}" = bookworm ]; then
  mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  [ -n "$mirror" ] || mirror=$(awk '/^deb / {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
  if [ -z "$mirror" ]; then
    echo "setup-software-gpu: no Debian mirror found in apt's sources" >&2
    exit 1
  fi
  printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
    "$mirror" > /etc/apt/sources.list.d/bookworm-backports.sources
  suite_args=(-t bookworm-backports)
fi
apt-get update -qq
apt-get install -y -qq "${suite_args[@]}" mesa-vulkan-drivers libvulkan1 >/dev/null
echo "setup-software-gpu: installed mesa-vulkan-drivers $(dpkg-query -W -f='${Version}' mesa-vulkan-drivers)"
