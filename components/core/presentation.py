"""Building blocks of the run report: one autoescaping Jinja2 environment, tables, inline PNGs.

Every piece of the report's HTML comes out of a template rendered by :func:`render`, whose
environment escapes every value it is given. A rendered fragment is ``Markup`` and goes into the
next template as it is; anything else (a column name, a value from the data, an error message, a
run id) is escaped wherever it lands. Nothing here or in a report section marks a string as HTML
by hand, so a forgotten escape cannot exist: a section that returned a plain string would show
its tags as text, not run them. The page is also served with a Content-Security-Policy that
allows no script at all (:data:`pipelines.report.render.CSP`).

Used by the orchestrator when it renders a run report (matplotlib is imported only by the figures'
callers, never by a component at run time).
"""

from __future__ import annotations

import base64
import functools
import io
from collections.abc import Iterable, Sequence
from typing import Any

import jinja2
from markupsafe import Markup

ENV = jinja2.Environment(
    autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True
)


def fmt(value: Any) -> Any:
    """A table cell's text: floats to 4 significant digits, None as a dash; fragments as they are
    (the template escapes everything else)."""
    if isinstance(value, Markup):
        return value
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return f"{value:.4g}"
    return "—" if value is None else str(value)


ENV.filters["fmt"] = fmt


@functools.lru_cache(maxsize=256)
def _template(source: str) -> jinja2.Template:
    return ENV.from_string(source)


def render(source: str, **values: Any) -> Markup:
    """A fragment of the report: ``source`` is a Jinja2 template, every value is escaped."""
    return Markup(_template(source).render(**values))


TABLE = """<table><tr>{% for h in header %}<th>{{ h }}</th>{% endfor %}</tr>
{% for row in rows %}{% set cls = row_class[loop.index0] if row_class else "" %}
<tr{% if cls %} class="{{ cls }}"{% endif %}>
{% for cell in row %}<td>{{ cell|fmt }}</td>{% endfor %}</tr>
{% endfor %}</table>"""


def table(
    header: Sequence[str], rows: Iterable[Sequence[Any]], row_class: Sequence[str] = ()
) -> Markup:
    """An HTML table; a cell is a value (escaped) or a fragment from :func:`render`."""
    return render(TABLE, header=list(header), rows=list(rows), row_class=list(row_class))


def img(uri: str, alt: str) -> Markup:
    return render('<img class="plot" alt="{{ alt }}" src="{{ uri }}">', uri=uri, alt=alt)


def section(title: str, *parts: Any) -> Markup:
    return render(
        "<h2>{{ title }}</h2>{% for p in parts %}{{ p }}{% endfor %}", title=title, parts=parts
    )


def pyplot() -> Any:
    """matplotlib.pyplot on the Agg backend (no display needed), reading text as plain text: a
    column or slice name with ``$`` in it is not TeX."""
    import matplotlib

    matplotlib.use("Agg")
    matplotlib.rcParams["text.parse_math"] = False
    import matplotlib.pyplot as plt

    return plt


def figure_uri(fig: Any) -> str:
    """A figure as an embedded PNG (the page needs no network and no side files)."""
    plt = pyplot()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()
