"""EstimateContent: a dry run's answer - the tokens, cost and time of writing the planned lessons."""

from coursegen.bootstrap import content_estimation
from coursegen.handlers import workflow_step
from coursegen.services.estimate import ContentEstimation, EstimateInput

lambda_handler = workflow_step(ContentEstimation.estimate, EstimateInput, content_estimation)
