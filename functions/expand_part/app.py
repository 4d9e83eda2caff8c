"""ExpandPart: one Map iteration, expanding one part into timed sections (courses.expand_part)."""

from coursegen.handlers import workflow_step
from coursegen.services.outline import OutlineWorkflow, PartInput

lambda_handler = workflow_step(OutlineWorkflow.expand_part, PartInput)
