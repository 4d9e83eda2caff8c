"""ReviewOutline: ask the model to bring the total within 5% (courses.review_outline)."""

from coursegen.handlers import workflow_step
from coursegen.services.outline import OutlineWorkflow, StepInput

lambda_handler = workflow_step(OutlineWorkflow.review_outline, StepInput)
