"""ReviewEnded: a review stage that failed, timed out or was stopped puts its course back to DRAFT, with the cause."""

from coursegen.bootstrap import review_workflow
from coursegen.handlers import workflow_step
from coursegen.services.review import ReviewEnd, ReviewWorkflow

lambda_handler = workflow_step(ReviewWorkflow.review_ended, ReviewEnd, review_workflow)
