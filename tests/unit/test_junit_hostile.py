"""JUnit from containers is untrusted: every bad file is a clear JUnitError naming it, every
odd but valid one parses right, and nothing is read unbounded."""

import io
import os
import re
import time
import zlib
from pathlib import Path

import pytest

from sdk_campaigns.campaign import junit
from sdk_campaigns.campaign.junit import (
    MAX_JUNIT_BYTES,
    JUnitError,
    parse_junit,
    parse_junit_file,
    parse_junit_stream,
)

SOURCE = "s3://results/run-1/python/junit.xml"


def refused(data: bytes, match: str) -> JUnitError:
    with pytest.raises(JUnitError, match=match) as err:
        parse_junit(data, SOURCE)
    assert str(err.value).startswith(f"{SOURCE}: ")
    return err.value


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"<testsuites><testsuite name='s'><testcase name='t'>", "not well-formed XML: Premature end"),
        (b"<testsuites><testcase></testsuites>", "not well-formed XML: Opening and ending tag mismatch"),
        (b"<testsuites></testsuites><testsuites/>", "not well-formed XML: Extra content at the end"),
        (b'{"tests": 3, "failures": 0}', "not well-formed XML: Start tag expected"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not well-formed XML"),
        (b"<!DOCTYPE html><html><body>502 Bad Gateway</body></html>", "root element <html> is not"),
        (b"<testsuite-results><testcase/></testsuite-results>", "root element <testsuite-results>"),
        (b"<testcase name='t'/>", "root element <testcase>"),
    ],
)
def test_malformed_and_foreign_files_are_named(data, reason):
    refused(data, reason)


def test_wrong_root_is_refused_before_reading_on():
    stream = io.BytesIO(b"<html>" + b"<p>x</p>" * 200_000 + b"</html>")
    with pytest.raises(JUnitError, match="root element <html>"):
        parse_junit_stream(stream, SOURCE)
    assert stream.tell() < 2 * junit.READ_CHUNK_BYTES


@pytest.mark.parametrize(
    "doctype",
    [
        '<!DOCTYPE testsuites [<!ENTITY passwd SYSTEM "file:///etc/passwd">]>',
        '<!DOCTYPE testsuites [<!ENTITY passwd PUBLIC "-//x//y" "file:///etc/passwd">]>',
        '<!DOCTYPE testsuites [<!ENTITY % remote SYSTEM "file:///etc/passwd"> %remote;]>',
    ],
)
def test_external_entities_are_refused(doctype):
    data = (
        f'<?xml version="1.0"?>{doctype}<testsuites><testsuite name="&passwd;">'
        '<testcase name="t"><failure message="&passwd;">&passwd;</failure></testcase>'
        "</testsuite></testsuites>"
    ).encode()
    error = refused(data, "refused unsafe XML: .*not allowed")
    assert "root:" not in str(error)


def test_external_dtd_is_never_fetched():
    data = (
        b'<?xml version="1.0"?><!DOCTYPE testsuites SYSTEM "file:///etc/passwd">'
        b'<testsuites><testsuite name="s"><testcase name="t"/></testsuite></testsuites>'
    )
    [case] = parse_junit(data, SOURCE)
    passwd = Path("/etc/passwd").read_text() if Path("/etc/passwd").exists() else "root:x:0:0"
    assert case.name == "t" and passwd.splitlines()[0] not in repr(case)


@pytest.mark.parametrize("declaration", ["SYSTEM '{path}'", "PUBLIC '-//x//y' '{path}'"])
def test_a_dtd_the_document_names_is_never_opened(tmp_path, declaration):
    """A FIFO blocks whoever opens it: a parser that tried to read the DTD would never return."""
    import threading

    fifo = tmp_path / "dtd.fifo"
    os.mkfifo(fifo)
    data = (
        f"<?xml version='1.0'?><!DOCTYPE testsuites {declaration.format(path=fifo)}>"
        "<testsuites><testsuite name='s'><testcase name='t'/></testsuite></testsuites>"
    ).encode()
    found = []
    reader = threading.Thread(target=lambda: found.extend(parse_junit(data, SOURCE)), daemon=True)
    reader.start()
    reader.join(timeout=5)
    if reader.is_alive():  # unblock the parser so the test process can end, then fail
        with open(fifo, "w"):
            pass
        pytest.fail("the parser opened the DTD named by the document")
    assert [case.name for case in found] == ["t"]


