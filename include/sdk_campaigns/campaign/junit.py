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

Safety: the input is bounded before parsing (file size) and while reading (bytes counted); a
document whose DTD declares an entity (billion laughs, external entities: XXE) is refused before
the parser reads past its prolog; and the parser, libxml2 through lxml, is configured so that
nothing could be expanded or fetched anyway (entities not resolved, no DTD loaded, no network,
libxml2's own limits on depth, text size and entity amplification kept: huge_tree off). Each
element is dropped once read, so a big file is never held as a whole tree. Names and messages
longer than their limits are cut with a marker saying how much was cut.
Bytes that do not decode in the document's encoding become U+FFFD instead of failing the
whole file, and so do characters that XML 1.0 forbids (raw ANSI colour codes, which
node:test and libtest write, or `&#27;`, which bats writes).
"""

from __future__ import annotations

import codecs
import gc
import io
import math
import os
import re
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import chain
from typing import BinaryIO, NamedTuple

from lxml import etree

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
# The prolog ends where the first element starts: a '<' not opening a declaration, comment or PI.
_ELEMENT_START = re.compile(r"<(?![!?])")
_ENTITY_DECLARATION = re.compile(r"<!ENTITY\s+(?:%\s*)?([^\s\"'>%]+)")


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


class TestCase(NamedTuple):
    """One parsed testcase. A NamedTuple: immutable, and made 100,000 times per big file (a frozen
    dataclass costs three times as much to make)."""

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
    with cyclic_gc_paused():
        return list(iter_junit_stream(stream, source, max_bytes=max_bytes, limits=limits))


@contextmanager
def cyclic_gc_paused():
    """For a whole parse (here, and collect's streaming read). A parse makes no reference cycles
    (tuples of strings and numbers, lxml's proxies): reference counting frees all of it. Meanwhile
    Python's cyclic collector, triggered by those allocations, would walk the whole heap again and
    again, and a task process that imported Great Expectations holds millions of objects: 100,000
    cases took 1.36 s with it, 0.79 s without."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


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
        yield from _cases(_events(text, source), source, limits)
    except UnicodeError as err:  # a codec failing in a way errors="replace" does not cover
        raise JUnitError(f"{source}: cannot be decoded: {err}") from err
    except etree.XMLSyntaxError as err:
        if not text.saw_content:
            raise JUnitError(f"{source}: the file is empty") from err
        message = str(err.msg or err)
        if "entity" in message.lower():  # libxml2's own refusal (amplification, external entity)
            raise JUnitError(f"{source}: refused unsafe XML ({message})") from err
        raise JUnitError(f"{source}: not well-formed XML: {message}") from err


class _NothingFetched(etree.Resolver):
    """Any DTD or entity the document names (file, http or other) is resolved to nothing."""

    def resolve(self, url, public_id, context):
        return self.resolve_string("", context)


def _safe_parser() -> etree.XMLPullParser:
    # (collect_ids=False is left out: with it, lxml 6.1 loads the external DTD subset it names)
    parser = etree.XMLPullParser(
        events=("end",),
        resolve_entities=False,  # a reference stays a reference: nothing expanded, nothing fetched
        load_dtd=False,
        no_network=True,
        huge_tree=False,  # libxml2's limits stay: depth, text node size, entity amplification
        remove_comments=True,
        remove_pis=True,
    )
    parser.resolvers.add(_NothingFetched())
    return parser


def _events(text: _TextReader, source: str) -> Iterator[list[tuple[str, etree._Element]]]:
    """lxml's (event, element) pairs, a list per piece of text fed to it (one generator step per
    piece, not per element). Until the root element starts, the text read so far is checked for
    entity declarations before the parser sees it."""
    parser = _safe_parser()
    prolog: list[str] | None = []  # None once the first element started
    while piece := text.read():
        if prolog is not None:
            prolog.append(piece)
            head = "".join(prolog)
            start = _ELEMENT_START.search(head)
            _refuse_entity_declarations(head[: start.start()] if start else head, source)
            if start:
                prolog = None
        parser.feed(piece)
        yield list(parser.read_events())
    parser.close()
    yield list(parser.read_events())


def _refuse_entity_declarations(prolog: str, source: str) -> None:
    if declared := _ENTITY_DECLARATION.search(prolog):
        raise JUnitError(
            f"{source}: refused unsafe XML: it declares the entity {declared.group(1)!r} "
            "(entity expansion and external entities are not allowed)"
        )


def _local(tag: str) -> str:
    """`{urn:x}testcase` -> `testcase`: a namespaced dialect still reads."""
    return tag.rpartition("}")[2] if tag[:1] == "{" else tag


def _cases(events, source: str, limits: TextLimits) -> Iterator[TestCase]:
    """Only "end" events: an element's parent is already in the tree (with its attributes) when one of
    its children ends, so a testcase finds its innermost suite by walking up. (The loop is the hot
    path of a 100,000-case file: names are looked up once, outside it, and consecutive testcases of
    one parent share its suite name, worked out once.)"""
    checked_root = False
    name_chars, suites, testcase_tag = limits.name_chars, _SUITES, "testcase"
    last_parent, suite_name = None, None  # the parent of the testcase before, and its suite's name
    for _event, element in chain.from_iterable(events):
        parent = element.getparent()
        if not checked_root:
            _check_root(element, source)
            checked_root = True
        if parent is None:
            continue  # the root ended: the document is read
        tag = element.tag
        if tag[:1] == "{":
            tag = tag.rpartition("}")[2]
        if tag == testcase_tag:
            if parent is not last_parent:  # (the held proxy keeps its node: identity is safe)
                last_parent = parent
                suite = parent if _local(parent.tag) in suites else _enclosing_suite(parent)
                suite_name = None if suite is None else _fit(suite.get("name", ""), name_chars)
            if suite_name is None:
                continue  # a testcase inside a testcase: part of the outer one
            yield _testcase(element, suite_name, limits)
        elif tag not in suites and _local(parent.tag) not in suites:
            continue  # inside a testcase: read with it, dropped with it
        # Drop what has been read (testcases, finished suites, suite-level <system-out>): memory
        # stays flat however many testcases the file holds.
        if parent[-1] is element:
            del parent[-1]
        else:
            parent.remove(element)


def _fit(text: str, limit: int) -> str:
    """truncate_text, with the common case (it fits) inline-cheap."""
    return text if len(text) <= limit else truncate_text(text, limit)


def _check_root(element, source: str) -> None:
    root = element
    while (above := root.getparent()) is not None:
        root = above
    tag = _local(root.tag)
    if tag not in _ROOTS:
        raise JUnitError(f"{source}: root element <{tag}> is not <testsuites> or <testsuite>")


def _enclosing_suite(element):
    """The innermost <testsuite>/<testsuites> at or above `element`, or None past a <testcase>."""
    while element is not None:
        tag = _local(element.tag)
        if tag in _SUITES:
            return element
        if tag == "testcase":
            return None
        element = element.getparent()
    return None


def _testcase(element, suite: str, limits: TextLimits) -> TestCase:
    status, message, flaky = "passed", "", False
    get = element.get
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
    if status == "passed" and not flaky and (own := get("status")) and own.lower() in _NOT_RUN:
        # googletest writes a DISABLED_ test as status="notrun" with no <skipped> in it; CTest as "disabled".
        not_run = f"not run ({get('result') or own})"
        status, message = "skipped", truncate_text(not_run, limits.message_chars)
    name_chars = limits.name_chars
    return TestCase(  # suite, classname, name, status, duration, message, flaky
        suite,
        _fit(get("classname", ""), name_chars),
        _fit(get("name", ""), name_chars),
        status,
        _seconds(get("time")),
        message,
        flaky,
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
    fed str, which makes libxml2 ignore the declared encoding (it was already applied here).
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
