"""The "SDK Health" pages inside Airflow's UI: a FastAPI app the api-server mounts (see
plugins/sdk_health.py).

- `/`                 the dashboard: heatmap language × date, pass-rate trends, broken since,
                      regressions, flaky tests, each linking to its run's results; then the
                      ad hoc runs (runs with overrides), which the official answers leave out;
- `/test?sdk=…&test_id=…`  one test's history: outcome, duration, message and commit in every run;
- `/runs/{run_id}`    one DAG run's results (its published report);
- `/reports/...`      the published reports and Great Expectations Data Docs;
- `/api/dashboard`    the dashboard as JSON;
- `/quarantine`       quarantined tests, their audit log, and (for users who may edit the DAG) the forms
                      that change them (reporting/quarantine_page.py).

Plugin apps get no authentication from Airflow by themselves (apache/airflow#72655), so every
route requires a logged-in user allowed to read the campaign DAG: the UI's session cookie or a
bearer token, checked by Airflow's own auth manager. An anonymous request gets 401. There are no
docs or OpenAPI routes. The job log tails in reports are shown only to users who may read the DAG's
task logs; others see a note instead.

The pages are served from the api-server's own origin, and reports and Data Docs show what jobs wrote:
every response carries CONTENT_SECURITY_POLICY (a sandbox without scripts, nothing loaded from
elsewhere) and `X-Content-Type-Options: nosniff`. A bad path (NUL bytes, `..`, hidden files, names too
long for the file system) is a 404.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, StreamingResponse

from sdk_campaigns.config import CampaignConfig, cached_config
from sdk_campaigns.reporting import quarantine_page, templating

# Every Airflow component imports plugins, task processes included: the heavy modules (DuckDB,
# Arrow) are imported by the routes, in the api-server only.

URL_PREFIX = "/sdk-health"
AWS_CONN_ID = "aws_default"
# No script may run, whatever a page holds: `sandbox` without allow-scripts. allow-same-origin keeps the
# page's own origin, so links and images still carry Airflow's SameSite=Lax session cookie inside the
# UI's iframe (in a plain sandbox, an opaque origin, every link there answers 401); without scripts it
# grants the page nothing else. Nothing is loaded from elsewhere: no CDN, no font, no form target.
CONTENT_SECURITY_POLICY = (
    "sandbox allow-same-origin; default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
    "form-action 'none'; base-uri 'self'; frame-ancestors 'self'"
)
FORMS_POLICY = quarantine_page.FORMS_CONTENT_SECURITY_POLICY.encode()
SECURITY_HEADERS = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
)
# Report templates put each job log tail between these lines (report.html.j2); the container's text in
# between is escaped, so it can never write them itself.
LOG_TAIL_START = "<!-- sdk-campaigns:job-log -->"
LOG_TAIL_END = "<!-- /sdk-campaigns:job-log -->"
LOG_TAIL_HIDDEN = "<p><em>The job log is shown to users who may read this DAG's task logs.</em></p>\n"
_BAD_PATH_CHARACTERS = re.compile(r"[\x00-\x1f\x7f\\]")
MAX_NAME_BYTES = 255  # one path segment, as file systems allow


def reports_url(dag_id: str) -> str:
    """Where this app serves the DAG's report folder."""
    return f"{URL_PREFIX}/reports/{quote(dag_id, safe='')}/"


def report_url(dag_id: str, run_id: str) -> str:
    from sdk_campaigns.reporting import report

    return f"{reports_url(dag_id)}{report.run_folder(run_id)}/{report.REPORT_FILE}"


