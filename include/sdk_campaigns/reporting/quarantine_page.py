"""The SDK Health page's quarantine: see and change quarantined tests (campaign/quarantine.py).

- `GET  /quarantine`         the entries (config and page), each one's "ready to release" state, the forms
                             (for users who may edit the DAG), and the audit log: who, when, why;
- `POST /quarantine/add`     quarantine a test (SDK, test pattern, reason, owner, expiry);
- `POST /quarantine/remove`  end a quarantine, saying why.

Reading needs what every SDK Health page needs (read access on the campaign DAG); changing needs edit
access on it: Airflow's auth manager, `is_authorized_dag` with method PUT, as the REST API asks before
changing a DAG. Each form carries a CSRF token bound to the user (reporting/form_tokens.py), and these
pages alone get a CSP that allows forms posting to this origin (FORMS_CONTENT_SECURITY_POLICY); still no
script. A change lands as its own document in the history's `_quarantine/` folder, which the DAG reads.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from sdk_campaigns.campaign import quarantine
from sdk_campaigns.config import CampaignConfig
from sdk_campaigns.reporting import form_tokens, templating
from sdk_campaigns.reporting.triage_view import quarantine_rows

log = logging.getLogger(__name__)

PATH = "/quarantine"
MAX_FORM_BYTES = 16 * 1024
AUDIT_SHOWN = 200  # newest changes on the page
# As health_app.CONTENT_SECURITY_POLICY, plus forms that post to this origin only.
FORMS_CONTENT_SECURITY_POLICY = (
    "sandbox allow-same-origin allow-forms; default-src 'none'; style-src 'unsafe-inline'; "
    "img-src 'self' data:; form-action 'self'; base-uri 'self'; frame-ancestors 'self'"
)


def _user(request: Request):
    return request.state.user


def _may_edit(request: Request, dag_id: str) -> bool:
    from airflow.api_fastapi.core_api.security import requires_access_dag

    try:
        requires_access_dag("PUT", param_dag_id=dag_id)(request, _user(request))
    except HTTPException:
        return False
    return True


async def _form(request: Request) -> dict[str, str]:
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise HTTPException(413, "form too large")
    if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        raise HTTPException(403, "cross-site form refused")
    fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=20)
    return {name: values[-1] for name, values in fields.items()}


def add_routes(app: FastAPI, config: CampaignConfig, base_url: str, aws_conn_id: str) -> None:
    """Register the quarantine routes on the health app; `base_url`: where the app is mounted;
    `aws_conn_id`: the connection an s3:// history is read and written through."""
    from sdk_campaigns import history

    dag_id = config.campaign.dag_id
    settings = config.quarantine

    def page(
        request: Request, *, error: str = "", status: int = 200, form: dict | None = None
    ) -> HTMLResponse:
        uri = config.history_uri()
        changes = quarantine.audit_log(uri, dag_id)
        entries = quarantine.merged_entries(config, changes)
        now = datetime.now(UTC)
        in_force = quarantine.entries_in_force(entries, now)
        expired = [e for e in entries if e not in in_force]
        status_rows = quarantine_rows(
            quarantine.release_status(uri, dag_id, in_force, settings.ready_after_passes)
        )
        may_edit = _may_edit(request, dag_id)
        html = templating.render(
            "quarantine_page.html.j2",
            dag_id=dag_id,
            base=base_url,
            entries=status_rows,
            expired=quarantine_rows([{**e, "tests": [], "ready": False} for e in expired]),
            audit=list(reversed(changes))[:AUDIT_SHOWN],
            may_edit=may_edit,
            token=form_tokens.issue(_user(request).get_id()) if may_edit else "",
            sdks=["*", *config.sdk_names],
            error=error,
            form=form or {},
            ready_after=settings.ready_after_passes,
            max_days=settings.max_days,
            default_expiry=(now.date() + timedelta(days=min(30, settings.max_days))).isoformat(),
        )
        return HTMLResponse(
            html, status_code=status, headers={"content-security-policy": FORMS_CONTENT_SECURITY_POLICY}
        )

    @app.get(PATH, response_class=HTMLResponse)
    def quarantine_view(request: Request):
        return page(request)

    async def change(request: Request, action: str):
        if not _may_edit(request, dag_id):
            raise HTTPException(403, "changing the quarantine needs edit access on the DAG")
        form = await _form(request)
        user = _user(request)
        if not form_tokens.valid(form.get("csrf", ""), user.get_id()):
            raise HTTPException(403, "the form's token is missing, expired or not yours: reload the page")
        history.use_airflow_connection(aws_conn_id)
        entry = {k: form.get(k, "") for k in quarantine.ENTRY_KEYS}
        why = form.get("reason", "") if action == "add" else form.get("why", "")
        try:
            quarantine.record_change(
                config.history_uri(),
                dag_id,
                action=action,
                entry=entry,
                why=why,
                by=user.get_name() or user.get_id(),
                max_days=settings.max_days,
            )
        except quarantine.QuarantineError as err:
            return page(request, error=str(err), status=400, form=form if action == "add" else {})
        return RedirectResponse(f"{base_url}{PATH}", status_code=303)

    @app.post(f"{PATH}/add")
    async def add(request: Request):
        return await change(request, "add")

    @app.post(f"{PATH}/remove")
    async def remove(request: Request):
        return await change(request, "remove")
