"""ApplyOutlineDecision: an approved edit replaces the stored outline; a re-plan takes the feedback to the planner."""

from coursegen.bootstrap import review_workflow
from coursegen.handlers import workflow_step
from coursegen.services.review import DecisionStep, ReviewWorkflow

lambda_handler = workflow_step(ReviewWorkflow.take_outline_decision, DecisionStep, review_workflow)
