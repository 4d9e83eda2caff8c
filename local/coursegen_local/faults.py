"""Fault injection for the offline runner, in the spirit of Step Functions Local's MockConfigFile:
per step and per attempt, raise an error instead of running, run and then fail (a Lambda killed
after its side effects), run and answer something else (a malformed answer), or act on the world
first (delete an S3 object, hang, stop the execution).

FAULT_CASES are the named cases the fault matrix runs (tests/workflow/test_fault_matrix.py) and
`coursegen generate --fault NAME` accepts. Each says what the user must get.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from coursegen.adapters.offline import OfflinePlanner
from coursegen.domain.prompts import Prompt
from coursegen.ports import LlmReply


@dataclass
class Fault:
    """Make a step fail. `step` is an ASL Lambda state ("ExpandPart") or "DynamoDB" for the state
    machine's own DynamoDB tasks; `times` matching calls fail (-1: every one)."""

    step: str
    error: str  # the error name the state machine sees, e.g. "LlmThrottled"
    message: str = "injected fault"
    times: int = 1
    when: Callable[[dict], bool] | None = None  # only calls whose payload (or parameters) match
    after_running: bool = False  # run the real step first, then fail: a Lambda killed mid-run
    before: Callable[[Any, dict], None] | None = None  # do this to the world (runner, payload), then run the step
    rewrite: Callable[[dict], dict] | None = None  # run the step, then answer this instead of its answer

    def takes(self, step: str, payload: dict) -> bool:
        if step != self.step or self.times == 0 or (self.when and not self.when(payload)):
            return False
        if self.times > 0:
            self.times -= 1
        return True


class UnparseableLlm:
    """Answers one prompt with prose instead of the asked format, `times` times (-1: always),
    then lets the offline planner answer."""

    def __init__(self, prompt_name: str, times: int) -> None:
        self.prompt_name = prompt_name
        self.times = times
        self.planner = OfflinePlanner()
        self.name = f"{self.planner.name}, with unparseable answers injected"
        self._lock = threading.Lock()

    def complete(self, prompt: Prompt) -> LlmReply:
        with self._lock:
            garble = prompt.name == self.prompt_name and self.times != 0
            if garble and self.times > 0:
                self.times -= 1
        if garble:
            return LlmReply("What a wonderful topic! I'd be glad to help you learn it step by step.", 10, 20)
        return self.planner.complete(prompt)


def _part(index: int) -> Callable[[dict], bool]:
    return lambda payload: payload.get("part_index") == index


class UnreachableLlm:
    """Raises LlmUnavailable for every prompt `prompt_name` whose variables match `when` (as a
    provider that stays down while those prompts are asked), and lets the offline planner answer
    the others. Raised inside the step, so the step's own error handling is what is tested."""

    def __init__(self, prompt_name: str, when: Callable[[dict], bool]) -> None:
        self.prompt_name = prompt_name
        self.when = when
        self.planner = OfflinePlanner()
        self.name = f"{self.planner.name}, unreachable for some {prompt_name} prompts"
        self.refused = 0
        self._lock = threading.Lock()

    def complete(self, prompt: Prompt) -> LlmReply:
        if prompt.name == self.prompt_name and self.when(prompt.variables):
            from coursegen.errors import LlmUnavailable

            with self._lock:
                self.refused += 1
            raise LlmUnavailable("model endpoint unreachable")
        return self.planner.complete(prompt)


def _lessons_of_part(number: int) -> Callable[[dict], bool]:
    """A lessons.write_lesson prompt for a lesson of part `number` (1-based: lesson "2.1")."""
    return lambda variables: str(variables.get("lesson_number", "")).startswith(f"{number}.")


def _batch(module_number: int, batch_index: int = 1) -> Callable[[dict], bool]:
    """GenerateBatchContent's payload for one batch of a part (both 1-based, as the Map's items)."""
    return lambda payload: payload.get("module_number") == module_number and payload.get("batch_index") == batch_index


