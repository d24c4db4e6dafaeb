#!/usr/bin/env bash
# Create (or reuse) the project's virtualenv: the runtime (requirements.txt) and development
# (requirements-dev.txt) requirements under the lock (constraints.txt).
# Idempotent: a venv whose stamp matches those files (and pyproject.toml) is reused as is.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}
stamp_of() { cat requirements.txt requirements-dev.txt constraints.txt pyproject.toml | sha256sum | cut -c1-16; }
want=$(stamp_of)
if [ -x "$VENV/bin/python" ] && [ "$(cat "$VENV/.sdkc-stamp" 2>/dev/null)" = "$want" ]; then
  # Dependencies are current; only make sure this checkout is the one installed.
  "$VENV/bin/python" -c 'import sdk_campaigns, sys; sys.exit(not sdk_campaigns.__file__.startswith(sys.argv[1]))' "$PWD" \
    || "$VENV/bin/pip" install -q --no-deps -e .
  exit 0
fi
echo "creating the virtualenv in $VENV (Airflow, the Amazon provider, Great Expectations, moto)"
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
# (the grep drops pip's warnings about find-links folders some machines configure but lack)
"$VENV/bin/pip" install -q --upgrade pip 2> >(grep -v "WARNING: Location" >&2)
"$VENV/bin/pip" install -q -r requirements.txt -r requirements-dev.txt -c constraints.txt \
  2> >(grep -v "WARNING: Location" >&2)
"$VENV/bin/pip" install -q --no-deps -e .
echo "$want" > "$VENV/.sdkc-stamp"
