"""The offline writer's assessment half: the course quiz and the landing page's words. Not an LLM.

Like the lesson half it invents nothing. A question is a sentence of the lesson it assesses, as
the quiz prompt quotes it: a multiple choice blanks one of the sentence's key terms (a word it
shares with the objective, else its rarest) and offers three terms of other lessons beside it; a
true/false quotes the sentence as written, or with that term swapped for another lesson's. The
landing copy restates the course's title, parts and objectives. Every explanation, and the
landing page's subtitle, says who wrote it.
"""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from types import SimpleNamespace

from coursegen.domain.lessons import markdown_tokens, section_texts
from coursegen.domain.prompts import NOT_STATED
from coursegen.domain.quiz import QuizObjective, answer_in_stem, question_problems

QUIZ_NOTE = "(Written by the offline writer from the lesson's own words, not an LLM.)"
LANDING_NOTE = "written by the offline writer (not an LLM)"
TRUE_FALSE = ["True", "False"]
BLANK = "_____"
MAX_SENTENCE_CHARS = 280  # a quoted sentence, its framing and the note stay inside the stem's 400
TRUE_FALSE_EVERY = 4  # every fourth question is a true/false: most are multiple choice
MAX_OUTCOMES = 6

_LESSON_HEADER = re.compile(r"^\[Lesson (\S+): (.*)\]\s*$", re.MULTILINE)
_OBJECTIVES_LESSON = re.compile(r"^Lesson (\S+): (.*)$")
_OBJECTIVE_LINE = re.compile(r"^\s*-\s*\[([^\]]+)\]\s*(.+?)\s*$")
_SYLLABUS_LINE = re.compile(r"^Part \d+: (.+?) \(\d+ minutes\)\s*$")
_AUDIENCE_LINE = re.compile(r"^Audience:\s*(.*)$", re.MULTILINE)
_LANGUAGE_CODE = re.compile(r"code is '([a-z]{2})'")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(“])")
_CITATION = re.compile(r"\s*\[[^\]]*\]")
_TERM = re.compile(r"[A-Za-z]{5,}")
# Words too general to ask about (the summaries' own framing among them).
_GENERAL = frozenset("""
about above after again against along among another author based because before being below between both
chapter chapters covered covers describes during each either every explains first follows followed
further guidance however include includes including introduces itself later never other others rather
second shows since still their there these those third three through under until using where whether
which while within without would could should might makes making often""".split())


@dataclass(frozen=True)
class _Sentence:
    lesson: str  # its lesson's number
    text: str


def _words(text: str) -> list[str]:
    """The words worth asking about: five letters or more, not general, not capitalised (a name or
    a sentence's first word; an acronym such as NOPAT is kept)."""
    return [w for w in _TERM.findall(text) if w.lower() not in _GENERAL and not (w[0].isupper() and w[1:].islower())]


def _form(word: str) -> str:
    """A word's form, roughly its part of speech: a distractor of the answer's form reads as plausible."""
    if word.isupper():
        return "acronym"
    return next((end for end in ("ing", "ed", "ly") if word.endswith(end)), "s" if word.endswith("s") and not word.endswith("ss") else "")


def _stems(text: str) -> set[str]:
    return {w.lower()[:5] for w in _words(text)}


def _language(learner_profile: str) -> str:
    match = _LANGUAGE_CODE.search(learner_profile)
    return match.group(1) if match else "en"


# --- the quiz ------------------------------------------------------------------------------------


def _quiz_objectives(text: str) -> list[QuizObjective]:
    """The prompt's objectives, by the 'Lesson 2.1: <title>' line they follow."""
    objectives, number, title = [], "", ""
    for line in str(text).splitlines():
        if match := _OBJECTIVES_LESSON.match(line):
            number, title = match.group(1), match.group(2)
        elif match := _OBJECTIVE_LINE.match(line):
            objectives.append(QuizObjective(match.group(1), match.group(2), "", number, title))
    return objectives


