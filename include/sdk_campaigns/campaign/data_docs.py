"""Great Expectations Data Docs made self-contained and inert, right after GX writes them.

GX 1.x renders each page with about 15 scripts and stylesheets from CDNs, and prints the values that
broke an expectation unescaped: a test status `<img src=x onerror=…>` becomes markup. The Data Docs are
served from the Airflow api-server's origin (reporting.health_app) and published with the reports, so
every page is rewritten through an allow-list:

- only plain document tags are kept (tables, text, lists, headings, links, images); script, frames,
  objects, SVG and MathML go with their content, other unknown tags (forms, buttons) without it;
- only inert attributes are kept: no event handler (`on…`), no `target`, no URL that leaves the Data
  Docs folder (CDNs, GX's web assets, javascript:/data: links); an image that is no file of the
  folder goes;
- local stylesheets are inlined, and CSS keeps no `url(…)`, `@import` or `expression(…)`;
- comments and processing instructions are dropped; text and attribute values are re-escaped;
- the index, whose tables GX fills with script, gets a plain list of the pages instead.

The page then needs no request but the ones to its own folder's images, and runs no script: the health
app serves it with `Content-Security-Policy: sandbox` as well, which would stop one anyway. Static files
no page refers to any more (GX's fonts, its unused images and stylesheets) are deleted.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import SplitResult, quote, unquote, urlsplit

ALLOWED_TAGS = frozenset(
    {
        "html", "head", "body", "title", "meta", "style",
        "a", "abbr", "b", "blockquote", "br", "caption", "code", "col", "colgroup", "dd", "del", "div",
        "dl", "dt", "em", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "i", "img",
        "ins", "kbd", "li", "main", "mark", "nav", "ol", "p", "pre", "q", "s", "samp", "section",
        "small", "span", "strong", "sub", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr",
        "u", "ul", "wbr",
    }
)  # fmt: skip
# Dropped with everything inside them: code, embedded documents, foreign content (SVG, MathML), whose
# parsing rules differ from HTML's, and GX's fixed footer (a newsletter link) covering the page.
DROPPED_WITH_CONTENT = frozenset(
    {
        "script",
        "template",
        "iframe",
        "frame",
        "frameset",
        "object",
        "applet",
        "svg",
        "math",
        "select",
        "footer",
    }
)
VOID_TAGS = frozenset({"br", "col", "hr", "img", "meta", "wbr", "link", "input", "base", "embed", "source"})
ALLOWED_ATTRIBUTES = frozenset(
    {"class", "id", "title", "alt", "role", "colspan", "rowspan", "scope", "dir", "lang", "hidden", "charset"}
)
_ATTRIBUTE_NAME = re.compile(r"^(?:aria|data)-[a-z0-9-]{1,64}$")
_UNSAFE_URL_CHARACTERS = re.compile(r"[\x00-\x20\x7f\\]")  # controls, spaces, backslashes
_BODY = re.compile(r"<body[^>]*>")
_CSS_COMMENT = re.compile(r"/\*.*?\*/", re.S)
# Anything that could make CSS fetch something; removed with its whole declaration (or at-rule).
_CSS_FETCHES = re.compile(
    r"[^;{}]*(?:url\s*\(|image-set\s*\(|image\s*\(|expression\s*\(|@import|//)[^;{}]*;?", re.I
)


class DataDocsPage(HTMLParser):
    """One GX page rewritten through the allow-list; `referenced` collects the local files it uses."""

    def __init__(self, page: Path, root: Path):
        super().__init__(convert_charrefs=True)
        self.page, self.root = page, root
        self.out: list[str] = []
        self.referenced: set[Path] = set()
        self._dropping: list[str] = []  # the open elements being dropped with their content
        self._in_style = False

    def html(self, markup: str) -> str:
        self.feed(markup)
        self.close()
        return "".join(self.out)

    def handle_decl(self, decl: str) -> None:
        if decl.lower().startswith("doctype") and not self._dropping:
            self.out.append("<!DOCTYPE html>")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._dropping:
            if tag == self._dropping[-1] or tag in DROPPED_WITH_CONTENT:
                self._dropping.append(tag)
            return
        if tag in DROPPED_WITH_CONTENT:
            self._dropping.append(tag)
            return
        if tag == "link":
            self._inline_stylesheet(dict(attrs))
            return
        if tag not in ALLOWED_TAGS or (tag == "meta" and "charset" not in dict(attrs)):
            return
        kept = self._attributes(tag, attrs)
        if tag == "img" and not any(name == "src" for name, _ in kept):
            return  # an image from elsewhere, or none at all: nothing to show
        attributes = "".join(f' {name}="{html.escape(value)}"' for name, value in kept)
        self.out.append(f"<{tag}{attributes}>")
        self._in_style = tag == "style"

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in VOID_TAGS:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if self._dropping:
            if tag == self._dropping[-1]:
                self._dropping.pop()
            return
        if tag in ALLOWED_TAGS and tag not in VOID_TAGS:
            self.out.append(f"</{tag}>")
        if tag == "style":
            self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._dropping:
            return
        self.out.append(safe_css(data) if self._in_style else html.escape(data, quote=False))

    # Comments, processing instructions and CDATA sections are dropped: handle_comment, handle_pi and
    # unknown_decl are HTMLParser's no-ops.

    def _attributes(self, tag: str, attrs: list[tuple[str, str | None]]) -> list[tuple[str, str]]:
        kept = []
        for name, value in attrs:
            value = value or ""
            if name in ALLOWED_ATTRIBUTES or _ATTRIBUTE_NAME.match(name):
                kept.append((name, value))
            elif name == "style":
                kept.append((name, safe_css(value)))
            elif name == "href" and tag == "a" and self._local_link(value):
                kept.append((name, value))
            elif name == "src" and tag == "img":
                local = self._local_file(value)
                if local is not None:
                    self.referenced.add(local)
                    kept.append((name, value))
        return kept

    def _local_link(self, url: str) -> bool:
        """A link within the Data Docs folder (or the page itself): no scheme, no host."""
        parts = _relative_url(url)
        return parts is not None and (not parts.path or self._inside(self.page.parent / unquote(parts.path)))

    def _local_file(self, url: str) -> Path | None:
        parts = _relative_url(url)
        if parts is None or parts.query or not parts.path:
            return None
        target = (self.page.parent / unquote(parts.path)).resolve()
        return target if self._inside(target) and target.is_file() else None

    def _inside(self, path: Path) -> bool:
        return path.resolve().is_relative_to(self.root)

    def _inline_stylesheet(self, attrs: dict[str, str | None]) -> None:
        if "stylesheet" not in (attrs.get("rel") or "").lower().split():
            return
        sheet = self._local_file(attrs.get("href") or "")
        if sheet is not None and sheet.suffix == ".css":
            self.out.append(f"<style>{safe_css(sheet.read_text(encoding='utf-8', errors='replace'))}</style>")


def _relative_url(url: str) -> SplitResult | None:
    """`url` split, when it is a plain relative reference (a path, a query, a fragment); else None.
    What a browser might read as a scheme or a host (`javascript:`, `//cdn`, `/\\cdn`, control
    characters) is None."""
    if not url or _UNSAFE_URL_CHARACTERS.search(url) or url.startswith("/"):
        return None
    parts = urlsplit(url)
    first_segment = re.split(r"[/?#]", url, maxsplit=1)[0]
    return None if parts.scheme or parts.netloc or ":" in first_segment else parts


def safe_css(css: str) -> str:
    """CSS that fetches nothing and cannot end its <style> element."""
    css = _CSS_COMMENT.sub("", css.replace("\\", "").replace("<", ""))
    return _CSS_FETCHES.sub("", css)


def page_list(root: Path) -> str:
    """Links to every validation result and expectation suite page: GX's index builds its tables with
    script (bootstrap-table), so without it the index lists them here."""
    sections = []
    for folder, title in (("validations", "Validation results"), ("expectations", "Expectation suites")):
        pages = sorted((root / folder).rglob("*.html")) if (root / folder).is_dir() else []
        items = "".join(
            f'<li><a href="{html.escape(quote(p.relative_to(root).as_posix()))}">'
            f"{html.escape(' / '.join(p.relative_to(root / folder).with_suffix('').parts))}</a></li>"
            for p in pages
        )
        if items:
            sections.append(f"<h4>{title}</h4><ul>{items}</ul>")
    return f'<section class="sdk-campaigns-pages">{"".join(sections)}</section>' if sections else ""


def make_self_contained(docs_dir: Path) -> None:
    """Rewrite every page under `docs_dir` (see the module's docstring), list the pages on the index,
    and delete the static files no page refers to any more."""
    root = docs_dir.resolve()
    referenced: set[Path] = set()
    for page in sorted(root.rglob("*.html")):
        rewriter = DataDocsPage(page.resolve(), root)
        rewritten = rewriter.html(page.read_text(encoding="utf-8", errors="replace"))
        if page.resolve() == root / "index.html":
            rewritten = _BODY.sub(lambda body: body.group() + page_list(root), rewritten, count=1)
        page.write_text(rewritten, encoding="utf-8")
        referenced |= rewriter.referenced
    static = root / "static"
    for leftover in sorted(static.rglob("*"), reverse=True) if static.is_dir() else []:
        if leftover.is_file() and leftover.resolve() not in referenced:
            leftover.unlink()
        elif leftover.is_dir() and not any(leftover.iterdir()):
            leftover.rmdir()
