"""The lesson stage (issue 13, items 19 and 20): its wall time against its critical path at each
MaxConcurrency, and what a course costs and carries - tokens, dollars, payloads, history events.

Courses run end to end through the offline runner, with the offline planner and its lesson writer
answering at a simulated model latency (bench/critical_path.py's machinery). The course execution
starts the content stage as an execution of its own; the lesson stage is read from that
execution's history:

- critical path, given MaxConcurrency: the states before the WriteBatches Map and after it, as they
  ran (one after another, nothing there to overlap), plus the Map's batches as measured in this very
  run, each started in Map order on the first free of MaxConcurrency slots - what an ideal scheduler
  of that many slots achieves with these batches (the Map starts its items in order);
- speedup: the sum of the batch durations (the batches one after another, seed 003's sequential
  chain) over the stage's wall time, both from the same run.

`python -m bench.lesson_stage` runs this section alone and prints its tables; `make bench` runs it
with the others and puts it in results/report.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path

from bench.critical_path import FIRST_TOKEN, PER_TOKEN, REAL_SCALE, FixedPartsPlanner, greedy_makespan
from coursegen.adapters.offline import OfflinePlanner, SimulatedLatencyLlm
from coursegen.domain.prompts import Prompt
from coursegen.models import CourseRequest, StoredLesson
from coursegen_local.runner import REGION, LocalRunner

SEED_PARTS, SEED_SECTIONS = 7, 6  # seed 003's course: 7 modules, 42 lessons
SEED_HOURS = 7.0  # ten-minute lessons
BATCH_SIZE = 3  # seed 003's MAX_LESSONS_PER_BATCH
CONCURRENCY_GRID = (1, 2, 4, 8)
# A ten-minute lesson is a real-length answer (~2,000 tokens), some 15 times the planner's outline
# answers; at critical_path's 10 ms a token the grid would run for half an hour on 2 cores, so a
# lesson streams 20 times faster: a batch of three takes a few seconds (seed 003's: 6-7 minutes).
LESSON_FIRST_TOKEN, LESSON_PER_TOKEN = FIRST_TOKEN, PER_TOKEN / 20
LESSON_MAP = "WriteBatches"  # the content stage's Map over batches
BROAD_QUERY = "Learn equity valuation and corporate finance"  # enough topics for a 40-part course
FORTY_PART_HOURS = 60.0  # 90-minute parts, the length the time budget gives a long course's parts
PAYLOAD_LIMIT = 8 * 1024  # issue 13's figure (Step Functions' own cap is 256 KiB)
HISTORY_QUOTA = 25_000  # events per execution, Step Functions' hard quota

_SECTION_LENGTH = re.compile(r"sections of \d+-\d+ minutes")
_SECTION_HEADING = re.compile(r"^### Section ", re.MULTILINE)


class SectionsPerPartPlanner(FixedPartsPlanner):
    """The offline planner asked for exactly `parts` parts of `sections` sections each. It cuts a
    part into sections of its pace's length, so each part's prompt names the length (the nearest to
    part minutes / sections) that gives that many."""

    def __init__(self, parts: int, sections: int) -> None:
        super().__init__(parts)
        self.sections = sections

    def complete(self, prompt: Prompt):
        if prompt.name != "courses.expand_part":
            return super().complete(prompt)
        minutes = int(prompt.variables["part_minutes"])
        for length in sorted(range(1, minutes + 1), key=lambda n: abs(n - minutes / self.sections)):
            profile = _SECTION_LENGTH.sub(f"sections of {length}-{length} minutes", prompt.variables["learner_profile"])
            reply = super().complete(dataclasses.replace(prompt, variables=dict(prompt.variables, learner_profile=profile)))
            if len(_SECTION_HEADING.findall(reply.text)) == self.sections:
                return reply
        raise RuntimeError(f"the offline planner cuts no {minutes}-minute part into {self.sections} sections")


@dataclass
class CourseRun:
    """One course, outline and lessons, as its two executions and its model calls recorded it."""

    label: str
    request: CourseRequest
    max_concurrency: int
    parts: int
    lessons: list[StoredLesson]
    course_history: list[dict]
    content_history: list[dict]
    calls: list[tuple]  # SimulatedLatencyLlm.calls: (prompt name, variables, seconds, reply)
    seconds: float  # the whole run, started to recorded


@dataclass
class StageTiming:
    """The lesson stage of one run: its wall time and the parts of its critical path."""

    max_concurrency: int
    lessons: int
    wall_seconds: float  # the content execution, started to ended
    map_wall_seconds: float  # WriteBatches, entered to exited
    before_map_seconds: float  # the states before WriteBatches (PlanLessons, the batches)
    after_map_seconds: float  # and after it (BuildBook)
    batch_seconds: list[float] = field(default_factory=list)  # each WriteBatches iteration, in Map order

    @property
    def critical_path_seconds(self) -> float:
        return self.before_map_seconds + greedy_makespan(self.batch_seconds, self.max_concurrency) + self.after_map_seconds

    @property
    def sequential_seconds(self) -> float:
        return sum(self.batch_seconds)

    @property
    def ratio(self) -> float:
        return self.wall_seconds / self.critical_path_seconds

    @property
    def speedup(self) -> float:
        return self.sequential_seconds / self.wall_seconds

    @property
    def map_speedup(self) -> float:
        return self.sequential_seconds / self.map_wall_seconds


@dataclass
class CourseUsage:
    """What a course is billed for: the fields bench.critical_path.course_cost reads."""

    transitions: int  # both executions'
    lambda_invocations: int
    llm_seconds: float  # the model time the Lambdas wait on, at real scale
    input_tokens: int
    output_tokens: int


@dataclass
class CourseFigures:
    label: str
    hours: float
    parts: int
    lessons: int
    full_lessons: int
    batches: int
    course_events: int
    content_events: int
    largest_payload_bytes: int
    largest_payload_at: str  # the state (or event) that carried it, and which execution
    model_calls: int
    content_calls: int
    content_input_tokens: int
    content_output_tokens: int
    usage: CourseUsage
    run_seconds: float


@dataclass
class LessonStageResults:
    seed: list[StageTiming]  # the seed's course at each MaxConcurrency
    seed_figures: CourseFigures
    two_hours: CourseFigures  # every lesson in full: tokens and cost
    forty_parts: CourseFigures  # the largest payload
    hundred_hours: CourseFigures  # history events
    quick: bool


def run_course(label: str, request: CourseRequest, adapters: dict, *, planner=None, max_concurrency: int = 2,
               first_token: float = 0.0, per_token: float = 0.0) -> CourseRun:
    """One course through the offline runner, batches of BATCH_SIZE lessons; fails unless the
    course completed with every lesson stored (in full as many as the request asked)."""
    llm = SimulatedLatencyLlm(first_token, per_token, planner=planner or OfflinePlanner(), record=True)
    overrides = {"MaxLessonsPerBatch": str(BATCH_SIZE), "LessonMapMaxConcurrency": str(max_concurrency)}
    with LocalRunner(parameter_overrides=overrides, llm=llm, **adapters) as runner:
        result = runner.run(request, poll_seconds=0.2, timeout_seconds=3600)
        course_history = runner.history(runner.execution_arn(result.course_id))
        content_history = runner.history(_content_execution_arn(runner))
    if result.execution_status != "SUCCEEDED":
        raise RuntimeError(f"{label}: the course did not complete: {result.status}")
    outline = result.course.outline
    lessons = adapters["database"].list_lessons(result.course_id)
    sections = sum(len(part.sections) for part in outline.parts)
    full = sum(lesson.status == "full" for lesson in lessons)
    asked = sections if request.full_lessons_count is None else min(sections, request.full_lessons_count)
    if len(lessons) != sections or full != asked or any(lesson.words <= 0 for lesson in lessons):
        raise RuntimeError(f"{label}: {len(lessons)} lessons stored ({full} in full) for {sections} sections ({asked} asked in full)")
    return CourseRun(label, request, max_concurrency, len(outline.parts), lessons, course_history, content_history,
                     list(llm.calls), result.seconds)


def _content_execution_arn(runner: LocalRunner) -> str:
    """The content stage's execution: a runner runs one course, so its content machine has one."""
    machine = runner.template.state_machine_arn("CourseContentStateMachine", REGION)
    executions = runner.sfn.list_executions(stateMachineArn=machine)["executions"]
    if len(executions) != 1:
        raise RuntimeError(f"expected one content execution, found {len(executions)}")
    return executions[0]["executionArn"]


