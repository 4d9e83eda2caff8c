"""Calibrates the grounding gate (SEARCH_MIN_SIMILARITY) from data.

Measures the best-match similarity of on-topic queries (several per subject of the sample
library, phrased as users ask) and off-topic queries (subjects the library lacks, and gibberish)
through the product's own search path: the query's subject (coursegen.domain.grounding), the
configured embedder, and the repository's search method over the sample library imported by
the product's import. Writes the table, the chosen threshold and the rule that chose it to
docs/grounding-calibration.md.

    .venv/bin/python -m bench.calibrate_grounding [--out docs/grounding-calibration.md]
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from coursegen.domain.grounding import course_subject

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_LIBRARY = ROOT / "data" / "books" / "sample_library.jsonl"
DOC = ROOT / "docs" / "grounding-calibration.md"
COMMAND = ".venv/bin/python -m bench.calibrate_grounding"

# Written before measuring, as a user would ask: each subject of the sample library by its name,
# by a topic, and as a beginner's request.
ON_TOPIC: dict[str, list[str]] = {
    "finance": ["Learn DCF valuation", "How to value a company", "Corporate finance for beginners",
                "Build an LBO model", "Portfolio theory and risk", "Learn about stock market investing"],
    "accounting": ["Learn accounting", "Introduction to accounting", "Bookkeeping basics: debits and credits",
                   "Understand the cash flow statement", "Managerial accounting", "Auditing basics"],
    "data-science": ["Learn data science", "Statistics for data analysis", "Machine learning basics",
                     "SQL for analysts", "A/B testing", "Time series forecasting"],
    "software-engineering": ["Learn software engineering", "Designing serverless applications", "Software testing",
                             "Distributed systems", "API design", "How databases work"],
    "psychology": ["Learn psychology", "How to study effectively", "Building better habits",
                   "Cognitive biases and decision making", "How memory works", "Motivation and goal setting"],
    "marketing": ["Learn marketing", "Marketing strategy", "Pricing strategy", "Brand building",
                  "SEO and content marketing", "Customer retention and lifetime value"],
    "history": ["History of money and banking", "The Industrial Revolution", "Financial crises in history",
                "Economic history"],
    "culinary": ["Learn to cook", "Cooking fundamentals", "How to bake sourdough bread", "Sauces and seasoning"],
}

# Subjects the library has no book on (music, languages, sport, crafts, sciences, other history)
# and text that is no subject at all.
OFF_TOPIC: list[str] = [
    "asdf qwer zxcv", "lorem ipsum dolor sit amet", "xkcd blorp fnord", "quantum knitting for cats",
    "Learn to play the violin", "Learn guitar chords", "Piano for beginners",
    "Learn Spanish", "Japanese for travellers",
    "Gardening for beginners", "Knitting sweaters", "Oil painting techniques", "Learn to draw portraits",
    "Photography basics", "History of the Roman Empire", "Ancient Egypt and the pharaohs", "Poetry writing",
    "Astronomy for beginners", "Quantum physics", "Organic chemistry", "Human anatomy",
    "Car maintenance and repair", "Home plumbing repairs", "How to play chess", "Yoga and meditation",
    "Marathon training plan", "Learn to swim", "Dog training", "Skiing for beginners", "Birdwatching",
]


@dataclass(frozen=True)
class Measurement:
    query: str
    subject: str  # the library subject it asks for; "" off topic
    searched: str  # what is embedded: the query's subject
    best_book: str
    best: float  # best-match cosine similarity through the product's path
    raw_best: float  # the same with the query embedded whole (the path before this calibration)

    @property
    def on_topic(self) -> bool:
        return bool(self.subject)


def measure(repository, embedder, top_k: int = 8) -> list[Measurement]:
    """Every calibration query, through the repository's own search (no similarity floor)."""
    queries = [(q, subject) for subject, qs in ON_TOPIC.items() for q in qs] + [(q, "") for q in OFF_TOPIC]
    searched = [course_subject(q) for q, _ in queries]
    vectors = embedder.embed(searched)
    raw_vectors = embedder.embed([q for q, _ in queries])
    rows = []
    for (query, subject), text, vector, raw in zip(queries, searched, vectors, raw_vectors, strict=True):
        [best, *_] = repository.search(vector, top_k, -1.0, model_id=embedder.model_id)
        [raw_best, *_] = repository.search(raw, top_k, -1.0, model_id=embedder.model_id)
        rows.append(Measurement(query, subject, text, best.book_id, round(best.similarity, 3), round(raw_best.similarity, 3)))
    return rows


def choose_threshold(rows: Sequence[Measurement], *, raw: bool = False) -> tuple[float, str]:
    """The midpoint of the gap between the highest off-topic and the lowest on-topic best match
    (rounded to 0.01); if they overlap, the midpoint that misclassifies the fewest queries."""
    value = (lambda r: r.raw_best) if raw else (lambda r: r.best)
    on = sorted(value(r) for r in rows if r.on_topic)
    off = sorted(value(r) for r in rows if not r.on_topic)
    if off[-1] < on[0]:
        threshold = round((off[-1] + on[0]) / 2, 2)
        return threshold, (f"midpoint of the gap between the highest off-topic best match ({off[-1]:.3f}) "
                           f"and the lowest on-topic one ({on[0]:.3f}), rounded to 0.01")
    values = sorted(set(on + off))
    candidates = [round((a + b) / 2, 3) for a, b in zip(values, values[1:])]
    threshold = min(candidates, key=lambda t: (_errors(on, off, t), t))
    return threshold, (f"the off-topic and on-topic best matches overlap ({off[-1]:.3f} off-topic against "
                       f"{on[0]:.3f} on-topic); the midpoint that misclassifies the fewest queries "
                       f"({_errors(on, off, threshold)})")


