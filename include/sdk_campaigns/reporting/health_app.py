"""The "SDK Health" pages inside Airflow's UI: a FastAPI app the api-server mounts (see
plugins/sdk_health.py).

- `/`                 the dashboard: heatmap language × date, pass-rate trends, broken since,
                      regressions, flaky tests, each linking to its run's results;
- `/runs/{run_id}`    one DAG run's results (its published report);
- `/reports/...`      the published reports and Great Expectations Data Docs;
- `/api/dashboard`    the dashboard as JSON.

Plugin apps get no authentication from Airflow by themselves (apache/airflow#72655), so every
route requires a logged-in user allowed to read the campaign DAG: the UI's session cookie or a
bearer token, checked by Airflow's own auth manager. An anonymous request gets 401.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse

from sdk_campaigns.config import CampaignConfig, cached_config
from sdk_campaigns.reporting import templating

# Every Airflow component imports plugins, task processes included: the heavy modules (DuckDB,
# Arrow) are imported by the routes, in the api-server only.

URL_PREFIX = "/sdk-health"
AWS_CONN_ID = "aws_default"


def reports_url(dag_id: str) -> str:
    """Where this app serves the DAG's report folder."""
    return f"{URL_PREFIX}/reports/{quote(dag_id, safe='')}/"


def report_url(dag_id: str, run_id: str) -> str:
    from sdk_campaigns.reporting import report

    return f"{reports_url(dag_id)}{report.run_folder(run_id)}/{report.REPORT_FILE}"


def _require_dag_access(dag_id: str):
    """Airflow's own checks, as its REST API runs them: a valid session cookie or bearer token,
    and read access to the campaign DAG."""

    async def authorized(request: Request) -> None:
        from airflow.api_fastapi.core_api.security import get_user, requires_access_dag
        from fastapi.security import HTTPBearer

        credentials = await HTTPBearer(auto_error=False)(request)
        user = await get_user(request, None, credentials)
        requires_access_dag("GET", param_dag_id=dag_id)(request, user)

    return Depends(authorized)


def _summaries(config: CampaignConfig) -> list[dict]:
    from sdk_campaigns import history

    history.use_airflow_connection(AWS_CONN_ID)  # an s3:// history is read as the tasks write it
    return history.read_summaries(config.history_uri(), config.campaign.dag_id)


def create_app(config: CampaignConfig | None = None) -> FastAPI:
    config = config or cached_config()
    dag_id = config.campaign.dag_id
    report_root = (config.report_dir() / dag_id).resolve()
    app = FastAPI(
        title="SDK Health",
        description="Per-language pass/fail history of the SDK test campaign.",
        dependencies=[_require_dag_access(dag_id)],
    )

    @app.get("/", response_class=HTMLResponse)
    def dashboard_page() -> str:
        summaries = _summaries(config)
        if not summaries:
            return templating.render("health_page.html.j2", dag_id=dag_id, board=None)
        from sdk_campaigns.history import analytics
        from sdk_campaigns.reporting import report
        from sdk_campaigns.reporting.dashboard import dashboard_view

        board = dashboard_view(
            analytics.dashboard(config.history_uri(), dag_id),
            run_links=report.run_report_links(summaries, base=reports_url(dag_id)),
            log_links=report.run_log_links(summaries, base=reports_url(dag_id)),
        )
        return templating.render("health_page.html.j2", dag_id=dag_id, board=board)

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
        published = [s for s in _summaries(config) if s.get("run_id") == run_id]
        return HTMLResponse(templating.render("run_pending.html.j2", run_id=run_id, published=len(published)))

    @app.get("/reports/{requested_dag}/{path:path}")
    def report_file(requested_dag: str, path: str) -> FileResponse:
        if requested_dag != dag_id:
            raise HTTPException(404, f"no reports for DAG {requested_dag!r}")
        target = (report_root / path).resolve()
        # Never serve outside the DAG's report folder, whatever the path says.
        if not target.is_relative_to(report_root) or not target.is_file():
            raise HTTPException(404, "no such report file")
        return FileResponse(target)

    return app
