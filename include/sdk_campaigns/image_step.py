"""The campaign's image step (the DAG's `build_image`, one mapped task per SDK): find the SDK's test
image by its content tag in ECR and build it only when it is missing.

The lookup needs no Docker daemon: the tag hashes the build context, the build args and the base
image's registry digest (campaign/images.py), and ECR's DescribeImages says whether it exists. A missing
image is built by the config's `images.builder`:
- `docker`: docker-py next to Airflow (the local stack), inside the task;
- `codebuild`: the build context (the exact bytes the tag hashes) goes to S3 under
  `infra.build_context_prefix`, the stack's CodeBuild project builds and pushes exactly that tag, and
  the task waits in the triggerer (campaign/codebuild.py), holding no worker slot. The task links to the
  build's log.
A build that fails is an infrastructure failure (ImageBuildError), never a test failure.
"""

from __future__ import annotations

import time
from typing import Any

from sdk_campaigns.campaign.codebuild import CodeBuildBuildFailed, CodeBuildStartBuildOperator

BUILDERS = ("docker", "codebuild")
# What the task resumed after the build needs: the image it asked for. An XCom rather than defer()'s
# kwargs, which `airflow dags test` (3.3) drops when it runs the trigger inline.
IMAGE_BUILD_XCOM_KEY = "image_build"
# run_tests' kwargs for the SDK's job (tasks.register_job), beside the image: the DAG hands this key to
# the same SDK's run_tests (build_image.output[SUBMISSION_XCOM_KEY]).
SUBMISSION_XCOM_KEY = "submission"


