"""BuildBook: every lesson into PostgreSQL, and the whole book (Markdown, HTML, EPUB) into S3."""

from coursegen.bootstrap import lesson_workflow
from coursegen.handlers import workflow_step
from coursegen.services.lessons import ContentInput, LessonWorkflow

lambda_handler = workflow_step(LessonWorkflow.build_book, ContentInput, lesson_workflow)
