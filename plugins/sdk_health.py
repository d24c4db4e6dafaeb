"""SDK Health in Airflow's UI: a nav entry with the campaign dashboard and, on every DAG run, a
tab with that run's results. The pages are served by sdk_campaigns.reporting.health_app, mounted on the
api-server, and every one of them requires Airflow's login."""

from airflow.plugins_manager import AirflowPlugin

from sdk_campaigns.reporting.health_app import URL_PREFIX, create_app


class SdkHealthPlugin(AirflowPlugin):
    name = "sdk_health"
    fastapi_apps = [{"app": create_app(), "url_prefix": URL_PREFIX, "name": "SDK Health"}]
    external_views = [
        {
            "name": "SDK Health",
            "href": f"{URL_PREFIX}/",
            "destination": "nav",
            "url_route": "sdk-health",
            "category": "browse",
        },
        {
            "name": "SDK results",
            "href": f"{URL_PREFIX}/runs/{{RUN_ID}}",
            "destination": "dag_run",
            "url_route": "sdk-results",
        },
    ]
