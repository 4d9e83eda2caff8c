"""NoteReviewFailure: a rewrite that failed for good, recorded with its cause; the review opens again."""

from coursegen.bootstrap import review_workflow
from coursegen.handlers import workflow_step
from coursegen.services.review import FailureStep, ReviewWorkflow

lambda_handler = workflow_step(ReviewWorkflow.note_failure, FailureStep, review_workflow)