def stage_timing(run: CourseRun) -> StageTiming:
    history = run.content_history
    map_entered = next(e["timestamp"] for e in history if e["type"] == "MapStateEntered" and _name(e) == LESSON_MAP)
    map_exited = next(e["timestamp"] for e in history if e["type"] == "MapStateExited" and _name(e) == LESSON_MAP)
    started, batches = {}, {}
    for e in history:
        details = e.get("mapIterationStartedEventDetails") or e.get("mapIterationSucceededEventDetails") or {}
        if details.get("name") != LESSON_MAP:
            continue
        if e["type"] == "MapIterationStarted":
            started[details["index"]] = e["timestamp"]
        elif e["type"] == "MapIterationSucceeded":
            batches[details["index"]] = (e["timestamp"] - started[details["index"]]).total_seconds()
    return StageTiming(
        max_concurrency=run.max_concurrency,
        lessons=len(run.lessons),
        wall_seconds=_seconds(history[0]["timestamp"], history[-1]["timestamp"]),
        map_wall_seconds=_seconds(map_entered, map_exited),
        before_map_seconds=_seconds(history[0]["timestamp"], map_entered),
        after_map_seconds=_seconds(map_exited, history[-1]["timestamp"]),
        batch_seconds=[batches[i] for i in sorted(batches)],
    )


