"""The one Jinja2 environment of the HTML pages: the run's report, the SDK health dashboard and
the health app's pages (templates in ``reporting/templates/``).

Test names, messages, log lines, run ids, SDK names and reasons come from containers and are
hostile. Autoescape is on for every template, so they are escaped where they are output and
never by hand; the only markup passed in is what this package generates itself (`Markup`, with a
comment saying why it is safe). StrictUndefined turns a misspelt variable into an error instead
of an empty cell.
"""

from __future__ import annotations

from functools import cache

import jinja2
from markupsafe import Markup

from sdk_campaigns.reporting import charts


def safe_href(url: str | None) -> Markup | None:
    """The `safe_href` filter: the URL for an href, or None when it is empty or could run code
    (``javascript:``, ``data:``)."""
    href = charts.safe_href(url)
    # charts.safe_href returns the URL already escaped (charts.text): Markup keeps autoescape from
    # escaping it a second time (which would turn "&amp;" into "&amp;amp;").
    return Markup(href) if href else None


def drop_control_characters(markup: str) -> str:
    """The characters XML cannot hold, dropped from rendered markup, as charts.text drops them
    from every value of the dashboard."""
    cleaned = charts._CONTROL_CHARACTERS.sub("", markup)
    # Deleting characters from escaped markup cannot make a tag or an entity: "<" and "&" in the
    # values were already escaped, and the escapes contain no control characters.
    return Markup(cleaned) if isinstance(markup, Markup) else cleaned


def _none_as_nothing(value):
    """A value the history has no entry for (None) renders as nothing, not as "None"."""
    return "" if value is None else value


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("sdk_campaigns.reporting", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        finalize=_none_as_nothing,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["safe_href"] = safe_href
    env.filters["drop_control_characters"] = drop_control_characters
    return env


def render(template: str, **context) -> str:
    return environment().get_template(template).render(**context)