class SecurityHeaders:
    """ASGI middleware: SECURITY_HEADERS on every response, errors (401, 403, 404) included."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                names = {name for name, _ in SECURITY_HEADERS}
                headers = message.get("headers", [])
                kept = [(k, v) for k, v in headers if k.lower() not in names]
                added = list(SECURITY_HEADERS)
                if (b"content-security-policy", FORMS_POLICY) in headers:  # only the quarantine page sets it
                    added[0] = (b"content-security-policy", FORMS_POLICY)
                message = {**message, "headers": [*kept, *added]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _require_dag_access(dag_id: str):
    """Airflow's own checks, as its REST API runs them: a valid session cookie or bearer token,
    and read access to the campaign DAG. Whether the user may also read the DAG's task logs is kept
    in `request.state.may_read_task_logs`."""

    async def authorized(request: Request) -> None:
        from airflow.api_fastapi.core_api.security import get_user, requires_access_dag
        from fastapi.security import HTTPBearer

        credentials = await HTTPBearer(auto_error=False)(request)
        user = await get_user(request, None, credentials)
        requires_access_dag("GET", param_dag_id=dag_id)(request, user)
        request.state.user = user
        request.state.may_read_task_logs = _may_read_task_logs(request, user, dag_id)

    return Depends(authorized)


def _may_read_task_logs(request: Request, user, dag_id: str) -> bool:
    from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity
    from airflow.api_fastapi.core_api.security import requires_access_dag

    try:
        requires_access_dag("GET", DagAccessEntity.TASK_LOGS, dag_id)(request, user)
    except HTTPException:
        return False
    return True


def _summaries(config: CampaignConfig, lane: str = "official") -> list[dict]:
    from sdk_campaigns import history

    history.use_airflow_connection(AWS_CONN_ID)  # an s3:// history is read as the tasks write it
    return history.read_summaries(config.history_uri(), config.campaign.dag_id, lane=lane)


ADHOC_RUNS_SHOWN = 50


def adhoc_runs(summaries: list[dict], report_links: dict) -> list[dict]:
    """The newest ad hoc runs, one entry per run with each SDK's status, commit and overrides."""
    runs: dict[str, dict] = {}
    for summary in summaries:
        run = runs.setdefault(
            summary["run_id"],
            {
                "run_id": summary["run_id"],
                "logical_date": summary["logical_date"],
                "report": report_links.get(summary["run_id"]),
                "sdks": [],
            },
        )
        commit = summary.get("commit") or "unknown"
        run["sdks"].append(
            {
                "sdk": summary["sdk"],
                "status": summary.get("status") or "",
                "commit": commit[:12] if len(commit) > 20 else commit,
                "overrides": "" if summary.get("overrides") in (None, "{}") else summary["overrides"],
            }
        )
    newest = sorted(runs.values(), key=lambda r: r["logical_date"], reverse=True)
    return newest[:ADHOC_RUNS_SHOWN]


def _triage(config: CampaignConfig, sdks: list[str]) -> dict:
    """Recent cross-SDK incidents, the quarantine in force with its release state, and the owners."""
    from sdk_campaigns.campaign import incidents, quarantine
    from sdk_campaigns.campaign.alert_routing import load_owners
    from sdk_campaigns.reporting.triage_view import owner_rows, quarantine_rows, recent_incident_rows

    uri, dag_id = config.history_uri(), config.campaign.dag_id
    entries = quarantine.entries_in_force(quarantine.current_entries(config, uri))
    status = quarantine.release_status(uri, dag_id, entries, config.quarantine.ready_after_passes)
    return {
        "incidents": recent_incident_rows(incidents.recent(uri, dag_id)),
        "quarantine": quarantine_rows(status),
        "owners": owner_rows(load_owners(config), sdks),
    }


def report_file_path(report_root: Path, path: str) -> Path | None:
    """The file `path` names inside the report folder, or None: for anything that is not a plain
    relative path to a file there (empty or hidden segments, `..`, control characters, backslashes,
    names too long, symlinks leading out)."""
    segments = path.split("/")
    try:
        if any(
            not segment
            or segment.startswith(".")
            or _BAD_PATH_CHARACTERS.search(segment)
            or len(segment.encode()) > MAX_NAME_BYTES
            for segment in segments
        ):
            return None
        target = (report_root / path).resolve()
        return target if target.is_relative_to(report_root) and target.is_file() else None
    except (OSError, ValueError, RuntimeError):  # unencodable names, loops: no such file
        return None


def without_log_tails(path: Path) -> Iterator[bytes]:
    """The page, streamed, with each job log tail replaced by a note."""
    with open(path, encoding="utf-8", errors="replace") as page:
        in_tail = False
        for line in page:
            if not in_tail and line.strip() == LOG_TAIL_START:
                in_tail = True
                yield LOG_TAIL_HIDDEN.encode()
            elif in_tail:
                in_tail = line.strip() != LOG_TAIL_END
            else:
                yield line.encode()