def course_figures(run: CourseRun) -> CourseFigures:
    histories = {"course": run.course_history, "content": run.content_history}
    size, execution, event_id = max((_payload(e), execution, e["id"]) for execution, history in histories.items() for e in history)
    at = f"{_state_of(event_id, histories[execution])}, {execution} execution"
    content_calls = [call for call in run.calls if not _outline_prompt(call[0])]
    events = [e for history in histories.values() for e in history]
    usage = CourseUsage(
        transitions=sum(e["type"].endswith("StateEntered") for e in events),
        lambda_invocations=sum(e["type"] == "TaskScheduled" and e["taskScheduledEventDetails"]["resourceType"] == "lambda"
                               for e in events),
        llm_seconds=billed_model_seconds(run.calls),
        input_tokens=sum(reply.input_tokens for *_, reply in run.calls),
        output_tokens=sum(reply.output_tokens for *_, reply in run.calls),
    )
    return CourseFigures(
        label=run.label, hours=run.request.hours, parts=run.parts, lessons=len(run.lessons),
        full_lessons=sum(lesson.status == "full" for lesson in run.lessons),
        batches=sum(e["type"] == "MapIterationStarted" and _name(e) == LESSON_MAP for e in run.content_history),
        course_events=len(run.course_history), content_events=len(run.content_history),
        largest_payload_bytes=size, largest_payload_at=at,
        model_calls=len(run.calls),
        content_calls=len(content_calls),
        content_input_tokens=sum(reply.input_tokens for *_, reply in content_calls),
        content_output_tokens=sum(reply.output_tokens for *_, reply in content_calls),
        usage=usage,
        run_seconds=run.seconds,
    )


def billed_model_seconds(calls: list[tuple]) -> float:
    """The model time the Lambdas are billed for waiting on, at a real model's speed (critical_path's
    latency: FIRST_TOKEN + PER_TOKEN a token). An outline answer from a real model is REAL_SCALE
    times the planner's; a lesson is already written to its full length."""
    return sum((FIRST_TOKEN + PER_TOKEN * reply.output_tokens) * (REAL_SCALE if _outline_prompt(name) else 1)
               for name, _, _, reply in calls)


