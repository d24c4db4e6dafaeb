"""What one message on the events queue asks for: a campaign, nothing, or the dead-letter queue.

EventBridge delivers the whole event to SQS as the message body: `source`, `detail-type`, `id` and
the payload in `detail`. The formats that start a campaign:

- a GitHub `release` with action `published` (EventBridge's GitHub inbound webhook: source
  `github.com`, detail-type the X-GitHub-Event header, detail GitHub's payload): the release's tag;
- a GitHub `push` to the repository's default branch: the pushed commit (`after`);
- a plain request, source `sdk-campaigns`, detail `{"sdk": "<name>", "ref": "<branch, tag or sha>"}`,
  or that object alone as the body of a message sent straight to the queue.

Other GitHub events and actions (a draft release, a push to another branch, GitHub's `ping`) are
ignored. Anything else is rejected with a reason and goes to the dead-letter queue: a body that is
not such an event, an unknown SDK, a repository no SDK is mapped to, a ref that is not plainly a git
name. Message bodies are hostile input: values quoted in reasons are cut short.

Every delivery of one event gets the same campaign run id, so duplicates start one campaign: SQS and
EventBridge redeliver with the same event id, and GitHub's redelivery of a release or push carries the
same release id or commit.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass

from sdk_campaigns.campaign.sources import REF_PATTERN
from sdk_campaigns.config import CampaignConfig

GITHUB_SOURCE = "github.com"  # what EventBridge's GitHub inbound webhook puts as the event's source
PLAIN_SOURCE = "sdk-campaigns"
PLAIN_KEYS = {"sdk", "ref"}
GITHUB_STARTS = {"release": "published"}  # event -> the action that starts a campaign (push: no action)
MAX_SHOWN_CHARS = 80
RUN_ID_PREFIX = "event__"


@dataclass(frozen=True)
class CampaignRequest:
    """A message that starts a campaign of `sdks` at `ref`."""

    message_id: str
    sdks: tuple[str, ...]
    ref: str
    origin: str  # for people: "GitHub release v1.2.0 of org/sdk-python"
    event_key: str  # the same for every delivery of one event

    @property
    def run_id(self) -> str:
        """The campaign's run id: readable, and deterministic in the event, so a duplicate delivery
        finds the run its first delivery started. Only characters Airflow allows in run ids."""
        sdks = "-".join(self.sdks) if len(self.sdks) <= 3 else f"{len(self.sdks)}-sdks"
        ref = re.sub(r"[^A-Za-z0-9_.-]", "-", self.ref)[:40]
        digest = hashlib.sha256(self.event_key.encode()).hexdigest()[:12]
        return f"{RUN_ID_PREFIX}{sdks}__{ref}__{digest}"

    @property
    def conf(self) -> dict:
        return {"sdks": list(self.sdks), "ref": self.ref}

    def to_xcom(self) -> dict:
        return {**asdict(self), "sdks": list(self.sdks), "run_id": self.run_id}


@dataclass(frozen=True)
class Ignored:
    """A message that asks for nothing (a draft release, a push to another branch): acknowledged."""

    message_id: str
    why: str


@dataclass(frozen=True)
class Rejected:
    """A message the dispatcher cannot act on: it goes to the dead-letter queue with `reason`."""

    message_id: str
    body: str
    reason: str


class _Reject(ValueError):
    """Raised while reading a message: the message is rejected with this reason."""


class _Ignore(ValueError):
    """Raised while reading a message: the message asks for nothing."""


def shown(value: object) -> str:
    """A hostile value as quoted in a reason or a log line: repr'd (control characters escaped), cut."""
    text = repr(value)
    return text if len(text) <= MAX_SHOWN_CHARS else f"{text[:MAX_SHOWN_CHARS]}… ({len(text)} chars)"


def read_message(config: CampaignConfig, message: dict) -> CampaignRequest | Ignored | Rejected:
    """One SQS message (as ReceiveMessage returns it: MessageId, Body) read against the config."""
    message_id = str(message.get("MessageId") or "")
    body = message.get("Body")
    try:
        return _read_body(config, message_id, body)
    except _Ignore as why:
        return Ignored(message_id=message_id, why=str(why))
    except _Reject as reason:
        return Rejected(message_id=message_id, body=body if isinstance(body, str) else "", reason=str(reason))


def _read_body(config: CampaignConfig, message_id: str, body: object) -> CampaignRequest:
    if not isinstance(body, str) or not body.strip():
        raise _Reject("malformed: the message has no body")
    try:
        event = json.loads(body)
    except ValueError:
        raise _Reject(f"malformed: the body is not JSON: {shown(body)}") from None
    if not isinstance(event, dict):
        raise _Reject(f"malformed: the body is not a JSON object: {shown(event)}")
    if "detail-type" not in event and "source" not in event:
        # A plain request sent straight to the queue, not through EventBridge.
        return _plain(config, event, message_id, event_key=f"sqs:{message_id}", origin="plain request")
    source, detail = event.get("source"), event.get("detail")
    if not isinstance(detail, dict):
        raise _Reject("malformed: an EventBridge event whose detail is not an object")
    event_id = event.get("id")
    if source == PLAIN_SOURCE:
        key = f"eventbridge:{event_id}" if isinstance(event_id, str) and event_id else f"sqs:{message_id}"
        return _plain(config, detail, message_id, event_key=key, origin="plain event")
    if source == GITHUB_SOURCE:
        return _github(config, event.get("detail-type"), detail, message_id)
    raise _Reject(f"unknown event source {shown(source)}: expected {GITHUB_SOURCE!r} or {PLAIN_SOURCE!r}")


