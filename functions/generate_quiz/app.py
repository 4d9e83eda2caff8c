"""GenerateQuiz: 10-15 checked questions on the written lessons' objectives."""

from coursegen.bootstrap import quiz_workflow
from coursegen.handlers import workflow_step
from coursegen.services.assessments import QuizWorkflow
from coursegen.services.outline import StepInput

lambda_handler = workflow_step(QuizWorkflow.generate_quiz, StepInput, quiz_workflow)