def _outline_prompt(name: str) -> bool:
    return name.startswith("courses.")


def _name(event: dict) -> str:
    """The state a history event names, if it names one."""
    for key, details in event.items():
        if key.endswith("EventDetails") and isinstance(details, dict) and isinstance(details.get("name"), str):
            return details["name"]
    return ""


def _state_of(event_id: int, history: list[dict]) -> str:
    """The state a history event belongs to: the nearest state entered on its chain of previous events."""
    by_id = {e["id"]: e for e in history}
    event = by_id.get(event_id)
    while event is not None:
        if event["type"].endswith("StateEntered"):
            return _name(event)
        event = by_id.get(event.get("previousEventId"))
    return "the execution"


def _payload(event: dict) -> int:
    """Bytes of the input or output a history event carries (what the 8 KB figure is about)."""
    sizes = [len(details[key].encode()) for name, details in event.items()
             if name.endswith("EventDetails") and isinstance(details, dict)
             for key in ("input", "output") if isinstance(details.get(key), str)]
    return max(sizes, default=0)


def _seconds(first, last) -> float:
    return (last - first).total_seconds()


def measure(adapters: dict, quick: bool = False) -> LessonStageResults:
    """Every run of this section, each lesson written in full. quick: small courses, to check the
    harness, not the figures."""
    parts, sections = (2, 3) if quick else (SEED_PARTS, SEED_SECTIONS)
    grid = (1, 2) if quick else CONCURRENCY_GRID
    simulated = {"first_token": LESSON_FIRST_TOKEN, "per_token": LESSON_PER_TOKEN}
    run_course("warm-up", CourseRequest(query="Learn DCF valuation", hours=0.5), adapters)  # imports, handlers, pool
    seed = CourseRequest(query="Learn DCF valuation", hours=SEED_HOURS * parts * sections / (SEED_PARTS * SEED_SECTIONS))
    seed_runs = [run_course(f"seed course, MaxConcurrency {m}", seed, adapters, planner=SectionsPerPartPlanner(parts, sections),
                            max_concurrency=m, **simulated) for m in grid]
    hours = 1.0 if quick else 2.0
    two_hours = run_course(f"{hours:g}-hour course", CourseRequest(query="Learn DCF valuation", hours=hours), adapters, **simulated)
    # The large courses at no simulated latency: their figures are sizes and counts, not times.
    many = 6 if quick else 40
    forty_parts = run_course(f"{many}-part course", CourseRequest(query=BROAD_QUERY, hours=FORTY_PART_HOURS * many / 40),
                             adapters, planner=FixedPartsPlanner(many))
    hours = 10.0 if quick else 100.0
    hundred_hours = run_course(f"{hours:g}-hour course", CourseRequest(query=BROAD_QUERY, hours=hours), adapters)
    return LessonStageResults(
        seed=[stage_timing(run) for run in seed_runs],
        seed_figures=course_figures(seed_runs[-1]),
        two_hours=course_figures(two_hours),
        forty_parts=course_figures(forty_parts),
        hundred_hours=course_figures(hundred_hours),
        quick=quick,
    )


def main() -> int:
    from bench import report
    from bench.__main__ import RESULTS, shared_adapters

    parser = argparse.ArgumentParser(prog="python -m bench.lesson_stage", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small courses: checks the harness, not the figures")
    parser.add_argument("--out", type=Path, default=RESULTS, metavar="DIR", help=f"where the section and its plot go (default {RESULTS.name}/)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    adapters = shared_adapters()
    try:
        results = measure(adapters, quick=args.quick)
    finally:
        adapters["database"].close()
    report.plot_lesson_stage(results, args.out / "lesson_stage.png")
    text = "\n".join(report.lesson_stage_section(results)) + "\n"
    (args.out / "lesson_stage.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
