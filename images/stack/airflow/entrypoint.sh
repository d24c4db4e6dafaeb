#!/bin/sh
# Runs an Airflow component as the unprivileged airflow user. It starts as root only to
#  - join the group that owns the mounted Docker socket (its id differs from host to host;
#    the image step builds and pushes SDK images through it),
#  - start the registry forwarder (SDKC_REGISTRY_FORWARD, forward.py) as airflow, and
#  - when AIRFLOW_ADMIN_PASSWORD is set (the api-server), write the simple auth manager's
#    passwords file from it, so no password is baked into the image or generated at random.
set -eu

if [ -n "${AIRFLOW_ADMIN_PASSWORD:-}" ]; then
  python3 - <<'PY'
import json
import os

path = os.environ["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"]
users = os.environ["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"].split(",")
admin = next(u.split(":")[0] for u in users if u.split(":")[1:2] == ["admin"])
partial = path + ".tmp"
with open(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as stream:
    json.dump({admin: os.environ["AIRFLOW_ADMIN_PASSWORD"]}, stream)
os.chown(partial, 50000, 50000)
os.replace(partial, path)
PY
  unset AIRFLOW_ADMIN_PASSWORD
fi

groups=airflow
if [ -n "${SDKC_REGISTRY_FORWARD:-}" ]; then  # "127.0.0.1:5001=registry:5000": see forward.py
  setpriv --reuid=airflow --regid=airflow --clear-groups --inh-caps=-all -- \
    python3 /usr/local/bin/sdkc-forward "${SDKC_REGISTRY_FORWARD%%=*}" "${SDKC_REGISTRY_FORWARD#*=}" &
fi
if [ -S /var/run/docker.sock ]; then
  groups="airflow,$(stat -c %g /var/run/docker.sock)"
fi
export HOME=/opt/airflow USER=airflow
exec setpriv --reuid=airflow --regid=airflow --groups="$groups" --inh-caps=-all -- "$@"
