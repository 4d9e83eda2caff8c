"""RewriteLessons: the lessons a request for changes named, rewritten with their feedback (revision + 1)."""

from coursegen.bootstrap import review_workflow
from coursegen.handlers import workflow_step
from coursegen.services.review import DecisionStep, ReviewWorkflow

lambda_handler = workflow_step(ReviewWorkflow.rewrite_lessons, DecisionStep, review_workflow)
