"""StoreCourse: the course and its sections into PostgreSQL, in one transaction."""

from coursegen.handlers import workflow_step
from coursegen.services.outline import OutlineWorkflow, StepInput

lambda_handler = workflow_step(OutlineWorkflow.store_course, StepInput)
