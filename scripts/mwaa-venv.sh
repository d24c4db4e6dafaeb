#!/usr/bin/env bash
# The MWAA bundle test's virtualenv: Airflow 3.3.1 and the bundle's requirements.txt as Amazon MWAA
# installs them (providers-amazon 9.34.0, ...), on this machine's Python (3.11; MWAA runs 3.12).
# The requirements' --constraint URL cannot be downloaded here: scripts/mwaa-constraints-3.3.1.txt,
# MWAA's copy of it, stands in. Reused while its stamp (requirements, constraints, this script)
# matches. Usage: scripts/mwaa-venv.sh [build/mwaa/requirements.txt]; prints the venv's path.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
MWAA_VENV=${MWAA_VENV:-${VENV}-mwaa}
PYTHON=${PYTHON:-python3}
REQUIREMENTS=${1:-build/mwaa/requirements.txt}
CONSTRAINTS=scripts/mwaa-constraints-3.3.1.txt
want=$( (grep -v '^--constraint' "$REQUIREMENTS"; cat "$CONSTRAINTS" "$0") | sha256sum | cut -c1-16)
if [ -x "$MWAA_VENV/bin/airflow" ] && [ "$(cat "$MWAA_VENV/.sdkc-stamp" 2>/dev/null)" = "$want" ]; then
  echo "$MWAA_VENV"
  exit 0
fi
started=$SECONDS
echo "creating the MWAA bundle's virtualenv in $MWAA_VENV (Airflow 3.3.1, providers-amazon 9.34.0)" >&2
rm -rf "$MWAA_VENV"
"$PYTHON" -m venv "$MWAA_VENV"
# (the grep drops pip's warnings about find-links folders some machines configure but lack)
"$MWAA_VENV/bin/pip" install -q --upgrade pip 2> >(grep -v "WARNING: Location" >&2) >&2
grep -v '^--constraint' "$REQUIREMENTS" > "$MWAA_VENV/bundle-requirements.txt"
# As MWAA does: Airflow and the user's requirements in one resolution, under the constraints.
"$MWAA_VENV/bin/pip" install -q "apache-airflow==3.3.1" -r "$MWAA_VENV/bundle-requirements.txt" \
  -c "$CONSTRAINTS" 2> >(grep -v "WARNING: Location" >&2) >&2
echo "$want" > "$MWAA_VENV/.sdkc-stamp"
echo "installed in $((SECONDS - started)) s" >&2
echo "$MWAA_VENV"
