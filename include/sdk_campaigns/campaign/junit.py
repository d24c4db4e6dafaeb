"""JUnit XML from untrusted containers, parsed safely and in one streaming pass into test cases.

Every producer writes its own dialect, so the parser trusts only the shape they share:
`<testcase>` elements in `<testsuite>`s (nested or not) under a `<testsuites>` or a bare
`<testsuite>` root. Counts come from the testcases present, never from a `tests=` attribute;
a testcase's suite is the innermost enclosing one.

A testcase is `failed` with a <failure>, `error` with an <error>, `skipped` with a
<skipped>, else `passed`. Where tools combine them: <failure> and <error> is `failed`;
<failure> beside <skipped> is an expected failure, `skipped` (node's failing `todo`,
Catch2's `[!mayfail]`); a testcase whose own status= says it did not run is `skipped`
(googletest's DISABLED_ tests, CTest's disabled ones). Surefire's <flakyFailure>,
<rerunFailure> and their Error twins only record reruns and leave the verdict alone.

Safety: defusedxml refuses entity declarations (billion laughs) and external entities
(XXE); the input is bounded before parsing (file size) and while reading (bytes counted),
and each element is dropped once read, so a big file is never held as a whole tree. Names
and messages longer than their limits are cut with a marker saying how much was cut.
Bytes that do not decode in the document's encoding become U+FFFD instead of failing the
whole file, and so do characters that XML 1.0 forbids (raw ANSI colour codes, which
node:test and libtest write, or `&#27;`, which bats writes).
"""

from __future__ import annotations

import codecs
import io
import math
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException, EntitiesForbidden, ExternalReferenceForbidden

# Defaults of the campaign config's `limits:` (config.LimitSettings), for callers without a config.
MAX_JUNIT_BYTES = 64 * 1024 * 1024
MAX_NAME_CHARS = 1_000
MAX_MESSAGE_CHARS = 1_000
STATUSES = ("passed", "failed", "error", "skipped")

READ_CHUNK_BYTES = 256 * 1024
SNIFF_BYTES = 1024  # enough for a BOM and an XML declaration
_FLAKY_TAGS = frozenset({"flakyFailure", "flakyError"})
_NOT_RUN = frozenset({"notrun", "disabled", "skipped"})  # a testcase's own status= attribute
_ROOTS = frozenset({"testsuites", "testsuite"})
_SUITES = _ROOTS
# Characters XML 1.0 forbids, raw or as a character reference (&#27; &#x1b;).
_BAD_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_BAD_CHAR_REFS = re.compile(r"&#(?:0*(?:[0-8]|1[124-9]|2[0-9]|3[01])|[xX]0*(?:[0-8bBcCeEfF]|1[0-9a-fA-F]));")
# Python codecs that are no document encoding, though a declaration may name them.
_NOT_DOCUMENT_ENCODINGS = frozenset({"unicode-escape", "raw-unicode-escape", "idna", "punycode", "undefined"})
_DECLARED_ENCODING = re.compile(rb"""^<\?xml[^>]*?\sencoding\s*=\s*["']([A-Za-z][A-Za-z0-9._-]*)["']""")
_LINE = re.compile("[^\r\n\x85\u2028\u2029]+")  # the lines str.splitlines would give, lazily


def truncate_text(text: str, limit: int) -> str:
    """`text` when it fits in `limit` characters, else its start and a marker saying how much was
    cut (`… [truncated 12,345 chars]`), `limit` characters in all."""
    if len(text) <= limit:
        return text
    longest_marker = len(_truncation_marker(len(text)))
    if longest_marker >= limit:
        return text[:limit]
    kept = limit - longest_marker
    return text[:kept] + _truncation_marker(len(text) - kept)


def _truncation_marker(cut: int) -> str:
    return f"… [truncated {cut:,} chars]"


class JUnitError(ValueError):
    """A JUnit file that cannot be trusted or read; the message names the file and the reason."""


