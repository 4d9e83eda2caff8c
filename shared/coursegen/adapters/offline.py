"""Offline adapters: the WordLlama embedder and the deterministic offline planner.

The offline planner is NOT an LLM. It answers each of the three prompts in the text format an
LLM is asked for, grounded on the book summaries in the prompt, so that parsing, the time budget
and the review loop all run for real without a model. Its part plans add up exactly (it counts
better than a model); its section expansions round to the pace's natural section length, so
outlines drift from the target the way real ones do, and the review pass rescales them.
"""

from __future__ import annotations

import logging
import math
import os
import re
import threading
import time
from collections.abc import Sequence
from functools import cached_property

from coursegen.domain.context import format_course_outline
from coursegen.domain.parsing import parse_text_outline_to_database
from coursegen.domain.prompts import Prompt
from coursegen.ports import LlmReply

OFFLINE_PLANNER_NAME = "offline planner (not an LLM)"
LABEL = "Note: written by the offline planner, not an LLM."
SECTION_MINUTES = 20

_BOOK_LINE = re.compile(r"^\[([^\]]+)\]\s+(.+?)(?:\s+—\s+.*)?$")
_TOPICS_LINE = re.compile(r"^Key topics:\s*(.+)$")
_RELEVANCE_LINE = re.compile(r"^Relevance:\s*(-?[\d.]+)$")
CLOSE_TO_BEST = 0.2  # draw on books within 20% of the best match's relevance
_THIS_PART = re.compile(r"^Part\s+(\d+):.*\(this part\)\s*$")
_COVERS = re.compile(r"^Covers:\s*(.+)$")
_PLAN_COUNT = re.compile(r"Plan\s+(\d+)\s+parts")
_CITATION = re.compile(r"\s*\[([^\]]+)\]\s*$")


