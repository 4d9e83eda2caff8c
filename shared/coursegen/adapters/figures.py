"""The figure renderer: a DiagramSpec drawn as SVG by pure-Python libraries (no system binary,
small enough for the Lambda layer). schemdraw draws flows (its own SVG backend, no matplotlib);
leather draws bar and line charts. Neither runs anything the text says: labels are text nodes,
escaped by ElementTree. The SVG is then checked (domain.visuals.checked_svg) before it is kept.
"""

from __future__ import annotations

import textwrap
import threading
import xml.etree.ElementTree as ElementTree

from coursegen.domain.visuals import DiagramSpec, checked_svg, format_value

BOX_CHARS = 30  # a flow box's line length; a step of up to 60 characters takes two lines
_LOCK = threading.Lock()  # both libraries keep drawing state in module globals


def _schemdraw_text(text: str) -> str:
    """schemdraw's SVG backend reads a label as markup (it escapes only < and >) and treats text
    between two $ as math; as character references, & and $ reach the SVG as themselves."""
    return text.replace("&", "&amp;").replace("$", "&#36;")


class SvgFigureRenderer:
    name = "schemdraw (flows) and leather (charts)"

    def render(self, spec: DiagramSpec) -> str:
        with _LOCK:
            svg = self._flow(spec) if spec.kind == "flow" else self._chart(spec)
        return checked_svg(svg)

    @staticmethod
    def _flow(spec: DiagramSpec) -> str:
        import schemdraw
        from schemdraw import flow

        schemdraw.use("svg")
        schemdraw.svgconfig.text = "text"  # text as <text> (readable, searchable), not glyph paths
        with schemdraw.Drawing(show=False) as drawing:
            drawing.config(fontsize=11, unit=1)
            for number, step in enumerate(spec.steps, start=1):
                lines = textwrap.wrap(f"{number}. {step}", BOX_CHARS) or [str(number)]
                box = flow.Box(w=5, h=0.5 + 0.4 * len(lines)).label("\n".join(map(_schemdraw_text, lines))).anchor("N")
                drawing += box
                if number < len(spec.steps):
                    drawing += flow.Arrow().at(box.S).down(0.6)
        return drawing.get_imagedata("svg").decode("utf-8")

    @staticmethod
    def _chart(spec: DiagramSpec) -> str:
        import leather

        chart = leather.Chart()
        values = [point.value for point in spec.points]
        label = lambda value, index, count: format_value(value, spec.unit)  # noqa: E731 - leather's tick formatter
        if spec.kind == "bar":
            chart.add_bars([(point.value, point.label) for point in spec.points])
            chart.add_x_scale(min(0.0, *values), max(0.0, *values))  # bars start at zero
            chart.add_x_axis(tick_formatter=label)
            height = 90 + 34 * len(spec.points)
        else:
            # leather draws lines over numbers: the points at 1..n, each tick named by its label
            positions = list(range(1, len(spec.points) + 1))
            chart.add_line([(position, point.value) for position, point in zip(positions, spec.points)])
            chart.add_x_scale(1, len(spec.points))
            chart.add_x_axis(ticks=positions, tick_formatter=lambda value, index, count: spec.points[int(value) - 1].label)
            chart.add_y_axis(tick_formatter=label)
            height = 380
        svg = chart.to_svg(width=640, height=height)
        root = ElementTree.fromstring(svg)
        root.set("viewBox", f"0 0 640 {height}")  # scales down with the page, as schemdraw's does
        return ElementTree.tostring(root, encoding="unicode")