@dataclass(frozen=True, slots=True)
class TestCase:
    suite: str
    classname: str
    name: str
    status: str
    duration: float
    message: str
    flaky: bool = False  # passed only after a rerun (Surefire's <flakyFailure>/<flakyError>)

    __test__ = False  # not a pytest test class, whatever its name


@dataclass(frozen=True, slots=True)
class TextLimits:
    """How long a parsed name (suite, class, test) and message may be, in characters."""

    name_chars: int = MAX_NAME_CHARS
    message_chars: int = MAX_MESSAGE_CHARS


DEFAULT_TEXT_LIMITS = TextLimits()


def parse_junit(
    data: bytes, source: str, *, max_bytes: int = MAX_JUNIT_BYTES, limits: TextLimits = DEFAULT_TEXT_LIMITS
) -> list[TestCase]:
    """Parse one JUnit document held in memory; `source` names it in every error."""
    if len(data) > max_bytes:
        raise JUnitError(f"{source}: {len(data)} bytes is over the {max_bytes} byte limit")
    return parse_junit_stream(io.BytesIO(data), source, max_bytes=max_bytes, limits=limits)


def parse_junit_file(
    path: str | os.PathLike,
    source: str | None = None,
    *,
    max_bytes: int = MAX_JUNIT_BYTES,
    limits: TextLimits = DEFAULT_TEXT_LIMITS,
) -> list[TestCase]:
    """Parse one JUnit file without reading it whole; its size is checked before parsing."""
    source = source or str(path)
    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):
            raise JUnitError(f"{source}: not a regular file")
        if info.st_size > max_bytes:
            raise JUnitError(f"{source}: {info.st_size} bytes is over the {max_bytes} byte limit")
        with open(path, "rb") as stream:
            return parse_junit_stream(stream, source, max_bytes=max_bytes, limits=limits)
    except OSError as err:
        raise JUnitError(f"{source}: cannot be read: {err.strerror or err}") from err


def parse_junit_stream(
    stream: BinaryIO,
    source: str,
    *,
    max_bytes: int = MAX_JUNIT_BYTES,
    limits: TextLimits = DEFAULT_TEXT_LIMITS,
) -> list[TestCase]:
    """Parse JUnit from any binary stream with `read(n)` (an open file, an S3 StreamingBody).

    The bytes are counted as they are read, so a stream longer than it claimed is still
    refused at `max_bytes`.
    """
    return list(iter_junit_stream(stream, source, max_bytes=max_bytes, limits=limits))


def iter_junit_stream(
    stream: BinaryIO,
    source: str,
    *,
    max_bytes: int = MAX_JUNIT_BYTES,
    limits: TextLimits = DEFAULT_TEXT_LIMITS,
) -> Iterator[TestCase]:
    """The test cases of one JUnit stream, yielded as they are read."""
    text = _TextReader(stream, source, max_bytes)
    try:
        yield from _cases(ElementTree.iterparse(text, events=("start", "end")), source, limits)
    except EntitiesForbidden as err:
        raise JUnitError(
            f"{source}: refused unsafe XML: it declares the entity {err.name!r} "
            "(entity expansion and external entities are not allowed)"
        ) from err
    except ExternalReferenceForbidden as err:
        raise JUnitError(
            f"{source}: refused unsafe XML: external entity {err.sysid or err.pubid!r} is not allowed"
        ) from err
    except DefusedXmlException as err:
        raise JUnitError(f"{source}: refused unsafe XML ({type(err).__name__})") from err
    except UnicodeError as err:  # a codec failing in a way errors="replace" does not cover
        raise JUnitError(f"{source}: cannot be decoded: {err}") from err
    except ElementTree.ParseError as err:
        if not text.saw_content:
            raise JUnitError(f"{source}: the file is empty") from err
        raise JUnitError(f"{source}: not well-formed XML: {err}") from err


