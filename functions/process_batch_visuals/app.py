"""ProcessBatchVisuals: at most one diagram per full lesson of one batch, drawn as SVG (seed 003's VisualPlanner)."""

from coursegen.bootstrap import visual_workflow
from coursegen.handlers import workflow_step
from coursegen.services.lessons import BatchInput
from coursegen.services.visuals import VisualWorkflow

lambda_handler = workflow_step(VisualWorkflow.process_batch, BatchInput, visual_workflow)
