"""WriteLab: one part's lab, for a theory_and_labs course (seed 003)."""

from coursegen.bootstrap import lab_workflow
from coursegen.handlers import workflow_step
from coursegen.services.labs import LabInput, LabWorkflow

lambda_handler = workflow_step(LabWorkflow.write_lab, LabInput, lab_workflow)
