"""Domain errors. A Python exception's class name is its ASL error name, so the state machine's
Retry and Catch can name these (see statemachine/course_generation.asl.json)."""


class CoursegenError(Exception):
    """Base class: an error the user can act on, with a message that says what to do."""


class InvalidInput(CoursegenError):
    """A request or step input failed validation; the message names the field and the reason."""


class LlmThrottled(CoursegenError):
    """The model provider refused for rate; retried with backoff by the state machine."""


class LlmUnavailable(CoursegenError):
    """The model provider could not be reached or timed out; retried, then fails the course."""


class LlmOutputInvalid(CoursegenError):
    """The model's answer could not be parsed, even after the bounded repair re-prompts."""


class NoBooksFound(CoursegenError):
    """No book summary is similar enough to the query to ground a course on."""


class DatabaseUnavailable(CoursegenError):
    """PostgreSQL could not be reached; retried by the state machine."""


class PayloadMissing(CoursegenError):
    """An artifact the step needs is not in the payload bucket."""


class StateMissing(CoursegenError):
    """The course-state record is missing: the execution was not started through RecordRequest."""


class PromptVariableMissing(CoursegenError):
    """A prompt template was rendered without one of the variables it declares."""


class OutlineInvalid(CoursegenError):
    """The outline cannot be turned into a course (no parts or no timed sections)."""


class ConfigurationError(CoursegenError):
    """The environment does not configure a usable adapter."""


class StoreThrottled(CoursegenError):
    """DynamoDB or S3 asked us to slow down; retried by the state machine."""


class CourseNotFound(CoursegenError):
    """No course with that id for this principal (another principal's course is not found either)."""


class IdempotencyConflict(CoursegenError):
    """An Idempotency-Key was reused with a different request body."""


class Unauthenticated(CoursegenError):
    """The request carries no authenticated caller."""


class WorkflowUnavailable(CoursegenError):
    """Step Functions could not start the course; retrying the request later is safe."""


class NotResumable(CoursegenError):
    """Only a failed course can be resumed."""


class CourseNotReady(CoursegenError):
    """The course exists but is still being generated (or failed); its status says which."""


class LanguageNotWritten(CoursegenError):
    """The configured writer cannot write the requested language (the offline one writes English only)."""


class StagingFailed(CoursegenError):
    """The site could not be staged (its upload failed); nothing of it is left half-staged."""



class TransitionNotAllowed(CoursegenError):
    """A lifecycle decision the course's state does not allow (a 409): says the state and its moves."""

    def __init__(self, message: str, *, current: str = "", allowed: list[str] | None = None) -> None:
        super().__init__(message)
        self.current = current
        self.allowed = list(allowed or [])


class DecisionInvalid(CoursegenError):
    """A decision's body cannot be taken (a 400): names the field and the reason."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class ReviewTimedOut(CoursegenError):
    """Nobody decided within the review window (ReviewTimeoutDays); the wait ended."""


class WaitEnded(CoursegenError):
    """The execution no longer waits for this decision (the review timed out or was answered)."""
