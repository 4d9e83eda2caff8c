"""ExpireReview: a review nobody decided within ReviewTimeoutDays - REVIEW -> DRAFT by the system, recorded."""

from coursegen.bootstrap import review_workflow
from coursegen.handlers import workflow_step
from coursegen.services.review import ExpireInput, ReviewWorkflow

lambda_handler = workflow_step(ReviewWorkflow.expire_review, ExpireInput, review_workflow)