def test_entity_declarations_are_refused_before_the_parser_reads_them():
    # An entity only the parser could expand: refused from the prolog, named, with nothing expanded.
    data = (
        b'<?xml version="1.0"?><!DOCTYPE testsuites [<!ENTITY x "expanded">]>'
        b"<testsuites><testsuite name='s'><testcase name='&x;'/></testsuite></testsuites>"
    )
    error = refused(data, "refused unsafe XML: it declares the entity 'x'")
    assert "expanded" not in str(error)


def test_billion_laughs_is_refused_quickly():
    entities = ['<!ENTITY lol0 "lol">'] + [f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)]
    data = (
        f'<?xml version="1.0"?><!DOCTYPE testsuites [{"".join(entities)}]>'
        '<testsuites><testsuite name="&lol9;"><testcase name="&lol9;"/></testsuite></testsuites>'
    ).encode()
    started = time.perf_counter()
    error = refused(data, "refused unsafe XML: it declares the entity 'lol0'")
    assert time.perf_counter() - started < 1
    assert "entity expansion and external entities are not allowed" in str(error)


def test_quadratic_blowup_is_refused():
    data = (
        f'<!DOCTYPE t [<!ENTITY big "{"x" * 50_000}">]><testsuites><testsuite name="'
        + "&big;" * 5_000
        + '"/></testsuites>'
    ).encode()
    refused(data, "refused unsafe XML")


def test_200_mb_file_is_refused_by_its_size_before_parsing(tmp_path):
    path = tmp_path / "huge.xml"
    block = b'<testcase classname="c" name="t"/>\n' * 30_000  # ~1 MB, written 200 times
    with path.open("wb") as out:
        out.write(b"<testsuites><testsuite>")
        while out.tell() < 200 * 1024 * 1024:
            out.write(block)
    size = path.stat().st_size
    try:
        started = time.perf_counter()
        with pytest.raises(JUnitError) as err:
            parse_junit_file(path, "huge.xml")
        assert time.perf_counter() - started < 0.5
        assert str(err.value) == f"huge.xml: {size} bytes is over the {MAX_JUNIT_BYTES} byte limit"
    finally:
        path.unlink()


def test_a_stream_longer_than_the_limit_is_cut_while_reading():
    class Endless(io.RawIOBase):
        """Never ends, as a lying S3 listing or a device would: the byte count must stop it."""

        started = False

        def readinto(self, buffer):
            data = b" " * len(buffer) if self.started else b"<testsuites>".ljust(len(buffer))
            self.started = True
            buffer[:] = data
            return len(buffer)

    with pytest.raises(JUnitError, match=r"over the 1048576 byte limit \(stopped reading at \d+ bytes\)"):
        parse_junit_stream(Endless(), SOURCE, max_bytes=1024 * 1024)


def test_oversized_bytes_are_refused_with_their_size():
    with pytest.raises(JUnitError, match=f"^{re.escape(SOURCE)}: 2061 bytes is over the 2048 byte limit$"):
        parse_junit(b" " * 2048 + b"<testsuites/>", SOURCE, max_bytes=2048)


def test_not_a_regular_file_is_refused(tmp_path):
    fifo = tmp_path / "pipe.xml"
    os.mkfifo(fifo)
    with pytest.raises(JUnitError, match="pipe.xml: not a regular file"):
        parse_junit_file(fifo)
    with pytest.raises(JUnitError, match="missing.xml: cannot be read: No such file"):
        parse_junit_file(tmp_path / "missing.xml")