def _lesson_sentences(text: str) -> dict[str, list[str]]:
    """Each lesson's statements, as the prompt quotes it: whole sentences of its text under its
    headings (not its note), markup and citations removed, none a question, none quoting another
    text (the lesson's framing of its own objectives) and none about the lesson itself."""
    blocks = _LESSON_HEADER.split(str(text))
    sentences: dict[str, list[str]] = {}
    for number, body in zip(blocks[1::3], blocks[3::3]):
        tokens = markdown_tokens(body)
        under_heading = False
        found: list[str] = []
        for i, token in enumerate(tokens):
            if token.type == "heading_open":
                under_heading = True
            if token.type != "inline" or not under_heading or tokens[i - 1].type == "heading_open":
                continue
            for piece in section_texts([token]):
                for sentence in _SENTENCE_END.split(_CITATION.sub("", " ".join(piece.split()))):
                    sentence = sentence.strip()
                    if (len(sentence.split()) >= 6 and len(sentence) <= MAX_SENTENCE_CHARS and sentence.endswith(".")
                            and not any(mark in sentence for mark in ("?", "“", "”", "…", BLANK))
                            and not sentence.startswith("This lesson") and "offline writer" not in sentence
                            and sentence not in found):
                        found.append(sentence)
        sentences[number] = found
    return sentences


def _assessed(objectives: list[QuizObjective], count: int) -> list[QuizObjective]:
    """The objective of each question, in course order: every objective (then again, from the
    first) when there are enough questions; otherwise each lesson's first objective, then the
    others in order, none twice (the coverage parse_quiz asks for)."""
    if count >= len(objectives):
        chosen = [i % len(objectives) for i in range(count)]
    else:
        firsts: dict[str, int] = {}
        for i, objective in enumerate(objectives):
            firsts.setdefault(objective.lesson_number, i)
        rest = [i for i in range(len(objectives)) if i not in firsts.values()]
        chosen = (list(firsts.values()) + rest)[:count]
    return [objectives[i] for i in sorted(chosen)]


