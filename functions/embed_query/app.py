"""EmbedQuery: embed the course query for the book search."""

from coursegen.handlers import workflow_step
from coursegen.models import WorkflowInput
from coursegen.services.outline import OutlineWorkflow

lambda_handler = workflow_step(OutlineWorkflow.embed_query, WorkflowInput)