def _errors(on: Sequence[float], off: Sequence[float], threshold: float) -> int:
    return sum(v < threshold for v in on) + sum(v >= threshold for v in off)


def write_doc(rows: Sequence[Measurement], model_id: str) -> str:
    """The calibration document: pure, so a test can rewrite it from a measurement and compare."""
    threshold, rule = choose_threshold(rows)
    raw_threshold, raw_rule = choose_threshold(rows, raw=True)
    on = [r for r in rows if r.on_topic]
    off = [r for r in rows if not r.on_topic]
    raw_wrong = [r for r in rows if (r.raw_best >= raw_threshold) != r.on_topic]
    old_gate_passed = [r for r in off if r.raw_best >= 0.2]
    lines = [
        "# Grounding calibration",
        "",
        f"Written by `{COMMAND}` (`make calibrate`); do not edit by hand.",
        "",
        f"Embedder `{model_id}`; library `data/books/sample_library.jsonl`, imported by the product's import; "
        "each query searched by the repository's own search method, the best match's cosine similarity kept. "
        f"{len(on)} on-topic queries (every subject of the library) and {len(off)} off-topic ones "
        "(subjects the library has no book on, and gibberish); the hardest ones found while drafting the sets "
        "are kept in them.",
        "",
        f"**Threshold: {threshold:.2f}** (`SEARCH_MIN_SIMILARITY`): {rule}.",
        "",
        "## Why the query is searched by its subject",
        "",
        "WordLlama embeds a text as the weighted average of its tokens, so a request's framing "
        "(\"Learn ...\", \"How to ...\", \"... for beginners\") weighs as much as its subject and pulls every "
        "\"Learn X\" towards the book on learning strategies. Embedded whole (the path before this "
        f"calibration), {len(old_gate_passed)} of the {len(off)} off-topic queries passed the old 0.2 gate, "
        f"and no threshold separates the two sets: the best, {raw_threshold:.3f}, still misclassifies "
        f"{len(raw_wrong)} ({raw_rule}). "
        "The product therefore embeds the query's subject (`coursegen.domain.grounding.course_subject` strips "
        "the framing) - the column *searched as* below - which is what the threshold is chosen on.",
        "",
        "## Measurements",
        "",
        "| query | asks for | searched as | best match | similarity | whole query | verdict |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in sorted(rows, key=lambda r: (not r.on_topic, -r.best)):
        verdict = "accepted" if r.best >= threshold else "refused"
        wrong = "" if (r.best >= threshold) == r.on_topic else " (wrong)"
        lines.append(f"| {r.query} | {r.subject or 'off topic'} | {r.searched} | {r.best_book} | {r.best:.3f} | "
                     f"{r.raw_best:.3f} | {verdict}{wrong} |")
    lowest_on = min(on, key=lambda r: r.best)
    highest_off = max(off, key=lambda r: r.best)
    lines += [
        "",
        "## Reading it",
        "",
        f"- Lowest on-topic: \"{lowest_on.query}\" at {lowest_on.best:.3f}; highest off-topic: "
        f"\"{highest_off.query}\" at {highest_off.best:.3f} (margin {lowest_on.best - highest_off.best:+.3f}).",
        "- The measurement is of this library and this embedder. A query phrased unlike these, a library of "
        "other subjects, or another embedder (Titan, an OpenAI-compatible model: their similarities run on "
        "other scales) needs its own calibration: re-run the command and set `SEARCH_MIN_SIMILARITY`.",
        "- A lexical embedder matches words, not meaning: an off-topic query that shares a library word "
        "(\"history\", \"cooking\") scores close to the gate; the margin above is what protects it.",
        "",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DOC)
    args = parser.parse_args(argv)

    from coursegen.adapters.postgres import PostgresRepository, migrate
    from coursegen.bootstrap import Container
    from coursegen.config import Settings
    from coursegen.services.library import import_library
    from coursegen_local.database import embedded_database_url

    settings = Settings.from_env()
    embedder = Container(settings).embedder  # the configured embedder (WordLlama offline)
    with tempfile.TemporaryDirectory() as folder:  # the sample library alone, not the user's
        url = embedded_database_url(Path(folder))
        migrate(url, embedder.dimension)
        repository = PostgresRepository(url, ef_search=settings.search_ef_search).open()
        try:
            import_library(SAMPLE_LIBRARY.read_text().splitlines(), embedder, repository)
            rows = measure(repository, embedder, settings.search_top_k)
        finally:
            repository.close()
    args.out.write_text(write_doc(rows, embedder.model_id))
    threshold, rule = choose_threshold(rows)
    print(f"{len(rows)} queries measured; threshold {threshold:.2f} ({rule}); wrote {args.out}")
    if threshold != settings.search_min_similarity:
        print(f"SEARCH_MIN_SIMILARITY is {settings.search_min_similarity}: set the defaults to {threshold:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