def _ref(value: object, what: str) -> str:
    """sources.validate_ref's rules, with the hostile value cut short in the reason."""
    plain = isinstance(value, str) and REF_PATTERN.fullmatch(value) and ".." not in value
    if plain and not value.endswith(".lock"):
        return value
    raise _Reject(f"invalid ref {shown(value)} ({what}): not a git branch, tag or commit name")


def _known_sdk(config: CampaignConfig, sdk: object, what: str) -> str:
    if isinstance(sdk, str) and sdk in config.sdks:
        return sdk
    raise _Reject(f"unknown SDK {shown(sdk)} ({what}); known SDKs: {', '.join(config.sdk_names)}")


def _plain(config: CampaignConfig, request: dict, message_id: str, *, event_key: str, origin: str):
    if set(request) != PLAIN_KEYS:
        raise _Reject(
            f'malformed: a plain request is {{"sdk": ..., "ref": ...}}, got keys {shown(sorted(request))}'
        )
    sdk = _known_sdk(config, request["sdk"], "sdk")
    ref = _ref(request["ref"], "ref")
    return CampaignRequest(
        message_id=message_id,
        sdks=(sdk,),
        ref=ref,
        origin=f"{origin} for {sdk} at {ref}",
        event_key=event_key,
    )


def _github(config: CampaignConfig, kind: object, payload: dict, message_id: str) -> CampaignRequest:
    if kind not in ("release", "push"):
        raise _Ignore(f"GitHub {shown(kind)} events start no campaign (only release and push do)")
    repository = payload.get("repository")
    name = repository.get("full_name") if isinstance(repository, dict) else None
    if not isinstance(name, str) or not name:
        raise _Reject(f"malformed: a GitHub {kind} event without repository.full_name")
    if kind == "release":
        return _release(config, payload, repository, message_id)
    return _push(config, payload, repository, message_id)


def _release(config: CampaignConfig, payload: dict, repository: dict, message_id: str) -> CampaignRequest:
    action, release = payload.get("action"), payload.get("release")
    if action != GITHUB_STARTS["release"]:
        raise _Ignore(f"GitHub release action {shown(action)} starts no campaign (only 'published' does)")
    if not isinstance(release, dict):
        raise _Reject("malformed: a GitHub release event without release")
    if release.get("draft"):
        raise _Ignore("a draft release starts no campaign")
    sdks = repository_sdks(config, repository)
    tag = _ref(release.get("tag_name"), "release.tag_name")
    release_id = release.get("id") if isinstance(release.get("id"), int) else tag
    name = repository["full_name"]
    return CampaignRequest(
        message_id=message_id,
        sdks=sdks,
        ref=tag,
        origin=f"GitHub release {tag} of {name}",
        event_key=f"github:{name.lower()}:release:{release_id}",
    )


def _push(config: CampaignConfig, payload: dict, repository: dict, message_id: str) -> CampaignRequest:
    branch, ref = repository.get("default_branch"), payload.get("ref")
    if not isinstance(branch, str) or not isinstance(ref, str):
        raise _Reject("malformed: a GitHub push event without ref and repository.default_branch")
    if ref != f"refs/heads/{branch}":
        raise _Ignore(f"a push to {shown(ref)} starts no campaign (only pushes to refs/heads/{branch} do)")
    if payload.get("deleted"):
        raise _Ignore("a deleted branch starts no campaign")
    sdks = repository_sdks(config, repository)
    commit = payload.get("after")
    if not isinstance(commit, str) or not re.fullmatch(r"[0-9a-f]{40}|[0-9a-f]{64}", commit):
        raise _Reject(f"malformed: a GitHub push whose 'after' is not a commit id: {shown(commit)}")
    name = repository["full_name"]
    return CampaignRequest(
        message_id=message_id,
        sdks=sdks,
        ref=commit,
        origin=f"GitHub push of {commit[:12]} to {branch} of {name}",
        event_key=f"github:{name.lower()}:push:{commit}",
    )


def normalized_repo_url(url: str) -> str:
    """https://github.com/Org/SDK.git/ and https://github.com/org/sdk name one repository."""
    return url.strip().lower().removesuffix("/").removesuffix(".git")


def repository_sdks(config: CampaignConfig, repository: dict) -> tuple[str, ...]:
    """The SDKs a GitHub repository's releases and pushes test: events.repositories by "owner/name",
    and every SDK whose repo_url is the repository's. Rejects an unmapped repository, or a mapping to
    an SDK the config does not have."""
    name = repository["full_name"]
    mapped = list(config.events.repositories.get(name.lower(), ()))
    urls = {
        normalized_repo_url(url)
        for url in (repository.get("html_url"), repository.get("clone_url"))
        if isinstance(url, str)
    }
    mapped += [sdk for sdk, settings in config.sdks.items() if normalized_repo_url(settings.repo_url) in urls]
    if not mapped:
        raise _Reject(
            f"repository {shown(name)} is mapped to no SDK: add it to events.repositories, or set "
            f"sdks.<name>.repo_url to its URL"
        )
    return tuple(_known_sdk(config, sdk, f"events.repositories[{name!r}]") for sdk in dict.fromkeys(mapped))