def _delete_part_sections(index: int) -> Callable[[Any, dict], None]:
    def delete(runner: Any, payload: dict) -> None:
        from coursegen.services.outline import part_key

        runner.delete_payload(part_key(runner.container.states.load(payload["course_id"]), index))

    return delete


def _delete_lesson(lesson_index: int) -> Callable[[Any, dict], None]:
    """Delete one written lesson's artifact (by its place in the course, 0-based) from S3."""
    def delete(runner: Any, payload: dict) -> None:
        from coursegen.services.lessons import lesson_key, lesson_plans

        state = runner.container.states.load(payload["course_id"])
        runner.delete_payload(lesson_key(state, lesson_plans(runner.container.payloads, state)[lesson_index]))

    return delete


def _delete_landing_page(runner: Any, payload: dict) -> None:
    from coursegen.domain.artifacts import landing_page_key

    runner.delete_payload(landing_page_key(payload["course_id"]))


def _record_complete(parameters: dict) -> bool:
    return ":complete" in parameters.get("ExpressionAttributeValues", {})


def _record_failure(parameters: dict) -> bool:
    return ":error" in parameters.get("ExpressionAttributeValues", {})


def _without(*fields: str) -> Callable[[dict], dict]:
    return lambda answer: {k: v for k, v in answer.items() if k not in fields}


def _hang_until_closed(runner: Any, payload: dict) -> None:
    runner.closing.wait(60)  # past the machine's TimeoutSeconds; released when the runner closes


def _stop_execution(runner: Any, payload: dict) -> None:
    runner.sfn.stop_execution(executionArn=runner.execution_arn(payload["course_id"]),
                              error="StoppedByOperator", cause="Stopped with StopExecution while PlanParts ran.")


@dataclass(frozen=True)
class FaultCase:
    name: str
    description: str
    outcome: str  # "completes" | "fails"
    faults: Callable[[], list[Fault]] = list
    llm: Callable[[], Any] | None = None
    error: str | None = None  # the error the status reports when it fails
    phase: str | None = None  # the phase it reports
    retried_step: str | None = None  # a step that must have run more than once
    notes: str = ""
    tags: tuple[str, ...] = field(default_factory=tuple)
    execution_status: str = ""  # the execution's end, if not SUCCEEDED (completes) or FAILED (fails)
    runner_options: dict = field(default_factory=dict)  # e.g. a short machine timeout


