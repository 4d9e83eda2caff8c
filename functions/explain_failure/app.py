"""ExplainFailure: the failure path's cause in one readable line, with its phase and run time."""

from coursegen.handlers import workflow_step
from coursegen.services.outline import FailureInput, OutlineWorkflow

lambda_handler = workflow_step(OutlineWorkflow.explain_failure, FailureInput)
