"""A lesson's figure (seed 003's visual step): at most one small diagram, proposed by the model as
a structured spec, only where it helps.

Pure: no I/O. The model's answer is data: one JSON object, either {"kind": "none"} or a diagram
spec, validated here with tight bounds (a few steps or points, short one-line labels, finite
numbers). Anything that does not validate is InvalidVisual: the caller drops it with a warning and
the lesson stands without a figure. The spec's lesson_id is always the lesson's, never the model's.

Kinds, chosen for course lessons (a DCF valuation, an audit, a budget):
* flow - an ordered procedure, 3 to 8 steps (estimate the cash flows -> discount -> sum);
* bar  - labelled numbers compared (a sensitivity's values, a cost breakdown), 2 to 10 of them;
* line - labelled numbers in order (free cash flow by forecast year), 2 to 10 of them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, ValidationError, model_validator

from coursegen.models import describe_validation_error, without_control_characters

MIN_STEPS, MAX_STEPS = 3, 8
MIN_POINTS, MAX_POINTS = 2, 10
MAX_VALUE = 1e15
LESSON_TEXT_CHARS = 6000  # the part of a lesson the proposal prompt carries (its opening sections)


def _one_line(text):
    """Whitespace runs as one space, before the length is checked (a non-string is str's to refuse)."""
    return " ".join(without_control_characters(text).split()) if isinstance(text, str) else text


def _text(max_length: int, min_length: int = 1):
    return Annotated[str, StringConstraints(min_length=min_length, max_length=max_length), BeforeValidator(_one_line)]


class InvalidVisual(ValueError):
    """A proposed diagram that cannot be drawn as asked: dropped with a warning, never fatal."""


class ChartPoint(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: _text(32)
    value: float = Field(allow_inf_nan=False, ge=-MAX_VALUE, le=MAX_VALUE)


class DiagramSpec(BaseModel):
    """One diagram of one lesson. A flow has steps and no points; a chart has points and no steps."""

    model_config = ConfigDict(extra="forbid")

    lesson_id: str = Field(pattern=r"^[A-Za-z0-9_.:-]{1,80}$")
    kind: Literal["flow", "bar", "line"]
    caption: _text(200)
    steps: list[_text(60)] = Field(default_factory=list, max_length=MAX_STEPS)
    points: list[ChartPoint] = Field(default_factory=list, max_length=MAX_POINTS)
    unit: _text(16, min_length=0) = ""

    @model_validator(mode="after")
    def _shape_fits_kind(self) -> "DiagramSpec":
        if self.kind == "flow":
            if self.points or self.unit:
                raise ValueError("a flow has steps, not points or a unit")
            if len(self.steps) < MIN_STEPS:
                raise ValueError(f"a flow needs {MIN_STEPS} to {MAX_STEPS} steps")
        else:
            if self.steps:
                raise ValueError("a chart has points, not steps")
            if len(self.points) < MIN_POINTS:
                raise ValueError(f"a chart needs {MIN_POINTS} to {MAX_POINTS} points")
            labels = [point.label.casefold() for point in self.points]
            if len(set(labels)) != len(labels):
                raise ValueError("each point of a chart needs its own label")
        return self


def parse_visual_answer(text: str, lesson_id: str) -> DiagramSpec | None:
    """The model's answer as a spec, or None when it says no diagram helps. InvalidVisual otherwise."""
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end < start:
        raise InvalidVisual("the answer holds no JSON object")
    try:
        data = json.loads(text[start:end + 1])
    except json.JSONDecodeError as error:
        raise InvalidVisual(f"the answer is not valid JSON: {error.msg}") from None
    if not isinstance(data, dict):
        raise InvalidVisual("the answer is not a JSON object")
    if data.get("kind") == "none":
        return None
    data.pop("lesson_id", None)  # the lesson's own id, whatever the model wrote
    try:
        return DiagramSpec.model_validate({**data, "lesson_id": lesson_id})
    except ValidationError as error:
        raise InvalidVisual(describe_validation_error(error, whole="diagram")) from None


def visual_prompt_variables(*, lesson_number: str, lesson_title: str, lesson_markdown: str, language: str) -> dict:
    """lessons.propose_visual's variables: the lesson as written (its opening LESSON_TEXT_CHARS)."""
    return {
        "lesson_number": lesson_number,
        "lesson_title": lesson_title,
        "lesson_markdown": lesson_markdown[:LESSON_TEXT_CHARS],
        "language": language,
    }


def figure_record(spec: DiagramSpec, svg_key: str, generator: str) -> dict:
    """What selected_lecture_figures keeps of a figure: small (ids, kind, caption, key), never the SVG."""
    return {"lesson_id": spec.lesson_id, "kind": spec.kind, "caption": spec.caption, "svg_key": svg_key,
            "generator": generator}


@dataclass(frozen=True)
class LessonFigure:
    """A lesson's figure as the book shows it: its caption and its checked SVG document."""

    lesson_id: str
    caption: str
    svg: str


def format_value(value: float, unit: str = "") -> str:
    """A chart's number as a reader reads it: 12.5, 1,200, -3 (and its unit: 12.5%)."""
    text = f"{value:,.0f}" if value == int(value) and abs(value) < 1e15 else f"{value:,.4g}"
    if unit in ("%", "x"):
        return text + unit
    return f"{text} {unit}".strip()


# -- the rendered SVG, checked before it is kept ------------------------------------------------
_SVG_NS = "{http://www.w3.org/2000/svg}"
_XLINK_HREF = "{http://www.w3.org/1999/xlink}href"
_FORBIDDEN_ELEMENTS = {"script", "foreignObject", "iframe", "object", "embed", "image", "use", "a", "animate", "set",
                       "style", "link"}
_URL = re.compile(r"url\(\s*(?!['\"]?#)", re.IGNORECASE)  # url(#id) only: no external reference


def checked_svg(svg: str) -> str:
    """The renderer's SVG if it is a plain, self-contained picture: one <svg> root, no script, no
    event handler, no link or external reference (a renderer upgrade that adds one is caught here)."""
    from xml.etree import ElementTree

    if "<!DOCTYPE" in svg or "<!ENTITY" in svg:
        raise InvalidVisual("the SVG declares a DTD or entities")
    try:
        root = ElementTree.fromstring(svg)
    except ElementTree.ParseError as error:
        raise InvalidVisual(f"the renderer's SVG does not parse: {error}") from None
    if root.tag != f"{_SVG_NS}svg":
        raise InvalidVisual(f"the SVG's root is {root.tag}, not svg")
    for element in root.iter():
        name = element.tag.removeprefix(_SVG_NS)
        if not element.tag.startswith(_SVG_NS) or name in _FORBIDDEN_ELEMENTS:
            raise InvalidVisual(f"the SVG holds a <{name}> element")
        for attribute, value in element.attrib.items():
            if attribute.lower().startswith("on") or attribute in ("href", _XLINK_HREF) or _URL.search(value):
                raise InvalidVisual(f"the SVG's <{name}> has {attribute}={value[:40]!r}")
    return svg