def _local(tag: str) -> str:
    """`{urn:x}testcase` -> `testcase`: a namespaced dialect still reads."""
    return tag.rpartition("}")[2] if tag[:1] == "{" else tag


def _cases(events, source: str, limits: TextLimits) -> Iterator[TestCase]:
    stack: list = []  # open elements, outermost first
    suites: list[str] = []  # names of the open <testsuite>/<testsuites>, outermost first
    in_case = 0  # depth inside the outermost open <testcase>
    for event, element in events:
        if event == "start":
            stack.append(element)
            if in_case:
                in_case += 1
                continue
            tag = _local(element.tag)
            if len(stack) == 1 and tag not in _ROOTS:
                raise JUnitError(f"{source}: root element <{tag}> is not <testsuites> or <testsuite>")
            if tag == "testcase":
                in_case = 1
            elif tag in _SUITES:
                suites.append(truncate_text(element.get("name", ""), limits.name_chars))
            continue

        stack.pop()
        if in_case > 1:
            in_case -= 1
            continue  # a child of a testcase: read with the testcase, freed with it
        if in_case == 1:
            in_case = 0
            yield _testcase(element, suites[-1] if suites else "", limits)
        elif _local(element.tag) in _SUITES:
            suites.pop()
        if stack:
            # Drop what has been read (testcases, finished suites, suite-level <system-out>):
            # memory stays flat however many testcases the file holds.
            parent = stack[-1]
            if parent[-1] is element:
                del parent[-1]
            else:
                parent.remove(element)


def _testcase(element, suite: str, limits: TextLimits) -> TestCase:
    status, message, flaky = "passed", "", False
    if len(element):
        children = {_local(child.tag): child for child in reversed(element)}  # first of each tag wins
        if "failure" in children and "skipped" not in children:
            status, message = "failed", _message(children["failure"], element, limits.message_chars)
        elif "error" in children:
            status, message = "error", _message(children["error"], element, limits.message_chars)
        elif "skipped" in children:
            # A <failure> beside <skipped> is an expected failure (node's failing `todo`).
            status, message = "skipped", _message(children["skipped"], element, limits.message_chars)
        else:
            flaky = not _FLAKY_TAGS.isdisjoint(children)
    if status == "passed" and not flaky and element.get("status", "").lower() in _NOT_RUN:
        # googletest writes a DISABLED_ test as status="notrun" with no <skipped> in it; CTest as "disabled".
        not_run = f"not run ({element.get('result') or element.get('status')})"
        status, message = "skipped", truncate_text(not_run, limits.message_chars)
    return TestCase(
        suite=suite,
        classname=truncate_text(element.get("classname", ""), limits.name_chars),
        name=truncate_text(element.get("name", ""), limits.name_chars),
        status=status,
        duration=_seconds(element.get("time")),
        message=message,
        flaky=flaky,
    )


def _seconds(value: str | None) -> float:
    """A `time=` attribute in seconds; missing, junk, negative or infinite is 0."""
    if not value:
        return 0.0
    try:
        seconds = float(value)
    except ValueError:
        value = value.strip()
        if "," not in value or "." not in value:
            return 0.0
        try:  # old Surefire's thousands separator: "1,234.567"
            seconds = float(value.replace(",", ""))
        except ValueError:
            return 0.0
    return seconds if 0 < seconds < math.inf else 0.0


def _message(element, testcase, limit: int) -> str:
    """The message attribute, else the first non-empty line of the text, else the type.

    PHPUnit writes no message attribute and starts the text with the test's own
    `Class::method` line; that line is passed over, as it says nothing about the failure.
    """
    message = (element.get("message") or "").strip()
    if not message:
        own_id = f"{testcase.get('classname', '')}::{testcase.get('name', '')}"
        # Lazily: a stack trace of megabytes is never split into a list of its lines.
        lines = (match.group().strip() for match in _LINE.finditer(element.text or ""))
        first = next((line for line in lines if line), "")
        if own_id != "::" and first.startswith(own_id):
            first = next((line for line in lines if line), "")
        message = first
    return truncate_text(message or element.get("type", "").strip(), limit)


