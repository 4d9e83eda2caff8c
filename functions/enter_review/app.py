"""EnterReview: the course in REVIEW (from DRAFT, by the system, when it was generated with review: true)."""

from coursegen.bootstrap import review_workflow
from coursegen.handlers import workflow_step
from coursegen.services.review import ReviewStep, ReviewWorkflow

lambda_handler = workflow_step(ReviewWorkflow.enter_review, ReviewStep, review_workflow)
