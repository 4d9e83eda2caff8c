"""AssembleOutline: join the parts in order and measure the total against the target."""

from coursegen.handlers import workflow_step
from coursegen.services.outline import OutlineWorkflow, StepInput

lambda_handler = workflow_step(OutlineWorkflow.assemble_outline, StepInput)
