"""What source a job tests and how: repository URL, git ref, test command.

These values can come from a trigger's --conf, so they are checked strictly: they
reach the container as environment variables and a git/argv call, never a shell, but
a value that is not plainly a URL, a ref or an argv list is refused with the reason.
The image's runner glue (images/common/run_suite.py) checks URL and ref again.
"""

from __future__ import annotations

import re

REPO_URL_PATTERN = re.compile(r"^(https?|git)://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~%+-]+)+/?$")
REF_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,199}$")
RESULTS_FORMATS = ("junit", "go_test_json", "libtest", "tap")
MAX_COMMAND_ARGS = 64
MAX_ARG_CHARS = 1024


class SourceError(ValueError):
    """A repository URL, ref or test command that is refused; the message says why."""


def validate_repo_url(value: object, where: str = "repo_url") -> str:
    if not isinstance(value, str) or not REPO_URL_PATTERN.fullmatch(value) or ".." in value:
        raise SourceError(
            f"{where} {value!r} is not a repository URL: use https://host/path, http://host/path or "
            f"git://host/path (letters, digits, . _ ~ % + - in the path; no credentials, no spaces)"
        )
    return value


def validate_ref(value: object, where: str = "ref") -> str:
    plain = isinstance(value, str) and REF_PATTERN.fullmatch(value) and ".." not in value
    if not plain or value.endswith(".lock"):
        raise SourceError(
            f"{where} {value!r} is not a git branch, tag or commit name (letters, digits, . _ / -)"
        )
    return value


def validate_test_command(value: object, where: str = "test_command") -> list[str]:
    if (
        not isinstance(value, list | tuple)
        or not value
        or len(value) > MAX_COMMAND_ARGS
        or not all(isinstance(a, str) and a and len(a) <= MAX_ARG_CHARS and "\x00" not in a for a in value)
    ):
        raise SourceError(
            f"{where} must be a list of 1 to {MAX_COMMAND_ARGS} non-empty strings (an argv, run without "
            f"a shell), got {value!r}"
        )
    return list(value)
