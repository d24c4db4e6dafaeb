"""TAP (Test Anything Protocol, versions 12-14) to JUnit.

`ok N - name`, `not ok N - name`, `# SKIP` / `# TODO` directives; YAML diagnostics
(`  ---` … `  ...`) after a failing test become its message and output.
"""

import re

from converters import junit_document

RESULT = re.compile(r"^(not ok|ok)\b\s*(\d+)?\s*(?:-\s*)?([^#]*?)\s*(?:#\s*(SKIP|TODO)\S*\s*(.*))?$", re.I)


def to_junit(output: str, suite: str) -> bytes:
    cases: list[dict] = []
    diagnostics: list[str] = []
    in_yaml = False
    for line in output.splitlines():
        stripped = line.strip()
        if in_yaml:
            if stripped == "...":
                in_yaml = False
                if cases and cases[-1]["status"] == "failed":
                    cases[-1]["output"] = "\n".join(diagnostics)
                    message = next((d.split(":", 1)[1].strip() for d in diagnostics if ":" in d), "")
                    cases[-1]["message"] = cases[-1]["message"] or message.strip("'\"")
                diagnostics = []
            else:
                diagnostics.append(stripped)
            continue
        if stripped == "---":
            in_yaml = True
            continue
        match = RESULT.match(stripped)
        if not match:
            continue
        verdict, number, name, directive, reason = match.groups()
        status = "passed" if verdict.lower() == "ok" else "failed"
        if directive and directive.upper() == "SKIP":
            status = "skipped"
        elif directive and directive.upper() == "TODO":
            status = "skipped"  # a TODO test is expected to fail; it is not a regression
        cases.append(
            {"name": name or f"test {number}", "status": status, "message": reason or "", "classname": suite}
        )
    return junit_document(suite, cases)
