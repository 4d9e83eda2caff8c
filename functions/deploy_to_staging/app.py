"""DeployToStaging: the site to the staging bucket, replacing the last deploy."""

from coursegen.bootstrap import publishing_workflow
from coursegen.handlers import workflow_step
from coursegen.services.outline import StepInput
from coursegen.services.publishing import PublishingWorkflow

lambda_handler = workflow_step(PublishingWorkflow.deploy_to_staging, StepInput, publishing_workflow)
