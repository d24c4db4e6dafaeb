"""JUnit XML from untrusted containers, parsed safely into test cases.

defusedxml refuses entity expansion and external entities; a size bound keeps one
SDK's oversized file from exhausting the worker. A testcase is `failed` with a
<failure>, `error` with an <error>, `skipped` with a <skipped>, else `passed`.
"""

from __future__ import annotations

from dataclasses import dataclass

from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException

MAX_JUNIT_BYTES = 64 * 1024 * 1024
MESSAGE_CHARS = 500
STATUSES = ("passed", "failed", "error", "skipped")


class JUnitError(ValueError):
    """A JUnit file that cannot be trusted or read; the message names the file and the reason."""


@dataclass(frozen=True)
class TestCase:
    suite: str
    classname: str
    name: str
    status: str
    duration: float
    message: str


def _float(value: str | None) -> float:
    try:
        return max(0.0, float(value)) if value else 0.0
    except ValueError:
        return 0.0


def _message(element) -> str:
    text = element.get("message") or (element.text or "").strip()
    return text[:MESSAGE_CHARS]


def parse_junit(data: bytes, source: str) -> list[TestCase]:
    if len(data) > MAX_JUNIT_BYTES:
        raise JUnitError(f"{source}: {len(data)} bytes is over the {MAX_JUNIT_BYTES} byte limit")
    if not data.strip():
        raise JUnitError(f"{source}: the file is empty")
    try:
        root = ElementTree.fromstring(data)
    except DefusedXmlException as err:
        raise JUnitError(f"{source}: refused unsafe XML ({type(err).__name__})") from err
    except ElementTree.ParseError as err:
        raise JUnitError(f"{source}: not well-formed XML: {err}") from err
    if root.tag not in ("testsuites", "testsuite"):
        raise JUnitError(f"{source}: root element <{root.tag}> is not <testsuites> or <testsuite>")

    cases: list[TestCase] = []
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    for suite in suites:
        suite_name = suite.get("name", "")
        for case in suite.findall("testcase"):
            status, message = "passed", ""
            for tag, verdict in (("failure", "failed"), ("error", "error"), ("skipped", "skipped")):
                element = case.find(tag)
                if element is not None:
                    status, message = verdict, _message(element)
                    break
            cases.append(
                TestCase(
                    suite=suite_name,
                    classname=case.get("classname", ""),
                    name=case.get("name", ""),
                    status=status,
                    duration=_float(case.get("time")),
                    message=message,
                )
            )
    return cases