def _estimate_tokens(text: str) -> int:
    return max(1, len(text) // 4)


class OfflinePlanner:
    """A deterministic, retrieval-grounded outline writer standing in for an LLM offline."""

    name = OFFLINE_PLANNER_NAME

    def complete(self, prompt: Prompt) -> LlmReply:
        answer = {
            "courses.generate_parts": self._plan_parts,
            "courses.expand_part": self._expand_part,
            "courses.review_outline": self._review_outline,
        }[prompt.name](prompt.variables)
        return LlmReply(answer, _estimate_tokens(prompt.text), _estimate_tokens(answer))

    # courses.generate_parts
    def _plan_parts(self, v: dict) -> str:
        topics = _topic_pool(v["summaries_context"])
        match = _PLAN_COUNT.search(v["parts_count_guidance"])
        count = int(match.group(1)) if match else 3
        count = max(1, min(count, len(topics), int(v["target_minutes"]) // 5))  # every part gets 5 minutes or more
        per_part = max(1, min(4, len(topics) // count))
        groups = [topics[i * per_part:(i + 1) * per_part] for i in range(count)]
        minutes = _split_minutes(int(v["target_minutes"]), [0.7] + [1.0] * (count - 1))
        lines = [f"Course title: {_course_title(v['query'])}", LABEL]
        for i, (group, part_minutes) in enumerate(zip(groups, minutes)):
            lead = group[0][0]
            if i == 0 and count > 1:
                title = f"Foundations: {lead}"
            elif i == count - 1 and count > 2:
                title = f"Putting it together: {lead}"
            else:
                title = _sentence_case(lead)
            lines.append(f"Part {i + 1}: {title} ({part_minutes} minutes)")
            lines.append("Covers: " + "; ".join(f"{topic} [{book_id}]" for topic, book_id in group))
        lines.append(f"Total: {sum(minutes)} minutes")
        return "\n".join(lines) + "\n"

    # courses.expand_part
    def _expand_part(self, v: dict) -> str:
        number, title, part_minutes = int(v["part_index"]), v["part_title"], int(v["part_minutes"])
        covered = _covers_of_this_part(v["existing_outline"]) or [(title, "")]
        count = max(1, round(part_minutes / SECTION_MINUTES))
        section_minutes = max(5, 5 * round(part_minutes / count / 5))
        lines = [LABEL, f"## Part {number}: {title} ({part_minutes} minutes)"]
        # The first section teaches what the part's title names; the others rotate through the
        # rest of what the part covers (by part number, so parts do not all start on one book).
        others = covered[1:] or covered
        for i in range(count):
            topic, book_id = covered[0] if i == 0 else others[(i - 1 + number - 1) % len(others)]
            if i >= len(covered):
                topic = f"Practice: {topic}"
            lines.append(f"### Section {number}.{i + 1}: {_sentence_case(topic)} ({section_minutes} minutes)")
            lines.append(f"Objectives: Explain {topic.lower()}; Apply {topic.lower()} in a worked example")
            if book_id:
                lines.append(f"Sources: [{book_id}]")
        return "\n".join(lines) + "\n"

    # courses.review_outline
    def _review_outline(self, v: dict) -> str:
        refs = {book_id.upper(): book_id for book_id, _ in _books(v["book_summaries_context"])}
        parsed = parse_text_outline_to_database(v["outline_text"], refs)
        if not parsed.ok or parsed.value is None:
            return f"{LABEL}\nThe outline could not be read: {parsed.error}\n"
        outline = parsed.value
        target = int(v["target_total"])
        sections = [s for part in outline.parts for s in part.sections]
        new_minutes = _split_minutes(target, [s.minutes or 1 for s in sections])
        for section, minutes in zip(sections, new_minutes):
            section.minutes = minutes
        for part in outline.parts:
            part.minutes = sum(s.minutes for s in part.sections)
        return f"{LABEL}\n" + format_course_outline(outline)


def _books(context: str) -> list[tuple[str, str]]:
    return [(m.group(1), m.group(2)) for line in context.splitlines() if (m := _BOOK_LINE.match(line.strip()))]


def _topic_pool(context: str) -> list[tuple[str, str]]:
    """The key topics of the books close to the best match, interleaved foundational-first:
    topic 1 of every book, then topic 2 of every book, ... Duplicates (case-insensitive) are dropped."""
    per_book: list[tuple[str, list[str]]] = []
    relevance: list[float] = []
    for line in context.splitlines():
        line = line.strip()
        if match := _BOOK_LINE.match(line):
            per_book.append((match.group(1), [match.group(2)]))  # the title stands in if no topics follow
            relevance.append(1.0)
        elif (match := _TOPICS_LINE.match(line)) and per_book:
            per_book[-1] = (per_book[-1][0], [t.strip() for t in match.group(1).split(";") if t.strip()])
        elif (match := _RELEVANCE_LINE.match(line)) and per_book:
            relevance[-1] = float(match.group(1))
    if relevance:
        best = max(relevance)
        per_book = [book for book, score in zip(per_book, relevance) if score >= best - CLOSE_TO_BEST * abs(best)]
    pool: list[tuple[str, str]] = []
    seen: set[str] = set()
    for depth in range(max((len(t) for _, t in per_book), default=0)):
        for book, topics in per_book:
            if depth < len(topics) and topics[depth].lower() not in seen:
                seen.add(topics[depth].lower())
                pool.append((topics[depth], book))
    return pool


def _covers_of_this_part(plan: str) -> list[tuple[str, str]]:
    lines = plan.splitlines()
    for i, line in enumerate(lines):
        if _THIS_PART.match(line.strip()) and i + 1 < len(lines) and (m := _COVERS.match(lines[i + 1].strip())):
            covered = []
            for item in m.group(1).split(";"):
                citation = _CITATION.search(item)
                topic = _CITATION.sub("", item).strip()
                if topic:
                    covered.append((topic, citation.group(1) if citation else ""))
            return covered
    return []


def _split_minutes(total: int, weights: Sequence[float]) -> list[int]:
    """Split total into multiples of 5 in proportion to weights (largest remainder), adding up
    exactly; a total that is not a multiple of 5 leaves its remainder on the last item. Every item
    gets 5 minutes when there are enough; when there are not, the least weighted get 0."""
    units, rest = divmod(total, 5)
    scale = units / sum(weights)
    raw = [w * scale for w in weights]
    floor = 1 if units >= len(weights) else 0
    shares = [max(floor, math.floor(r)) for r in raw]
    by_remainder = sorted(range(len(raw)), key=lambda i: raw[i] - math.floor(raw[i]), reverse=True)
    i = 0
    while sum(shares) < units:
        shares[by_remainder[i % len(shares)]] += 1
        i += 1
    while sum(shares) > units:
        shares[shares.index(max(shares))] -= 1
    minutes = [5 * s for s in shares]
    minutes[-1] += rest
    return minutes


def _course_title(query: str) -> str:
    subject = re.sub(r"^(?:i want to |please )?(?:learn(?:ing)?|teach me|study|intro(?:duction)? to)\s+", "", query.strip(), flags=re.I)
    return _sentence_case(subject.rstrip(".?!")) or "Course"


def _sentence_case(text: str) -> str:
    return text[:1].upper() + text[1:] if text else text


class SimulatedLatencyLlm:
    """The offline planner answering with a model's latency: a fixed start plus time per output
    token. Still not an LLM; it exists so load tests and benchmarks wait as they would on one."""

    def __init__(self, first_token_seconds: float, seconds_per_token: float, planner=None, record: bool = False) -> None:
        self.first_token_seconds = first_token_seconds
        self.seconds_per_token = seconds_per_token
        self.planner = planner or OfflinePlanner()
        self.name = f"{OFFLINE_PLANNER_NAME} with simulated model latency"
        self.record = record  # the benchmarks read each call back; a long-running server must not keep them
        self.calls: list[tuple[str, dict, float, LlmReply]] = []  # (prompt, variables, seconds, reply)
        self._lock = threading.Lock()

    def latency(self, reply: LlmReply) -> float:
        return self.first_token_seconds + self.seconds_per_token * reply.output_tokens

    def complete(self, prompt: Prompt) -> LlmReply:
        reply = self.planner.complete(prompt)
        started = time.perf_counter()
        time.sleep(self.latency(reply))
        if self.record:  # the time the call actually took: a sleep can overrun on a busy machine
            with self._lock:
                self.calls.append((prompt.name, prompt.variables, time.perf_counter() - started, reply))
        return reply


class WordLlamaEmbedder:
    """256-dimension static embeddings whose weights ship inside the wordllama wheel."""

    dimension = 256

    def __init__(self, config: str = "l2_supercat") -> None:
        self.config = config
        self.model_id = f"wordllama-{config}-{self.dimension}"

    @cached_property
    def _model(self):
        root = logging.getLogger()
        level, handlers = root.level, list(root.handlers)
        import wordllama
        from wordllama import WordLlama

        # wordllama calls logging.basicConfig(level=INFO) on import, which put every library's
        # INFO lines (botocore's credential lookups) on the CLI's stderr: the application, not a
        # library, decides how it logs.
        root.setLevel(level)
        root.handlers[:] = handlers

        # Its loader looks for the tokenizer under the wrong folder name and then tries the
        # network; pointing cache_dir at the package folder finds both files offline.
        return WordLlama.load(
            config=self.config, dim=self.dimension, cache_dir=os.path.dirname(wordllama.__file__), disable_download=True
        )

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        vectors = self._model.embed(list(texts), norm=True)
        return [[float(x) for x in row] for row in vectors]


__all__ = ["OfflinePlanner", "SimulatedLatencyLlm", "WordLlamaEmbedder", "OFFLINE_PLANNER_NAME"]
