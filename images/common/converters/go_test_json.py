"""`go test -json` (the test2json event stream) to JUnit.

Each JSON line is an event: {Action: run|pause|cont|output|pass|fail|skip|bench|start,
Package, Test, Output, Elapsed}. One case per (Package, Test) that has a Test name,
subtests (`TestX/sub`) included; classname = package, time = Elapsed.

- failed: message = the first meaningful output line (a `panic:` line if there is one,
  else e.g. `file_test.go:NN: message`), output = the test's output lines;
- skipped: message = the skip reason (`file_test.go:NN: ` removed);
- a test that started but never ended (a panic or -timeout killed the test binary) is
  an `error` case;
- a package that failed with no failed test among its cases (a build or vet failure, a
  TestMain that exits non-zero, ...) becomes an `error` case named after the package.
  Go before 1.24 prints build failures as plain text, not JSON (`# pkg` header, compiler
  lines, `FAIL<TAB>pkg [build failed]`), so those lines count too.

The runner's output is stdout and stderr interleaved: any other non-JSON line is ignored.
"""

import json
import re

from converters import junit_document

# Lines the testing package prints around a test's own output; not worth a message.
FRAMING = re.compile(
    r"^\s*(=== (RUN|PAUSE|CONT|NAME)\b|--- (PASS|FAIL|SKIP):|(PASS|FAIL)\s*$"
    r"|(ok|FAIL|\?)\s+\S+\s+(\(cached\)|[\d.]+s\b|\[))"
)
LOCATION = re.compile(r"^\s*[\w.+-]+\.go:\d+: ")
PLAIN_FAIL = re.compile(r"^FAIL\s+(\S+)\s+\[([^\]]+)\]\s*$")  # FAIL<TAB>pkg [build failed]
BUILD_HEADER = re.compile(r"^# (\S+)")  # # pkg [pkg.test]
TERMINAL = {"pass": "passed", "fail": "failed", "skip": "skipped"}


def _events(output: str):
    """(event, None) for JSON events; (None, line) for every other line."""
    for line in output.splitlines():
        stripped = line.strip()
        if stripped.startswith("{"):
            try:
                event = json.loads(stripped)
            except ValueError:
                event = None
            if isinstance(event, dict) and isinstance(event.get("Action"), str):
                yield event, None
                continue
        yield None, line


def _meaningful(lines: list[str]) -> list[str]:
    return [line.strip() for line in lines if line.strip() and not FRAMING.match(line)]


def _message(lines: list[str]) -> str:
    meaningful = _meaningful(lines)
    panic = next((line for line in meaningful if line.startswith("panic: ")), None)
    return panic or (meaningful[0] if meaningful else "")


def _elapsed(event: dict) -> float:
    value = event.get("Elapsed")
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0


def _package_of(import_path: str) -> str:
    # build events name `pkg [pkg.test]` or `pkg_test [pkg.test]`; the package is the first word
    name = import_path.split(" ", 1)[0]
    return name[: -len("_test")] if name.endswith("_test") else name


def to_junit(output: str, suite: str) -> bytes:
    tests: dict[tuple[str, str], dict] = {}  # insertion order = order of first event
    packages: dict[str, dict] = {}
    build_output: dict[str, list[str]] = {}
    header: str | None = None  # package of the plain-text build output being read

    def package(name: str) -> dict:
        return packages.setdefault(
            name, {"status": None, "time": 0.0, "output": [], "detail": "", "failed_build": ""}
        )

    for event, line in _events(output):
        if event is None:
            header_match = BUILD_HEADER.match(line)
            fail_match = PLAIN_FAIL.match(line)
            if header_match:
                header = _package_of(header_match.group(1))
                build_output.setdefault(header, [])
            elif fail_match:
                name, detail = fail_match.groups()
                entry = package(name)
                entry["status"], entry["detail"] = "failed", detail
                # the build output is under this package's `# pkg` header, or under the last
                # header when a package it imports failed to build
                entry["failed_build"] = name if name in build_output else (header or "")
            elif header and line.strip():
                build_output[header].append(line)
            continue
        action = event["Action"]
        name = str(event.get("Package") or "")
        test = str(event.get("Test") or "")
        if action in ("build-output", "build-fail"):  # Go 1.24+: build output as JSON
            if action == "build-output" and event.get("ImportPath"):
                text = str(event.get("Output") or "")
                build_output.setdefault(_package_of(str(event["ImportPath"])), []).extend(text.splitlines())
            continue
        if not name:
            continue
        if not test:
            entry = package(name)
            if action == "output":
                entry["output"].extend(str(event.get("Output") or "").splitlines())
            elif action in TERMINAL:
                entry["status"], entry["time"] = TERMINAL[action], _elapsed(event)
                if event.get("FailedBuild"):  # Go 1.24+: the package whose build failed
                    entry["detail"] = "build failed"
                    entry["failed_build"] = _package_of(str(event["FailedBuild"]))
            continue
        case = tests.setdefault((name, test), {"status": None, "time": 0.0, "output": []})
        if action == "output":
            case["output"].extend(str(event.get("Output") or "").splitlines())
        elif action in TERMINAL:
            case["status"], case["time"] = TERMINAL[action], _elapsed(event)

    cases: list[dict] = []
    failed_packages: set[str] = set()
    for (name, test), case in tests.items():
        status, lines = case["status"], case["output"]
        message = ""
        if status == "failed":
            message = _message(lines)
            if not message:
                children = any(
                    other[0] == name
                    and other[1].startswith(test + "/")
                    and tests[other]["status"] == "failed"
                    for other in tests
                )
                message = "a subtest failed" if children else f"{test} failed"
        elif status == "skipped":
            meaningful = _meaningful(lines)
            message = LOCATION.sub("", meaningful[0]) if meaningful else ""
        elif status is None:  # started, never ended: the test binary died under it
            status = "error"
            reason = _message(lines)
            message = f"{test} did not finish" + (f": {reason}" if reason else "")
        if status in ("failed", "error"):
            failed_packages.add(name)
        cases.append(
            {
                "classname": name,
                "name": test,
                "status": status,
                "time": case["time"],
                "message": message,
                "output": "\n".join(lines) if status != "passed" else "",
            }
        )

    for name, entry in packages.items():
        if entry["status"] != "failed" or name in failed_packages:
            continue
        lines = build_output.get(entry["failed_build"] or name, []) + entry["output"]
        meaningful = [
            line for line in _meaningful(lines) if not (PLAIN_FAIL.match(line) or BUILD_HEADER.match(line))
        ]
        detail = entry["detail"] or "package failed"
        cases.append(
            {
                "classname": name,
                "name": name,
                "status": "error",
                "time": entry["time"],
                "message": f"{detail}: {meaningful[0]}" if meaningful else detail,
                "output": "\n".join(lines),
            }
        )
    return junit_document(suite, cases)
