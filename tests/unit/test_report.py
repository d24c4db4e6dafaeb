from sdk_campaigns.report import render_report


def test_hostile_test_names_are_escaped():
    partition = {
        "summary": {"sdk": "python", "status": "tests_failed", "reason": "1 of 1 tests failed", "counts": {}},
        "rows": [
            {
                "classname": "c",
                "name": "<script>alert(1)</script>",
                "status": "failed",
                "duration": 0.1,
                "message": "<b>x</b>",
            }
        ],
    }
    html = render_report(
        dag_id="d",
        run_id="r",
        logical_date="2026-11-21",
        partitions=[partition],
        validation={"summary": "ok"},
        history=[],
    )
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;b&gt;x&lt;/b&gt;" in html