class _QuizWriter:
    def __init__(self, objectives: list[QuizObjective], sentences: dict[str, list[str]], note: str) -> None:
        self.known = {o.objective_id: o for o in objectives}
        self.sentences = [_Sentence(number, s) for number, texts in sentences.items() for s in texts]
        self.note = note
        # how many sentences use a word: a rare one is a key term, a common one says little
        self.frequency: dict[str, int] = {}
        for sentence in self.sentences:
            for stem in _stems(sentence.text):
                self.frequency[stem] = self.frequency.get(stem, 0) + 1
        self.stems: set[str] = set()
        self.used: set[str] = set()
        self.blanked: set[tuple[str, str]] = set()  # (sentence, term): lessons quoting one summary share sentences
        self.true_false = 0

    def question(self, number: int, objective: QuizObjective) -> dict:
        kinds = ["true_false", "multiple_choice"] if number % TRUE_FALSE_EVERY == 0 else ["multiple_choice", "true_false"]
        for sentence in self._ranked(objective):
            for kind in kinds:
                built = (self._multiple_choice if kind == "multiple_choice" else self._true_false)(number, objective, sentence)
                if built and self._fits(number, built):
                    self.used.add(sentence.text)
                    self.true_false += kind == "true_false"
                    return self._keep(built)
        return self._keep(self._about_the_objective(number, objective))

    def _keep(self, question: dict) -> dict:
        self.stems.add(question["stem"].casefold())
        return question

    def _fits(self, number: int, question: dict) -> bool:
        """The question passes parse_quiz's own checks, and asks what no earlier one asked."""
        return (question["stem"].casefold() not in self.stems
                and not question_problems(number, SimpleNamespace(**question), self.known))

    def _ranked(self, objective: QuizObjective) -> list[_Sentence]:
        """The objective's lesson's sentences, those sharing its rarer words first, an unused one
        before a used one; then, if the lesson has none, every other lesson's."""
        wanted = _stems(f"{objective.text} {objective.lesson_title}")
        own = [s for s in self.sentences if s.lesson == objective.lesson_number] or self.sentences

        def score(sentence: _Sentence) -> float:
            return sum(1 / self.frequency[stem] for stem in wanted & _stems(sentence.text))

        return sorted(own, key=lambda s: (s.text in self.used, -score(s)))

    def _key_terms(self, objective: QuizObjective, sentence: _Sentence) -> list[str]:
        """The sentence's words worth asking about: those of the objective first, then the rarest."""
        wanted = _stems(objective.text)
        words = list(dict.fromkeys(_words(sentence.text)))
        return sorted(words, key=lambda w: (w.lower()[:5] not in wanted, self.frequency.get(w.lower()[:5], 0), -len(w)))

    def _other_terms(self, answer: str, sentence: _Sentence, count: int) -> list[str]:
        """`count` terms of other lessons (of the same one when there is no other) that the
        sentence does not use, of the answer's form where there are enough, chosen by a hash of
        the answer so questions differ."""
        taken = _stems(sentence.text) | {answer.lower()[:5]}
        others = [s for s in self.sentences if s.lesson != sentence.lesson] or [s for s in self.sentences if s != sentence]
        pool = list(dict.fromkeys(w for s in others for w in _words(s.text) if w.lower()[:5] not in taken))
        pool.sort(key=lambda w: (_form(w) != _form(answer), zlib.crc32(f"{answer.lower()}/{w.lower()}".encode())))
        chosen: list[str] = []
        for word in pool:
            if word.lower()[:5] not in {c.lower()[:5] for c in chosen}:
                chosen.append(word)
            if len(chosen) == count:
                return chosen
        return []

    def _multiple_choice(self, number: int, objective: QuizObjective, sentence: _Sentence) -> dict | None:
        for term in [t for t in self._key_terms(objective, sentence) if (sentence.text, t.lower()) not in self.blanked][:3]:
            blanked = re.sub(rf"(?<![^\W_]){re.escape(term)}(?![^\W_])", BLANK, sentence.text, flags=re.IGNORECASE)
            stem = f"Which term fills the blank in this statement from Lesson {sentence.lesson}? \u201c{blanked}\u201d"
            distractors = self._other_terms(term, sentence, 3)
            if not distractors or answer_in_stem(stem, term):
                continue
            correct = number % 4
            built = {"kind": "multiple_choice", "stem": stem, "options": distractors[:correct] + [term] + distractors[correct:],
                     "correct_index": correct,
                     "explanation": f"Lesson {sentence.lesson} says: \u201c{sentence.text}\u201d {self.note}",
                     "objective_id": objective.objective_id}
            if self._fits(number, built):
                self.blanked.add((sentence.text, term.lower()))
                return built
        return None

    def _true_false(self, number: int, objective: QuizObjective, sentence: _Sentence) -> dict | None:
        said = f"Lesson {sentence.lesson} says: \u201c{{}}\u201d"
        if self.true_false % 2 == 0:  # alternately a true statement and a false one
            return {"kind": "true_false", "stem": said.format(sentence.text), "options": TRUE_FALSE, "correct_index": 0,
                    "explanation": f"True: these are the lesson's own words. {self.note}",
                    "objective_id": objective.objective_id}
        for term in self._key_terms(objective, sentence)[:3]:
            swap = self._other_terms(term, sentence, 1)
            if not swap:
                continue
            changed = re.sub(rf"(?<![^\W_]){re.escape(term)}(?![^\W_])", swap[0], sentence.text, flags=re.IGNORECASE)
            return {"kind": "true_false", "stem": said.format(changed), "options": TRUE_FALSE, "correct_index": 1,
                    "explanation": f"False: the lesson says \u201c{term}\u201d, not \u201c{swap[0]}\u201d: "
                                   f"\u201c{sentence.text}\u201d {self.note}",
                    "objective_id": objective.objective_id}
        return None

    def _about_the_objective(self, number: int, objective: QuizObjective) -> dict:
        """A lesson with no sentence to quote: a true/false on what it sets out to teach."""
        stem = f"Lesson {objective.lesson_number} sets out to: \u201c{objective.text}\u201d."
        if stem.casefold() in self.stems:
            stem = f"Question {number}: Lesson {objective.lesson_number} sets out to: \u201c{objective.text}\u201d."
        return {"kind": "true_false", "stem": stem, "options": TRUE_FALSE, "correct_index": 0,
                "explanation": f"True: it is one of the lesson's objectives. {self.note}",
                "objective_id": objective.objective_id}


