"""GenerateLandingPage: the landing page, its words from the model and its facts from the course."""

from coursegen.bootstrap import publishing_workflow
from coursegen.handlers import workflow_step
from coursegen.services.outline import StepInput
from coursegen.services.publishing import PublishingWorkflow

lambda_handler = workflow_step(PublishingWorkflow.generate_landing_page, StepInput, publishing_workflow)
