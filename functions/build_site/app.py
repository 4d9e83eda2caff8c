"""BuildSite: the course site and its packages (SCORM, QTI, GIFT) into S3."""

from coursegen.bootstrap import publishing_workflow
from coursegen.handlers import workflow_step
from coursegen.services.outline import StepInput
from coursegen.services.publishing import PublishingWorkflow

lambda_handler = workflow_step(PublishingWorkflow.build_site, StepInput, publishing_workflow)
