"""How quarantine entries, TESTOWNERS lines and scenarios name tests: by the name the report shows
(`classname.name`, or `name` alone when there is no class), a shell-style glob of it (`*`, `?`,
`[...]`, case-sensitive), or the test's 16-hex id. A name always matches itself, so a test named
`test_x[param]` needs no escaping although `[` starts a glob class."""

from __future__ import annotations

from fnmatch import fnmatchcase


def test_name(classname: str | None, name: str | None) -> str:
    """The name a test is shown and matched by."""
    return f"{classname}.{name}" if classname else (name or "")


def matches(pattern: str, *, name: str, test_id: str = "") -> bool:
    return pattern in (name, test_id) or fnmatchcase(name, pattern)


def sdk_matches(pattern: str, sdk: str) -> bool:
    """'*' (every SDK), a glob such as 'java*', or one SDK's name."""
    return pattern == sdk or fnmatchcase(sdk, pattern)


def row_matches(sdk_pattern: str, test_pattern: str, row: dict) -> bool:
    """Whether a normalised test row (collect.result_row) is one the pair of patterns names."""
    return sdk_matches(sdk_pattern, row.get("sdk") or "") and matches(
        test_pattern, name=test_name(row.get("classname"), row.get("name")), test_id=row.get("test_id") or ""
    )
