"""Who owns what broke: the TESTOWNERS file (docs/quarantine.md#testowners), CODEOWNERS-style.

One rule a line, fields separated by spaces; `#` starts a comment:

    <sdk> <test pattern> <owner> [<alert target>]

- sdk: an SDK's name, a glob (`java*`) or `*`;
- test pattern: a test's name (`classname.name`, as the report shows it), a glob of it, its id, or `*`
  (the whole SDK: the owner of its broken runs);
- owner: one word: a team handle, an e-mail address;
- alert target: `sns:<topic ARN>`, `webhook:<Airflow HTTP connection id>`, or `-` / nothing (the
  campaign's own channels, config `alerts`).

The last matching line wins, as in CODEOWNERS: put broad rules first, narrow ones after.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from sdk_campaigns.campaign.test_patterns import matches, sdk_matches, test_name

SNS_TARGET = re.compile(r"^sns:(arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256})$")
WEBHOOK_TARGET = re.compile(r"^webhook:([A-Za-z0-9_.-]{1,200})$")
OWNER = re.compile(r"^[^\s#]{1,100}$")
SDK_PATTERN = re.compile(r"^[a-z0-9_*?\[\]-]{1,40}$")
TEST_CATEGORIES = ("regressions", "new_flaky", "fixed")
SDK_CATEGORIES = ("broken",)


class OwnersError(ValueError):
    """A TESTOWNERS line that is wrong; the message names the file, the line and the fix."""


@dataclass(frozen=True)
class OwnerRule:
    sdk: str
    test: str
    owner: str
    target: str  # "" (the campaign's channels), "sns:<arn>" or "webhook:<connection id>"
    line: int

    def channels(self) -> dict[str, str]:
        """send_alert's keyword arguments for this rule's target ({} for the campaign's own)."""
        if match := SNS_TARGET.match(self.target):
            return {"sns_topic_arn": match.group(1)}
        if match := WEBHOOK_TARGET.match(self.target):
            return {"http_conn_id": match.group(1)}
        return {}


@dataclass(frozen=True)
class Owners:
    rules: tuple[OwnerRule, ...] = ()

    def owner_of(self, sdk: str, name: str, test_id: str = "") -> OwnerRule | None:
        """The last rule naming this test of this SDK."""
        for rule in reversed(self.rules):
            if sdk_matches(rule.sdk, sdk) and (
                rule.test == "*" or matches(rule.test, name=name, test_id=test_id)
            ):
                return rule
        return None

    def owner_of_sdk(self, sdk: str) -> OwnerRule | None:
        """The last rule for the whole SDK (test pattern `*`): who hears of its broken runs."""
        for rule in reversed(self.rules):
            if rule.test == "*" and sdk_matches(rule.sdk, sdk):
                return rule
        return None

    def owner_of_item(self, category: str, item: dict) -> OwnerRule | None:
        sdk = item.get("sdk") or ""
        if category in SDK_CATEGORIES:
            return self.owner_of_sdk(sdk)
        return self.owner_of(
            sdk, test_name(item.get("classname"), item.get("name")), item.get("test_id") or ""
        )


def parse_owners(text: str, where: str = "TESTOWNERS") -> Owners:
    rules = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip() if not raw.lstrip().startswith("#") else ""
        if not line:
            continue
        fields = line.split()
        if len(fields) not in (3, 4):
            raise OwnersError(
                f"{where}:{number}: {raw.strip()!r} has {len(fields)} fields; write "
                f"'<sdk> <test pattern> <owner> [<alert target>]'"
            )
        sdk, test, owner, target = (*fields, "")[:4]
        if not SDK_PATTERN.match(sdk):
            raise OwnersError(f"{where}:{number}: sdk {sdk!r} is not an SDK name, a glob or '*'")
        if not OWNER.match(owner):
            raise OwnersError(f"{where}:{number}: owner {owner!r} must be one word of at most 100 characters")
        target = "" if target == "-" else target
        if target and not (SNS_TARGET.match(target) or WEBHOOK_TARGET.match(target)):
            raise OwnersError(
                f"{where}:{number}: alert target {target!r} is none of 'sns:<topic ARN>', "
                f"'webhook:<Airflow HTTP connection id>' or '-'"
            )
        rules.append(OwnerRule(sdk=sdk, test=test, owner=owner, target=target, line=number))
    return Owners(tuple(rules))


def load_owners(path: Path) -> Owners:
    """The rules of the file at `path`; none when there is no such file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Owners()
    except (OSError, UnicodeDecodeError) as err:
        raise OwnersError(f"cannot read {path}: {err}") from err
    return parse_owners(text, str(path))


def with_owners(findings: dict, owners: Owners) -> dict:
    """The findings with `owner` on each item that has one."""
    result = dict(findings)
    for category in (*TEST_CATEGORIES, *SDK_CATEGORIES):
        items = []
        for item in findings.get(category) or []:
            rule = owners.owner_of_item(category, item)
            items.append({**item, "owner": rule.owner} if rule else item)
        result[category] = items
    return result


def route(findings: dict, owners: Owners) -> tuple[list[tuple[OwnerRule, dict]], dict]:
    """Split the findings by the alert target of their owners: [(a rule with that target, the findings
    its owners get)], and the findings nobody's target takes (for the campaign's channels)."""
    by_target: dict[str, tuple[OwnerRule, dict]] = {}
    categories = (*TEST_CATEGORIES, *SDK_CATEGORIES)
    unowned = {**findings, **{c: [] for c in categories}}
    for category in categories:
        for item in findings.get(category) or []:
            rule = owners.owner_of_item(category, item)
            if rule is None or not rule.target:
                unowned[category].append(item)
                continue
            _, routed = by_target.setdefault(rule.target, (rule, {**findings, **{c: [] for c in categories}}))
            routed[category].append(item)
    return list(by_target.values()), unowned
