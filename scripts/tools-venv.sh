#!/usr/bin/env bash
# Create (or reuse) the venv of the template linters (cfn-lint, checkov) from requirements-tools.txt.
# A venv of their own: checkov's dependencies clash with Airflow's. Idempotent: a venv whose stamp
# matches requirements-tools.txt is reused as is. Prints the venv's path.
set -euo pipefail
cd "$(dirname "$0")/.."
# Beside the project venv (CI keeps that outside the clone, so this one is reused too).
TOOLS_VENV=${TOOLS_VENV:-${VENV:-.venv}-tools}
PYTHON=${PYTHON:-python3}
want=$(cat requirements-tools.txt scripts/tools-venv.sh | sha256sum | cut -c1-16)
if [ -x "$TOOLS_VENV/bin/checkov" ] && [ "$(cat "$TOOLS_VENV/.sdkc-stamp" 2>/dev/null)" = "$want" ]; then
  echo "$TOOLS_VENV"
  exit 0
fi
echo "creating the tools virtualenv in $TOOLS_VENV (cfn-lint, checkov)" >&2
[ -x "$TOOLS_VENV/bin/python" ] || "$PYTHON" -m venv "$TOOLS_VENV"
echo '*' > "$TOOLS_VENV/.gitignore"  # never committed, wherever it lives
# (the grep drops pip's warnings about find-links folders some machines configure but lack)
"$TOOLS_VENV/bin/pip" install -q --upgrade pip 2> >(grep -v "WARNING: Location" >&2) >&2
"$TOOLS_VENV/bin/pip" install -q -r requirements-tools.txt 2> >(grep -v "WARNING: Location" >&2) >&2
echo "$want" > "$TOOLS_VENV/.sdkc-stamp"
echo "$TOOLS_VENV"