@pytest.mark.parametrize("data", [b"", b"   \n\t\r\n  "])
def test_empty_file_is_named(data, tmp_path):
    refused(data, "the file is empty")
    path = tmp_path / "empty.xml"
    path.write_bytes(data)
    with pytest.raises(JUnitError, match=f"^{re.escape(str(path))}: the file is empty$"):
        parse_junit_file(path)


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        # Latin-1 declared: decoded exactly
        (
            '<?xml version="1.0" encoding="ISO-8859-1"?><testsuite name="s"><testcase name="café">'
            '<failure message="crème brûlée"/></testcase></testsuite>'.encode("latin-1"),
            "café",
            "crème brûlée",
        ),
        # Latin-1 bytes in a file that says (or assumes) UTF-8: replaced, never fatal
        (
            '<testsuite name="s"><testcase name="café"><failure message="crème"/></testcase>'
            "</testsuite>".encode("latin-1"),
            "caf\ufffd",
            "cr\ufffdme",
        ),
        # Windows-1252 declared
        (
            '<?xml version="1.0" encoding="windows-1252"?><testsuite><testcase name="“quoted”">'
            "<error>€ 5 </error></testcase></testsuite>".encode("cp1252"),
            "“quoted”",
            "€ 5",
        ),
        # UTF-16 with a BOM, UTF-8 with a BOM
        (
            '<?xml version="1.0" encoding="UTF-16"?><testsuite><testcase name="ü">'
            '<skipped message="ß"/></testcase></testsuite>'.encode("utf-16"),
            "ü",
            "ß",
        ),
        (
            b"\xef\xbb\xbf"
            + '<testsuite><testcase name="ü"><skipped message="ß"/></testcase></testsuite>'.encode(),
            "ü",
            "ß",
        ),
        # a declared encoding Python does not know, and a UTF-16 declaration over 8-bit bytes
        (
            b'<?xml version="1.0" encoding="x-made-up"?><testsuite><testcase name="t\xff"/></testsuite>',
            "t\ufffd",
            "",
        ),
        (
            b'<?xml version="1.0" encoding="UTF-16"?><testsuite><testcase name="t"/></testsuite>',
            "t",
            "",
        ),
        # characters XML 1.0 forbids, raw and as references
        (
            b'<testsuite><testcase name="t\x1b[1m"><failure>\x00x &#27;[31m &#x1B; &#x1b;</failure>'
            b"</testcase></testsuite>",
            "t\ufffd[1m",
            "\ufffdx \ufffd[31m \ufffd \ufffd",
        ),
    ],
)
@pytest.mark.parametrize("chunk", [1, 5, junit.READ_CHUNK_BYTES])
def test_encodings_and_bad_characters_decode_what_they_can(monkeypatch, data, name, message, chunk):
    monkeypatch.setattr(junit, "READ_CHUNK_BYTES", chunk)  # characters and references cut anywhere
    [case] = parse_junit(data, SOURCE)
    assert (case.name, case.message) == (name, message)


@pytest.mark.parametrize(
    "encoding", ["zlib", "bz2", "base64", "rot13", "unicode_escape", "idna", "undefined"]
)
def test_declared_codecs_that_are_no_document_encoding_read_as_utf8(encoding):
    data = (
        f'<?xml version="1.0" encoding="{encoding}"?><testsuite><testcase name="café"/></testsuite>'.encode()
    )
    [case] = parse_junit(data, SOURCE)
    assert case.name == "café"


def test_a_declared_zlib_encoding_is_never_decompressed():
    bomb = zlib.compress(b"<testsuites>" + b"<testcase/>" * 1_000_000 + b"</testsuites>", 9)
    data = b'<?xml version="1.0" encoding="zlib_codec"?>' + bomb
    assert len(bomb) < 50_000  # 11 MB of XML
    refused(data, "not well-formed XML")


@pytest.mark.parametrize(
    "data",
    [
        b"<testsuites/>",
        b'<testsuites name="none" tests="12" failures="3"></testsuites>',
        b'<testsuite name="empty" tests="5"><properties><property name="a" value="b"/></properties>'
        b"<system-out>nothing ran</system-out></testsuite>",
        b"<testsuites><testsuite name='a'/><testsuite name='b'><testsuite name='c'/></testsuite>"
        b"</testsuites>",
    ],
)
def test_no_testcases_is_valid_and_empty(data):
    assert parse_junit(data, SOURCE) == []


def test_duplicate_names_keep_both_rows():
    data = (
        b'<testsuite name="s"><testcase classname="c" name="same"/>'
        b'<testcase classname="c" name="same"><failure message="second"/></testcase></testsuite>'
    )
    cases = parse_junit(data, SOURCE)
    assert [(c.name, c.status) for c in cases] == [("same", "passed"), ("same", "failed")]


def test_tests_attribute_is_never_trusted():
    data = (
        b'<testsuite name="s" tests="1000" failures="0"><testcase name="a"/><testcase name="b"/></testsuite>'
    )
    assert len(parse_junit(data, SOURCE)) == 2


def test_nested_suites_and_shapes():
    data = b"""<?xml version="1.0"?>
<testsuites name="all">
  <testcase name="loose"/>
  <testsuite name="outer">
    <testcase name="o1"/>
    <testsuite name="inner"><testcase name="i1"><error type="Boom"/></testcase></testsuite>
    <testcase name="o2"><skipped/></testcase>
    <system-out>suite output</system-out>
  </testsuite>
</testsuites>"""
    cases = parse_junit(data, SOURCE)
    assert [(c.suite, c.name, c.status, c.message) for c in cases] == [
        ("all", "loose", "passed", ""),
        ("outer", "o1", "passed", ""),
        ("inner", "i1", "error", "Boom"),
        ("outer", "o2", "skipped", ""),
    ]