class _TextReader:
    """A binary stream read as text in the document's own encoding, for the XML parser.

    The encoding is sniffed once (BOM, then the XML declaration, else UTF-8); bytes that
    do not decode become U+FFFD, and characters that XML 1.0 forbids do too. The parser is
    fed str, which makes expat ignore the declared encoding (it was already applied here).
    """

    def __init__(self, stream: BinaryIO, source: str, max_bytes: int):
        self._stream = stream
        self._source = source
        self._max_bytes = max_bytes
        self._bytes_read = 0
        self._decoder = None
        self._carry = ""  # a possible character reference cut by the chunk boundary
        self._eof = False
        self.saw_content = False  # anything but whitespace (an empty file is its own error)

    def read(self, size: int = -1) -> str:
        """The next piece of text ("" only at the end); `size` is ignored, pieces are bounded."""
        while not self._eof:
            raw = self._read_raw()
            if self._decoder is None:
                while len(raw) < SNIFF_BYTES and not self._eof:
                    raw += self._read_raw()
                self._decoder = codecs.getincrementaldecoder(_sniff_encoding(raw))(errors="replace")
            text = self._clean(self._carry + self._decoder.decode(raw, final=self._eof))
            if text:
                return text
        return ""

    def _read_raw(self) -> bytes:
        raw = self._stream.read(READ_CHUNK_BYTES)
        if not raw:
            self._eof = True
            return b""
        self._bytes_read += len(raw)
        if self._bytes_read > self._max_bytes:
            raise JUnitError(
                f"{self._source}: over the {self._max_bytes} byte limit "
                f"(stopped reading at {self._bytes_read} bytes)"
            )
        if not self.saw_content and raw.strip():
            self.saw_content = True
        return raw

    def _clean(self, text: str) -> str:
        self._carry = ""
        if not self._eof:
            amp = text.rfind("&", max(0, len(text) - 12))
            if amp != -1 and ";" not in text[amp:]:
                text, self._carry = text[:amp], text[amp:]
        if _BAD_CHARS.search(text):
            text = _BAD_CHARS.sub("\ufffd", text)
        if "&#" in text and _BAD_CHAR_REFS.search(text):
            text = _BAD_CHAR_REFS.sub("&#xFFFD;", text)
        return text


def _sniff_encoding(head: bytes) -> str:
    for bom, encoding in (
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF32_LE, "utf-32"),
        (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if head.startswith(bom):
            return encoding
    if head.startswith(b"<\x00?\x00"):
        return "utf-16-le"
    if head.startswith(b"\x00<\x00?"):
        return "utf-16-be"
    match = _DECLARED_ENCODING.match(head.lstrip())
    return (match and _document_encoding(match.group(1).decode("ascii"))) or "utf-8"


def _document_encoding(declared: str) -> str | None:
    """The codec for a declared encoding, or None to read the bytes as UTF-8 instead."""
    try:
        name = codecs.lookup(declared).name
        if name in _NOT_DOCUMENT_ENCODINGS:
            return None
        " ".encode(name)  # LookupError for codecs that are no text encoding (zlib, bz2, base64, rot13)
    except LookupError:
        return None
    # A wide encoding declared over bytes that are plainly 8-bit (no BOM, no NULs) is a lie.
    return None if name.startswith(("utf-16", "utf-32")) else name


def summarize(cases: list[TestCase]) -> dict[str, int | float]:
    """Counts per status and the total time of a parsed file (for `sdk-campaigns junit summarize`)."""
    summary: dict[str, int | float] = {"testcases": len(cases)}
    summary.update({status: 0 for status in STATUSES})
    for case in cases:
        summary[case.status] += 1
    summary["flaky"] = sum(case.flaky for case in cases)
    summary["total_time"] = round(sum(case.duration for case in cases), 6)
    return summary
