"""PlanLessons: one lesson per outline section, objectives assigned once; the batches the Map iterates."""

from coursegen.bootstrap import lesson_workflow
from coursegen.handlers import workflow_step
from coursegen.services.lessons import ContentInput, LessonWorkflow

lambda_handler = workflow_step(LessonWorkflow.plan_lessons, ContentInput, lesson_workflow)
