#!/usr/bin/env bash
# Fills images/stack/generated/: the part of the compose images' build context that lives
# outside images/stack. That is the lock files (requirements.txt, constraints.txt) and the
# extra CA certificates this host trusts, which pip and apt inside `docker build` need when
# a TLS-inspecting proxy sits in front of PyPI and Debian's mirrors. Also template.json: the
# campaign's CloudFormation template, synthesized here (the CDK and Node.js are on the host,
# not in the images), which compose's aws-init deploys into moto.
# Run it before `docker-compose build`. Files whose content did not change are left alone,
# and Docker's COPY cache ignores timestamps, so a rerun keeps every cached layer.
set -euo pipefail
stack=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$stack/../.." && pwd)
ca_dir=${SDK_CAMPAIGNS_EXTRA_CA_DIR:-/usr/local/share/ca-certificates}
out=$stack/generated

sync_file() {  # sync_file SOURCE TARGET
  cmp -s "$1" "$2" 2>/dev/null || cp "$1" "$2"
}

mkdir -p "$out/extra-ca"
sync_file "$repo/requirements.txt" "$out/requirements.txt"
sync_file "$repo/constraints.txt" "$out/constraints.txt"

shopt -s nullglob
wanted=()
for cert in "$ca_dir"/*.crt; do
  sync_file "$cert" "$out/extra-ca/$(basename "$cert")"
  wanted+=("$(basename "$cert")")
done
for cert in "$out"/extra-ca/*.crt; do
  name=$(basename "$cert")
  [[ " ${wanted[*]} " == *" $name "* ]] || rm -f "$cert"
done

# The CLI of the venv that runs this (make and the tests pass it; CI's venv is outside the clone).
cli=${SDK_CAMPAIGNS_CLI:-$repo/.venv/bin/sdk-campaigns}
[[ -x "$cli" ]] || { echo "prepare.sh: $cli not found: set SDK_CAMPAIGNS_CLI to the venv's sdk-campaigns (make compose-up does)" >&2; exit 1; }
"$cli" infra template >"$out/template.json.new"
sync_file "$out/template.json.new" "$out/template.json"
rm -f "$out/template.json.new"
echo "images/stack/generated: lock files, template.json and ${#wanted[@]} extra CA certificate(s) from $ca_dir"
