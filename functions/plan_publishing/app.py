"""PlanPublishing: what this course publishes (quiz, landing page, staging), from its request."""

from coursegen.bootstrap import publishing_workflow
from coursegen.handlers import workflow_step
from coursegen.services.outline import StepInput
from coursegen.services.publishing import PublishingWorkflow

lambda_handler = workflow_step(PublishingWorkflow.plan_publishing, StepInput, publishing_workflow)
