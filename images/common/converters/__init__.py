"""Converters from test runners' own output to JUnit XML, one module per format.

Each module has `to_junit(output: str, suite: str) -> bytes`: `output` is everything the
runner printed (stdout and stderr, interleaved), the result is a <testsuites> document.
Shared helpers live here so every converter writes the same JUnit.
"""

from xml.etree import ElementTree


def junit_document(suite: str, cases: list[dict]) -> bytes:
    """cases: {classname, name, status (passed|failed|error|skipped), time, message, output}."""
    root = ElementTree.Element("testsuites")
    element = ElementTree.SubElement(
        root,
        "testsuite",
        name=suite,
        tests=str(len(cases)),
        failures=str(sum(c["status"] == "failed" for c in cases)),
        errors=str(sum(c["status"] == "error" for c in cases)),
        skipped=str(sum(c["status"] == "skipped" for c in cases)),
    )
    for case in cases:
        testcase = ElementTree.SubElement(
            element,
            "testcase",
            classname=case.get("classname", suite),
            name=case["name"],
            time=f"{float(case.get('time') or 0):.3f}",
        )
        if case["status"] in ("failed", "error", "skipped"):
            tag = {"failed": "failure", "error": "error", "skipped": "skipped"}[case["status"]]
            detail = ElementTree.SubElement(testcase, tag, message=(case.get("message") or "")[:500])
            detail.text = case.get("output") or None
    return ElementTree.tostring(root, encoding="utf-8", xml_declaration=True)
