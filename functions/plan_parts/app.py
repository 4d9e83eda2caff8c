"""PlanParts: ask the model for the course parts (courses.generate_parts)."""

from coursegen.handlers import workflow_step
from coursegen.services.outline import OutlineWorkflow, StepInput

lambda_handler = workflow_step(OutlineWorkflow.plan_parts, StepInput)
