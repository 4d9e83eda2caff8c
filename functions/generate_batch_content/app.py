"""GenerateBatchContent: the lessons of one batch, written one after another (seed 003)."""

from coursegen.bootstrap import lesson_workflow
from coursegen.handlers import workflow_step
from coursegen.services.lessons import BatchInput, LessonWorkflow

lambda_handler = workflow_step(LessonWorkflow.generate_batch, BatchInput, lesson_workflow)