def test_namespaced_root_reads():
    data = (
        b'<testsuites xmlns="urn:x"><testsuite name="s"><testcase name="t"><failure/></testcase>'
        b"</testsuite></testsuites>"
    )
    [case] = parse_junit(data, SOURCE)
    assert (case.suite, case.status) == ("s", "failed")


@pytest.mark.parametrize(
    ("time_attribute", "seconds"),
    [("", 0.0), ('time="1.5"', 1.5), ('time="x"', 0.0), ('time="-3"', 0.0), ('time="nan"', 0.0),
     ('time="inf"', 0.0), ('time=" 2 "', 2.0), ('time="1,234.5"', 1234.5), ('time="0,5"', 0.0)],
)  # fmt: skip
def test_missing_or_junk_time_is_zero(time_attribute, seconds):
    [case] = parse_junit(f'<testsuite><testcase name="t" {time_attribute}/></testsuite>'.encode(), SOURCE)
    assert case.duration == seconds


def test_message_is_attribute_else_first_line_bounded():
    long = "y" * 10_000
    data = f"""<testsuite>
<testcase name="attr"><failure message="{long}">text</failure></testcase>
<testcase name="cdata"><failure><![CDATA[

   first <real> line & more
second line]]></failure></testcase>
<testcase name="type"><error type="java.lang.OutOfMemoryError"/></testcase>
<testcase classname="C" name="own id"><failure>C::own id with data set #1
  the real reason</failure></testcase>
<testcase name="out"><system-out>lots of output</system-out><system-err>err</system-err></testcase>
</testsuite>""".encode()
    cases = {c.name: c for c in parse_junit(data, SOURCE)}
    assert junit.MAX_MESSAGE_CHARS == 1_000
    assert cases["attr"].message == "y" * 974 + "… [truncated 9,026 chars]"  # cut, and says so
    assert cases["cdata"].message == "first <real> line & more"
    assert cases["type"].message == "java.lang.OutOfMemoryError"
    assert cases["own id"].message == "the real reason"  # PHPUnit's first line names the test
    assert (cases["out"].status, cases["out"].message) == ("passed", "")


def test_status_precedence():
    data = b"""<testsuite>
<testcase name="fail+error"><failure/><error/></testcase>
<testcase name="skip+fail"><skipped message="todo"/><failure/></testcase>
<testcase name="skip+error"><skipped/><error message="teardown"/></testcase>
<testcase name="flaky"><flakyFailure message="first run"/><flakyError/></testcase>
<testcase name="rerun-only"><rerunFailure/></testcase>
<testcase name="notrun" status="notrun" result="suppressed"/>
<testcase name="run" status="run"/>
</testsuite>"""
    got = {c.name: (c.status, c.message, c.flaky) for c in parse_junit(data, SOURCE)}
    assert got == {
        "fail+error": ("failed", "", False),
        "skip+fail": ("skipped", "todo", False),
        "skip+error": ("error", "teardown", False),
        "flaky": ("passed", "", True),
        "rerun-only": ("passed", "", False),
        "notrun": ("skipped", "not run (suppressed)", False),
        "run": ("passed", "", False),
    }


def test_deep_nesting_is_refused_by_the_parsers_depth_limit():
    # No JUnit writer nests elements hundreds deep; libxml2's limit (huge_tree off) refuses it.
    depth = 20_000
    data = (
        b"<testsuite><testcase name='deep'>" + b"<a>" * depth + b"</a>" * depth + b"</testcase></testsuite>"
    )
    refused(data, "not well-formed XML: Excessive depth in document")
    shallow = b"<testsuite><testcase name='ok'>" + b"<a>" * 200 + b"</a>" * 200 + b"</testcase></testsuite>"
    [case] = parse_junit(shallow, SOURCE)
    assert case.status == "passed"


def test_many_testcases_stream_with_flat_memory():
    import tracemalloc

    count = 5_000
    body = b'<testcase classname="c" name="t"><system-out>' + b"o" * 4000 + b"</system-out></testcase>"
    data = b"<testsuites><testsuite name='s'>" + body * count + b"</testsuite></testsuites>"
    tracemalloc.start()
    try:
        cases = junit.iter_junit_stream(io.BytesIO(data), SOURCE)
        assert sum(1 for _ in cases) == count
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < len(data) / 4  # read testcases are dropped: the tree is never held whole
