import json
from coursegen_local.faults import FAULT_CASES
def test_probe(run_workflow):
    case = FAULT_CASES["lesson-batch-fails"]
    result, runner = run_workflow(faults=case.faults(), llm=case.llm())
    print(json.dumps(result.status["error"], indent=1), runner.invocations)