FAULT_CASES: dict[str, FaultCase] = {case.name: case for case in (
    FaultCase("llm-throttled", "The model throttles PlanParts 3 times", "completes",
              lambda: [Fault("PlanParts", "LlmThrottled", "ThrottlingException: rate exceeded", times=3)],
              retried_step="PlanParts", notes="Retry with backoff and jitter"),
    FaultCase("llm-timeout", "The model times out once on part 1", "completes",
              lambda: [Fault("ExpandPart", "LlmUnavailable", "read timeout after 200 s", times=1, when=_part(0))],
              retried_step="ExpandPart", notes="Retry (LlmUnavailable, 3 attempts)"),
    FaultCase("llm-down", "The model stays unreachable for part 2", "fails",
              lambda: [Fault("ExpandPart", "LlmUnavailable", "model endpoint unreachable", times=-1, when=_part(1))],
              error="LlmUnavailable", phase="generating_sections", retried_step="ExpandPart",
              notes="Retries run out; the Map fails the course"),
    FaultCase("llm-unparseable-once", "The model answers the parts prompt with prose once", "completes",
              llm=lambda: UnparseableLlm("courses.generate_parts", 1), notes="Repair re-prompt inside the step"),
    FaultCase("llm-unparseable-always", "The model never answers the parts prompt in the format", "fails",
              llm=lambda: UnparseableLlm("courses.generate_parts", -1), error="LlmOutputInvalid", phase="planning_parts",
              notes="Gives up after the repair bound"),
    FaultCase("map-iteration-crash", "ExpandPart crashes on part 3 (a bug, not retried)", "fails",
              lambda: [Fault("ExpandPart", "KeyError", "'sections'", times=-1, when=_part(2))],
              error="KeyError", phase="generating_sections", notes="Map Catch -> failure path"),
    FaultCase("postgres-blip-at-store", "PostgreSQL is unreachable twice at StoreCourse", "completes",
              lambda: [Fault("StoreCourse", "DatabaseUnavailable", "connection refused", times=2)],
              retried_step="StoreCourse", notes="Retry; the store is one transaction"),
    FaultCase("postgres-down-at-store", "PostgreSQL stays unreachable at StoreCourse", "fails",
              lambda: [Fault("StoreCourse", "DatabaseUnavailable", "connection refused", times=-1)],
              error="DatabaseUnavailable", phase="storing", retried_step="StoreCourse",
              notes="No partial course: nothing was committed"),
    FaultCase("s3-object-missing", "A part's sections vanish from S3 before AssembleOutline", "fails",
              lambda: [Fault("AssembleOutline", "", before=_delete_part_sections(0))],
              error="PayloadMissing", phase="assembling_outline", notes="Resume re-expands only that part"),
    FaultCase("dynamodb-throttled-status-write", "DynamoDB throttles the RecordComplete status write twice", "completes",
              lambda: [Fault("DynamoDB", "ProvisionedThroughputExceededException", "slow down", times=2, when=_record_complete)],
              notes="Retry on the direct DynamoDB integration"),
    FaultCase("lambda-killed-mid-run", "ExpandPart for part 1 is killed after writing its sections", "completes",
              lambda: [Fault("ExpandPart", "Sandbox.Timedout", "Task timed out", times=1, when=_part(0), after_running=True)],
              retried_step="ExpandPart", notes="Retried once; the re-run is idempotent: the part counts once"),
    FaultCase("lesson-batch-fails", "The model stays unreachable while part 2's lessons are written", "fails",
              llm=lambda: UnreachableLlm("lessons.write_lesson", _lessons_of_part(2)),
              error="LlmUnavailable", phase="writing_lessons", retried_step="GenerateBatchContent",
              notes="Retries run out; the content stage fails WriteLessons; the error is LlmUnavailable and names the lesson"),
    FaultCase("lesson-batch-killed-mid-run", "GenerateBatchContent for part 1's first batch is killed after writing its lessons", "completes",
              lambda: [Fault("GenerateBatchContent", "Sandbox.Timedout", "Task timed out", times=1, when=_batch(1), after_running=True)],
              retried_step="GenerateBatchContent",
              notes="Retried once; the re-run skips the lessons in S3: each lesson counts and is announced once"),
    FaultCase("lesson-batch-crash", "GenerateBatchContent crashes on part 1's first batch (a bug, not retried)", "fails",
              lambda: [Fault("GenerateBatchContent", "KeyError", "'markdown'", times=-1, when=_batch(1))],
              error="KeyError", phase="writing_lessons", notes="No retry; the content stage fails, the failure path records it"),
    FaultCase("lesson-artifact-missing", "A written lesson (the second) vanishes from S3 before BuildBook", "fails",
              lambda: [Fault("BuildBook", "", before=_delete_lesson(1))],
              error="PayloadMissing", phase="building_book",
              notes="The outline stays stored; resume writes only that lesson (tests/workflow/test_resume.py)"),
    FaultCase("search-answer-malformed", "SearchBooks answers without books_found (HasBooks' field)", "fails",
              lambda: [Fault("SearchBooks", "", times=-1, rewrite=_without("books_found"))],
              error="StepAnswerMalformed", phase="searching_books",
              notes="HasBooks checks the field before comparing it (no States.Runtime)"),
    FaultCase("assemble-answer-malformed", "AssembleOutline answers without within_tolerance (NeedsReview's field)", "fails",
              lambda: [Fault("AssembleOutline", "", times=-1, rewrite=_without("within_tolerance"))],
              error="StepAnswerMalformed", phase="assembling_outline",
              notes="NeedsReview checks its fields before comparing them"),
    FaultCase("plan-answer-malformed", "PlanParts answers without parts (its ResultSelector's field)", "fails",
              lambda: [Fault("PlanParts", "", times=-1, rewrite=_without("parts", "parts_count"))],
              error="States.Runtime", phase="planning_parts",
              notes="States.Runtime, which no Catch takes: RecordExecutionEnd records it from the FAILED event"),
    FaultCase("machine-timeout", "ExpandPart for part 1 hangs past the machine's TimeoutSeconds (3 s here)", "fails",
              lambda: [Fault("ExpandPart", "Sandbox.Timedout", "hung", times=1, when=_part(0), before=_hang_until_closed)],
              execution_status="TIMED_OUT", runner_options={"execution_timeout_seconds": 3},
              error="ExecutionTimedOut", phase="generating_sections",
              notes="RecordExecutionEnd records it from the TIMED_OUT event and publishes the failed event"),
    FaultCase("execution-stopped", "StopExecution while PlanParts runs (it finishes; no state after it runs)", "fails",
              lambda: [Fault("PlanParts", "", times=1, before=_stop_execution)],
              execution_status="ABORTED", error="ExecutionAborted", phase="generating_sections",
              notes="RecordExecutionEnd records it from the ABORTED event and publishes the failed event"),
    FaultCase("record-failure-write-fails", "A part crashes, then DynamoDB refuses the RecordFailure write for good", "fails",
              lambda: [Fault("ExpandPart", "KeyError", "'sections'", times=-1, when=_part(2)),
                       Fault("DynamoDB", "ProvisionedThroughputExceededException", "slow down", times=-1, when=_record_failure)],
              error="KeyError", phase="generating_sections",
              notes="The execution still fails with the cause; RecordExecutionEnd writes it from the FAILED event"),
    FaultCase("store-killed-after-commit", "StoreCourse is killed after it committed and saved, on every attempt", "completes",
              lambda: [Fault("StoreCourse", "Sandbox.Timedout", "Task timed out", times=-1, after_running=True)],
              retried_step="StoreCourse",
              notes="ExplainFailure finds the outline stored; WasStored goes on to the completion, never to error"),
    FaultCase("record-request-write-fails", "DynamoDB refuses every write of the state machine, from RecordRequest on", "fails",
              lambda: [Fault("DynamoDB", "ProvisionedThroughputExceededException", "slow down", times=-1)],
              error="DynamoDB.ProvisionedThroughputExceededException", phase="queued",
              notes="No execution claimed the record; RecordExecutionEnd writes the failure path's cause from the FAILED event"),
    FaultCase("quiz-model-down", "The model is unreachable for the quiz, on every attempt", "fails",
              llm=lambda: UnreachableLlm("quiz.generate", lambda variables: True),
              error="LlmUnavailable", phase="writing_quiz",
              notes="The lessons stay stored and readable; nothing is published, no completed event"),
    FaultCase("site-build-page-lost", "BuildSite finds the landing page gone from S3, on every attempt", "fails",
              lambda: [Fault("BuildSite", "", times=-1, before=_delete_landing_page)],
              error="PayloadMissing", phase="building_site",
              notes="The lessons stay readable; no site, package or evidence pack; a resume writes the page again"),
    FaultCase("publishing-plan-malformed", "PlanPublishing answers without generate_quiz (its ResultSelector's field)", "fails",
              lambda: [Fault("PlanPublishing", "", times=-1, rewrite=_without("generate_quiz"))],
              error="States.Runtime", phase="publishing",
              notes="The stage fails uncatchably; the course workflow's BuildCourseArtifacts catches the stage's end"),
    FaultCase("record-complete-write-fails", "DynamoDB refuses the RecordComplete write for good, after StoreCourse", "completes",
              lambda: [Fault("DynamoDB", "ProvisionedThroughputExceededException", "slow down", times=-1, when=_record_complete)],
              notes="The stored course is not failed: the execution succeeds, RecordExecutionEnd writes complete"),
)}
