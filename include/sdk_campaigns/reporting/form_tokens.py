"""CSRF tokens for the SDK Health page's forms: an HMAC of the user's id and the time it was issued,
keyed by Airflow's own JWT secret (shared by every api-server worker), so that a form posted from
anywhere but a page served to that same user fails. No server state; a token lives TOKEN_SECONDS."""

from __future__ import annotations

import hashlib
import hmac
import time

TOKEN_SECONDS = 2 * 3600
_PURPOSE = b"sdk-campaigns quarantine form"


def _key() -> bytes:
    from airflow.configuration import conf

    secret = conf.get("api_auth", "jwt_secret", fallback="") or conf.get("api", "secret_key", fallback="")
    if not secret:
        raise RuntimeError("no [api_auth] jwt_secret or [api] secret_key to sign the page's forms with")
    return hashlib.sha256(_PURPOSE + b"\0" + secret.encode()).digest()


def _signature(key: bytes, user_id: str, issued: int) -> str:
    return hmac.new(key, f"{user_id}\0{issued}".encode(), hashlib.sha256).hexdigest()


def issue(user_id: str, *, now: float | None = None, key: bytes | None = None) -> str:
    issued = int(now if now is not None else time.time())
    return f"{issued}.{_signature(key or _key(), user_id, issued)}"


def valid(token: str, user_id: str, *, now: float | None = None, key: bytes | None = None) -> bool:
    issued_text, _, signature = (token or "").partition(".")
    if not issued_text.isdigit() or len(signature) != 64:
        return False
    issued = int(issued_text)
    age = (now if now is not None else time.time()) - issued
    if not 0 <= age <= TOKEN_SECONDS:
        return False
    return hmac.compare_digest(signature, _signature(key or _key(), user_id, issued))