def create_app(config: CampaignConfig | None = None) -> FastAPI:
    config = config or cached_config()
    dag_id = config.campaign.dag_id
    report_root = (config.report_dir() / dag_id).resolve()
    app = FastAPI(
        title="SDK Health",
        description="Per-language pass/fail history of the SDK test campaign.",
        dependencies=[_require_dag_access(dag_id)],
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.add_middleware(SecurityHeaders)

    quarantine_page.add_routes(app, config, URL_PREFIX, AWS_CONN_ID)

    @app.get("/", response_class=HTMLResponse)
    def dashboard_page() -> str:
        from sdk_campaigns.reporting import report, test_pages

        summaries = _summaries(config)
        adhoc_summaries = _summaries(config, "adhoc")
        adhoc = adhoc_runs(
            adhoc_summaries, report.run_report_links(adhoc_summaries, base=reports_url(dag_id))
        )
        triage = _triage(config, sorted({s["sdk"] for s in summaries} | set(config.sdk_names)))
        quarantine_link = f"{URL_PREFIX}{quarantine_page.PATH}"
        if not summaries:
            return templating.render(
                "health_page.html.j2",
                dag_id=dag_id,
                board=None,
                adhoc=adhoc,
                triage=triage,
                quarantine_link=quarantine_link,
            )
        from sdk_campaigns.history import analytics
        from sdk_campaigns.reporting.dashboard import dashboard_view

        board = dashboard_view(
            analytics.dashboard(config.history_uri(), dag_id),
            run_links=report.run_report_links(summaries, base=reports_url(dag_id)),
            log_links=report.run_log_links(summaries, base=reports_url(dag_id)),
            test_link=lambda sdk, test_id: test_pages.app_link(URL_PREFIX, sdk, test_id),
        )
        return templating.render(
            "health_page.html.j2",
            dag_id=dag_id,
            board=board,
            adhoc=adhoc,
            triage=triage,
            quarantine_link=quarantine_link,
        )

    @app.get("/test", response_class=HTMLResponse)
    def test_page(sdk: str, test_id: str, lane: str = "official") -> str:
        """One test's history; any sdk and test_id are only looked up, never used as a path."""
        from sdk_campaigns import history
        from sdk_campaigns.history import analytics
        from sdk_campaigns.reporting import report, test_pages

        if lane not in history.LANES or len(sdk) > MAX_NAME_BYTES or len(test_id) > 4 * MAX_NAME_BYTES:
            raise HTTPException(404, "no such test")
        summaries = _summaries(config, lane)
        try:
            entries = analytics.test_history(config.history_uri(), dag_id, sdk, test_id, lane=lane)
        except history.HistoryError:  # an SDK name no history folder can have (empty, "..")
            entries = []
        if not entries:
            raise HTTPException(404, "no run in this history has that test")
        view = test_pages.test_page_view(
            sdk,
            test_id,
            entries,
            run_links=report.run_report_links(summaries, base=reports_url(dag_id)),
            log_links=report.run_log_links(summaries, base=reports_url(dag_id)),
            lane=lane,
        )
        return test_pages.render_test_page(view)

    @app.get("/api/dashboard")
    def dashboard_json() -> dict:
        if not _summaries(config):
            return {"dag_id": dag_id, "pass_fail_history": []}
        from sdk_campaigns.history import analytics

        return analytics.dashboard(config.history_uri(), dag_id)

    @app.get("/runs/{run_id}")
    def run_view(run_id: str):
        """One run's results: its report once published, else what is known so far."""
        from sdk_campaigns.reporting import report

        if report.report_path(config.report_dir(), dag_id, run_id).is_file():
            return RedirectResponse(report_url(dag_id, run_id))
        summaries = _summaries(config) + _summaries(config, "adhoc")
        published = [s for s in summaries if s.get("run_id") == run_id]
        return HTMLResponse(templating.render("run_pending.html.j2", run_id=run_id, published=len(published)))

    @app.get("/reports/{requested_dag}/{path:path}")
    def report_file(requested_dag: str, path: str, request: Request):
        target = report_file_path(report_root, path) if requested_dag == dag_id else None
        if target is None:
            raise HTTPException(404, "no such report file")
        if target.suffix == ".html" and not getattr(request.state, "may_read_task_logs", False):
            return StreamingResponse(without_log_tails(target), media_type="text/html; charset=utf-8")
        return FileResponse(target)

    return app
