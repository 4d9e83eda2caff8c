"""WriteEvidencePack: how the course was made, as one manifest in S3."""

from coursegen.bootstrap import evidence_workflow
from coursegen.handlers import workflow_step
from coursegen.services.evidence import EvidenceWorkflow
from coursegen.services.outline import StepInput

lambda_handler = workflow_step(EvidenceWorkflow.write_evidence_pack, StepInput, evidence_workflow)
