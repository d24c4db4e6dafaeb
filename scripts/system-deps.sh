#!/usr/bin/env bash
# The system packages the tests and the local stack need, installed on a Debian machine as root
# (idempotent: nothing is installed twice). Elsewhere, nothing is installed: the script lists
# what is missing and how to get it, and fails.
#
#   Docker Engine (docker.io)   runs the Batch jobs and builds the images
#   docker-compose              the compose deployment's smoke test
#   debootstrap                 builds the Debian base image when no public registry answers
#   docker-registry             the OCI registry standing in for ECR's data plane
#   postgresql                  Airflow's metadata database
#   chromium                    the browser tests (driven by Playwright, never a downloaded browser)
#   nodejs                      the CDK app's synth (jsii); only installed when `node` is missing
#   python3-venv, git, make, ca-certificates
set -euo pipefail

PACKAGES=(docker.io docker-compose debootstrap docker-registry postgresql chromium git make ca-certificates)
# What each package provides, for machines where we cannot install (checked by command or path).
declare -A PROVIDES=(
  [docker.io]=dockerd [docker-compose]=docker-compose [debootstrap]=debootstrap
  [docker-registry]=docker-registry [postgresql]=pg_ctlcluster [chromium]=chromium [git]=git
  [make]=make [ca-certificates]=/etc/ssl/certs/ca-certificates.crt [nodejs]=node
)

provided() {
  local thing=${PROVIDES[$1]}
  if [[ $thing == /* ]]; then [ -e "$thing" ]; else command -v "$thing" >/dev/null 2>&1 || [ -x "/usr/sbin/$thing" ] || [ -x "/usr/bin/$thing" ]; fi
}

if [ -f /etc/debian_version ] && [ "$(id -u)" = 0 ]; then
  missing=()
  for package in "${PACKAGES[@]}"; do
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
  done
  command -v node >/dev/null 2>&1 || missing+=(nodejs)
  python3 -m venv --help >/dev/null 2>&1 || missing+=(python3-venv)
  if [ ${#missing[@]} -gt 0 ]; then
    echo "system-deps: apt-get install ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null
    apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
  fi
  exit 0
fi

missing=()
for package in "${PACKAGES[@]}" nodejs; do
  provided "$package" || missing+=("$package (${PROVIDES[$package]})")
done
python3 -m venv --help >/dev/null 2>&1 || missing+=("python3-venv (python3 -m venv)")
if [ ${#missing[@]} -gt 0 ]; then
  why="not a Debian machine"; [ -f /etc/debian_version ] && why="not root"
  {
    echo "system-deps: cannot install packages here ($why), and these are missing:"
    printf '  - %s\n' "${missing[@]}"
    echo "Install them with your system's package manager (Debian/Ubuntu as root:"
    echo "  apt-get install ${PACKAGES[*]} nodejs python3-venv),"
    echo "or run \`make system-deps\` as root on Debian. Docker Engine must be running or startable (dockerd)."
  } >&2
  exit 1
fi
