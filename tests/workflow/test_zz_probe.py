import json
from coursegen_local.faults import FAULT_CASES
def test_probe(run_workflow):
    result, runner = run_workflow(faults=FAULT_CASES["lesson-batch-fails"].faults())
    print(json.dumps(result.status["error"], indent=1))
    for e in runner.history(runner.execution_arn(result.course_id)):
        if e["type"] in ("TaskFailed",):
            print(json.dumps(e, default=str, indent=1))
