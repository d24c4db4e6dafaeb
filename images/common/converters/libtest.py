"""Rust's libtest text output (`cargo test`, stable, pretty format) to JUnit.

cargo runs one test binary after another (unit tests, each integration test, doc tests),
announcing each on stderr (`Running unittests src/lib.rs (target/debug/deps/foo-0123...)`,
`Doc-tests foo`); each binary prints `running N tests`, one `test NAME ... ok|FAILED|
ignored[, reason]` line per test, then for failures a `failures:` part with a
`---- NAME stdout ----` section per failed test (its captured output and panic), the list
of failed names, and `test result: ...`.

- classname = the test binary (`foo` for the library's unit tests, the integration test's
  name, `foo doc-tests`), name = the test's path (`tests::adds`, `src/lib.rs - f (line 9)`);
- failed: message = the panic message (both the `panicked at 'msg', file:line:col` form of
  Rust < 1.73 and the `panicked at file:line:col:` + message lines form of later ones),
  else the section's first line; output = the section;
- ignored: skipped, message = the reason when `#[ignore = "reason"]` gave one;
- stable libtest prints no per-test durations: time is 0;
- a test binary that stopped before its `test result:` line (a crash, an abort) becomes an
  `error` case named after the binary, and `error: could not compile `foo`` an `error`
  case named after the crate, so neither is lost.

Use `cargo test --no-fail-fast` (else cargo stops at the first failing binary) and not
`-q`/`--format terse` (no per-test lines). Any other line is ignored.
"""

import re

from converters import junit_document

CARGO_RUNNING = re.compile(r"^\s*Running\b.*?(\S*deps/[^\s)]+)\)?\s*$")
CARGO_DOCTESTS = re.compile(r"^\s*Doc-tests (\S+)\s*$")
RUNNING = re.compile(r"^running (\d+) tests?$")
RESULT = re.compile(r"^test (.+?) \.\.\. (ok|FAILED|ignored(?:, (.*))?|bench:.*)$")
SUMMARY = re.compile(r"^test result: ")
SECTION = re.compile(r"^---- (.+?) (?:stdout|stderr) ----$")
MODE_SUFFIX = re.compile(r" - (should panic|compile fail|compile)$")  # libtest's decorations
COULD_NOT_COMPILE = re.compile(r"^error: could not compile `([^`]+)`(?: \(([^)]*)\))?")
COMPILER_ERROR = re.compile(r"^error(\[E\d+\])?: ")
CRASH = re.compile(r"process didn't exit successfully: (.*)$")
OLD_PANIC = re.compile(r"^thread '.*?' panicked at '(.*)$")  # Rust < 1.73
OLD_PANIC_END = re.compile(r"^(.*)', \S+?:\d+:\d+$")
NEW_PANIC = re.compile(r"^thread '.*?' panicked at \S+?:\d+:\d+:$")  # Rust >= 1.73
HASH_SUFFIX = re.compile(r"-[0-9a-f]{16}$")


def _binary_name(path: str) -> str:
    name = path.replace("\\", "/").rsplit("/", 1)[-1]
    name = name[:-4] if name.endswith(".exe") else name
    return HASH_SUFFIX.sub("", name)


def panic_message(lines: list[str]) -> str:
    """The panic message in a failure section, or ''."""
    for index, line in enumerate(lines):
        old = OLD_PANIC.match(line)
        if old:
            message, rest = [old.group(1)], iter(lines[index + 1 :])
            while True:
                end = OLD_PANIC_END.match(message[-1])
                if end:  # the message ends at `', file:line:col`
                    message[-1] = end.group(1)
                    return "\n".join(message)
                following = next(rest, None)
                if following is None:  # no location: keep what there is
                    return "\n".join(message)
                message.append(following)
        if NEW_PANIC.match(line):
            message = []
            for following in lines[index + 1 :]:
                if following.startswith(("note: ", "stack backtrace:", "thread '")):
                    break
                message.append(following)
            text = "\n".join(message).strip("\n")
            return text or line.strip()
    return ""


class _Binary:
    def __init__(self, classname: str, expected: int):
        self.classname = classname
        self.expected = expected
        self.cases: dict[str, dict] = {}
        self.sections: dict[str, list[str]] = {}
        self.finished = False  # saw `test result:`
        self.crash = ""

    def close(self) -> list[dict]:
        cases = list(self.cases.values())
        for case in cases:
            if case["status"] != "failed":
                continue
            section = self.sections.get(case["name"], [])
            while section and not section[-1].strip():
                section.pop()
            first = next((line.strip() for line in section if line.strip()), "")
            case["message"] = panic_message(section) or first or "test failed"
            case["output"] = "\n".join(section)
        if not self.finished:
            missing = max(self.expected - len(cases), 0)
            reason = self.crash or "the test binary stopped before its `test result:` line"
            cases.append(
                {
                    "classname": self.classname,
                    "name": self.classname,
                    "status": "error",
                    "message": f"{missing} of {self.expected} tests did not report: {reason}",
                    "output": reason,
                }
            )
        return cases


def to_junit(output: str, suite: str) -> bytes:
    cases: list[dict] = []
    classname = suite
    binary: _Binary | None = None
    section: list[str] | None = None  # the failure section being read
    loose: list[str] = []  # lines outside any test binary's output (compiler messages)

    def close_binary() -> None:
        nonlocal binary, section
        if binary is not None:
            cases.extend(binary.close())
        binary, section = None, None

    for raw in output.splitlines():
        line = raw.rstrip("\r")
        running_binary = CARGO_RUNNING.match(line)
        doctests = CARGO_DOCTESTS.match(line)
        if running_binary or doctests:
            close_binary()
            classname = (
                _binary_name(running_binary.group(1)) if running_binary else f"{doctests.group(1)} doc-tests"
            )
            loose = []
            continue
        running = RUNNING.match(line)
        if running:
            close_binary()
            binary = _Binary(classname, int(running.group(1)))
            loose = []
            continue
        compile_error = COULD_NOT_COMPILE.match(line)
        if compile_error:
            crate, target = compile_error.groups()
            first = next((x.strip() for x in loose if COMPILER_ERROR.match(x)), "")
            cases.append(
                {
                    "classname": crate,
                    "name": f"{crate} ({target})" if target else crate,
                    "status": "error",
                    "message": f"could not compile `{crate}`" + (f": {first}" if first else ""),
                    "output": "\n".join(loose + [line]),
                }
            )
            loose = []
            continue
        if binary is None:
            loose.append(line)
            continue

        header = SECTION.match(line)
        if header:
            section = binary.sections.setdefault(MODE_SUFFIX.sub("", header.group(1)), [])
            continue
        if SUMMARY.match(line):
            binary.finished = True
            section = None
            continue
        if line == "failures:":
            section = None
            continue
        if section is not None:
            section.append(line)
            continue
        result = RESULT.match(line)
        if result:
            name, verdict, reason = result.groups()
            name = MODE_SUFFIX.sub("", name)
            if verdict == "FAILED":
                status = "failed"
            elif verdict.startswith("ignored"):
                status = "skipped"
            else:
                status = "passed"
            binary.cases[name] = {
                "classname": binary.classname,
                "name": name,
                "status": status,
                "time": 0,
                "message": (reason or "") if status == "skipped" else "",
                "output": "",
            }
            continue
        crash = CRASH.search(line)
        if crash and not binary.finished:
            binary.crash = crash.group(0).strip()
    close_binary()
    return junit_document(suite, cases)