def write_quiz(v: dict) -> str:
    """quiz.generate's answer: question_count questions, each from its objective's lesson."""
    objectives = _quiz_objectives(v["objectives"])
    note = QUIZ_NOTE
    language = v.get("language") or _language(v.get("learner_profile", ""))
    if language != "en":
        note = f"{note[:-2]}; it writes English only, the course was asked for in '{language}'.)"
    if not objectives:
        return json.dumps({"questions": []})
    writer = _QuizWriter(objectives, _lesson_sentences(v["lessons"]), note)
    questions = [writer.question(n, objective)
                 for n, objective in enumerate(_assessed(objectives, int(v["question_count"])), start=1)]
    return json.dumps({"questions": questions}, ensure_ascii=False, indent=1)


# --- the landing page's words --------------------------------------------------------------------


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0].rstrip(" ,;:") + "…"


def _spread(items: Sequence[str], limit: int) -> list[str]:
    """At most `limit` items, evenly across the list, each the middle of its stretch (a course's
    objectives from start to end, not its opening overview's)."""
    return list(items) if len(items) <= limit else [items[(2 * i + 1) * len(items) // (2 * limit)] for i in range(limit)]


def write_landing_copy(v: dict) -> str:
    """landing.write_copy's answer: the title as the headline, the route from the first part to the
    last as the subtitle (which says who wrote it), objectives as the outcomes."""
    title = " ".join(str(v["course_title"]).split()) or "This course"
    parts = [m.group(1) for line in str(v["syllabus"]).splitlines() if (m := _SYLLABUS_LINE.match(line.strip()))]
    objectives = [line.strip()[2:].strip() for line in str(v["objectives"]).splitlines() if line.strip().startswith("- ")]
    audience_line = _AUDIENCE_LINE.search(str(v.get("learner_profile", "")))
    audience = audience_line.group(1).strip() if audience_line else ""
    audience = "" if audience.startswith(NOT_STATED) else audience
    language = v.get("language") or _language(v.get("learner_profile", ""))

    note = LANDING_NOTE + ("" if language == "en" else f", in English only (asked for '{language}')")
    route = f"From {parts[0]} to {parts[-1]}" if len(parts) > 1 else (f"On {parts[0]}" if parts else f"On {title}")
    route = _clip(f"{route}, grounded in the books of its library", 240 - len(note) - 4)
    outcomes = list(dict.fromkeys(_clip(text, 160) for text in _spread(objectives, MAX_OUTCOMES)))
    for fallback in [f"Work through \u201c{part}\u201d" for part in parts] + [
            f"Explain the key ideas of {title}", "Follow each idea back to its source", "Check what you have learned"]:
        if len(outcomes) >= 3:
            break
        if _clip(fallback, 160) not in outcomes:
            outcomes.append(_clip(fallback, 160))
    who = audience or "adults new to the subject"
    copy = {
        "headline": _clip(title, 120),
        "subtitle": f"{route} \u2014 {note}.",
        "outcomes": outcomes,
        "audience": _clip(f"For {who} who want a structured route through {title}, one part at a time.", 400),
        "call_to_action": "Start the course",
    }
    return json.dumps(copy, ensure_ascii=False)
