"""AwaitDecision: the .waitForTaskToken task of a review or an outline approval - keeps the token
(the state store, never an event or a log) under the wait's opaque approval id, and returns."""

from coursegen.bootstrap import review_workflow
from coursegen.handlers import workflow_step
from coursegen.services.review import AwaitInput, ReviewWorkflow

lambda_handler = workflow_step(ReviewWorkflow.await_decision, AwaitInput, review_workflow)
