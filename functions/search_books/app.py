"""SearchBooks: top-k book summaries by similarity to the query (pgvector)."""

from coursegen.handlers import workflow_step
from coursegen.services.outline import OutlineWorkflow, StepInput

lambda_handler = workflow_step(OutlineWorkflow.search_books, StepInput)
