"""Extra links on the campaign's task pages: the job's CloudWatch log stream (collect), the test
image in ECR (build_image), the SDK's results in S3 (collect) and the Great Expectations Data
Docs (publish, which validates). Global links, because the tasks are @task functions; each shows only on the
task instances that stored its values (see sdk_campaigns.reporting.links)."""

from airflow.plugins_manager import AirflowPlugin

from sdk_campaigns.reporting.links import CAMPAIGN_LINKS


class SdkCampaignsLinksPlugin(AirflowPlugin):
    name = "sdk_campaigns_links"
    global_operator_extra_links = list(CAMPAIGN_LINKS)
