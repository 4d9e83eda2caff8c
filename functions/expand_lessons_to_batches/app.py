"""ExpandLessonsToBatches (seed 003's BatchExpander): per part, ceil(lessons / N) batches, one flat list."""

from coursegen.bootstrap import lesson_workflow
from coursegen.handlers import workflow_step
from coursegen.services.lessons import ContentInput, LessonWorkflow

lambda_handler = workflow_step(LessonWorkflow.expand_to_batches, ContentInput, lesson_workflow)