class BuildImageOperator(CodeBuildStartBuildOperator):
    """One SDK's test image, by content tag: found in ECR, else built by `builder`.

    :param sdk_plan: the SDK's plan (campaign.plan.SdkPlan as XCom), the mapped argument
    :param stack: check_environment's CampaignResources (as XCom)
    :param builder: `docker` or `codebuild` (the config's images.builder)
    :param base_image: the base image's reference (images.base_image), resolved to its registry digest
    :param build_context_prefix: the results bucket's prefix for CodeBuild's build contexts
    :param build_timeout_minutes: CodeBuild's timeout per build
    :param run_plan: the run's plan (campaign.plan.RunPlan as XCom): with it, the SDK's job definition is
        registered for the image as soon as it is in ECR (no task of its own: stages.py)
    :return: campaign.images.PushedImage as a dict (image, digest, content tag, built or reused); with
        `run_plan`, run_tests' kwargs too, as the XCom SUBMISSION_XCOM_KEY
    """

    template_fields = (*CodeBuildStartBuildOperator.template_fields, "sdk_plan", "stack", "run_plan")

    def __init__(
        self,
        *,
        sdk_plan: dict,
        stack: dict,
        builder: str,
        base_image: str,
        build_context_prefix: str,
        build_timeout_minutes: int = 60,
        run_plan: dict | None = None,
        **kwargs,
    ) -> None:
        if builder not in BUILDERS:
            raise ValueError(f"images.builder {builder!r} is not one of {', '.join(BUILDERS)}")
        # Wait as long as CodeBuild lets the build run, and a little more.
        kwargs.setdefault(
            "waiter_max_attempts", build_timeout_minutes * 60 // kwargs.get("waiter_delay", 30) + 2
        )
        super().__init__(**kwargs)
        self.sdk_plan = sdk_plan
        self.stack = stack
        self.builder = builder
        self.base_image = base_image
        self.build_context_prefix = build_context_prefix
        self.build_timeout_minutes = build_timeout_minutes
        self.run_plan = run_plan

    def execute(self, context) -> Any:
        from sdk_campaigns.campaign import images
        from sdk_campaigns.campaign.aws import REGISTRY_EXTRA, AwsContext
        from sdk_campaigns.campaign.plan import SdkPlan
        from sdk_campaigns.campaign.resources import CampaignResources

        started = time.monotonic()
        planned = SdkPlan.from_xcom(self.sdk_plan)
        context["sdk"] = planned.sdk  # the map index's name (map_index_template)
        found = CampaignResources.from_xcom(self.stack)
        aws = AwsContext(self.aws_conn_id)
        ecr = aws.client("ecr")
        # Locally ECR's data plane is another registry (moto keeps no layers): the connection names it.
        stand_in_registry = aws.extra.get(REGISTRY_EXTRA)
        spec, context_tar = images.plan_image(
            sdk=planned.sdk,
            folder=planned.image_folder,
            repository=planned.repository,
            registry=images.image_registry(found.sdks[planned.sdk].repository_uri, stand_in_registry),
            base_image=self.base_image,
        )
        digest = images.ecr_image_digest(ecr, spec.repository, spec.content_tag)
        if digest:
            pushed = images.PushedImage(
                spec.sdk,
                spec.image,
                digest,
                spec.content_tag,
                False,
                time.monotonic() - started,
                spec.base_image,
            )
            return self._finish(context, pushed, "reused")

        if self.builder == "docker":
            pushed = images.build_with_docker(
                images.docker_client(),
                spec,
                context_tar,
                aws.registry_auth(),
                ecr=ecr,
                stand_in_ecr=ecr if stand_in_registry else None,
            )
            return self._finish(context, pushed, "built and pushed")

        key = images.context_key(self.build_context_prefix, spec)
        aws.client("s3").put_object(Bucket=found.results_bucket, Key=key, Body=context_tar)
        self.log.info(
            "%s: build context (%d bytes) at s3://%s/%s",
            spec.sdk,
            len(context_tar),
            found.results_bucket,
            key,
        )
        self.project_name = found.image_build_project
        self.start_build_kwargs = images.codebuild_request(
            spec, found.results_bucket, key, self.build_timeout_minutes
        )
        context["ti"].xcom_push(
            key=IMAGE_BUILD_XCOM_KEY, value={"image": spec.to_dict(), "started_at": time.time()}
        )
        self.log.info(
            "%s: %s is not in ECR; CodeBuild project %s builds it from %s",
            spec.sdk,
            spec.image,
            self.project_name,
            self.start_build_kwargs["sourceLocationOverride"],
        )
        return super().execute(context)

    def build_started(self, context, build: dict) -> None:
        from sdk_campaigns.reporting import links

        links.persist(links.build_links(build))

    def execute_complete(self, context, event: dict[str, Any] | None = None) -> Any:
        from sdk_campaigns.campaign import images
        from sdk_campaigns.campaign.aws import AwsContext

        ti = context["ti"]
        requested = ti.xcom_pull(task_ids=self.task_id, key=IMAGE_BUILD_XCOM_KEY, map_indexes=ti.map_index)
        spec = images.ImageSpec(**requested["image"])
        context["sdk"] = spec.sdk
        ecr = AwsContext(self.aws_conn_id).client("ecr")
        try:
            super().execute_complete(context, event)
        except CodeBuildBuildFailed as failure:
            # A concurrent run may have pushed the same tag first (ECR's tags are immutable).
            if not images.ecr_image_digest(ecr, spec.repository, spec.content_tag):
                raise images.ImageBuildError(
                    f"the {spec.sdk} image build failed (infrastructure_failed): {failure}"
                ) from None
            self.log.warning("%s; ECR has %s all the same (another run pushed it)", failure, spec.image)
        digest = images.ecr_image_digest(ecr, spec.repository, spec.content_tag)
        if not digest:
            raise images.ImageBuildError(
                f"the {spec.sdk} image build failed (infrastructure_failed): CodeBuild build "
                f"{event['build_id']} reported {event.get('build_status')}, but ECR has no "
                f"{spec.repository}:{spec.content_tag}"
            )
        seconds = time.time() - requested["started_at"]  # upload, build and wait
        pushed = images.PushedImage(
            spec.sdk, spec.image, digest, spec.content_tag, True, seconds, spec.base_image
        )
        return self._finish(context, pushed, "built by CodeBuild and pushed", build_id=event["build_id"])

    def _finish(self, context, pushed, verb: str, build_id: str | None = None) -> dict:
        """Log, link (the image in ECR; the build's log when CodeBuild made it), register the SDK's
        job definition for it (with `run_plan`) and return the image."""
        from sdk_campaigns.campaign.resources import CampaignResources
        from sdk_campaigns.reporting import links

        self.log.info(
            "%s: %s %s (%s) in %.2f s", pushed.sdk, verb, pushed.image, pushed.digest[:19], pushed.seconds
        )
        repository_uri = CampaignResources.from_xcom(self.stack).sdks[pushed.sdk].repository_uri
        parts = links.image_links(repository_uri, pushed.digest)
        if build_id:
            parts |= links.build_links(self.hook.get_build(build_id))
        links.persist(parts)
        image = pushed.to_dict()
        if self.run_plan is None:
            return image
        from sdk_campaigns import tasks
        from sdk_campaigns.config import cached_config

        submission = tasks.register_job(
            cached_config(), self.run_plan, self.sdk_plan, image, self.stack, self.aws_conn_id
        )
        self.log.info("%s: job definition %s", pushed.sdk, submission["job_definition"])
        context["ti"].xcom_push(key=SUBMISSION_XCOM_KEY, value=submission)
        return image
