"""The DynamoDB state store and the S3 payload store, on moto, with tables built from template.yaml."""

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from coursegen.adapters.aws import STATE_MACHINE_FIELDS, DynamoStateStore, S3PayloadStore, state_key
from coursegen.errors import PayloadMissing, StateMissing, StoreThrottled
from coursegen.models import CourseState, Phase, Progress
from coursegen_local.template import SamTemplate


@pytest.fixture
def stores():
    template = SamTemplate()
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        [(table, spec)] = template.dynamodb_tables()
        dynamodb.create_table(**spec["create"])
        s3 = boto3.client("s3", region_name="us-east-1")
        bucket = template.physical_name("PayloadBucket")  # the template has the staging bucket too
        s3.create_bucket(Bucket=bucket)
        payloads = S3PayloadStore(s3, bucket)
        yield DynamoStateStore(dynamodb, table, payloads), payloads, dynamodb, s3


def full_state() -> CourseState:
    return CourseState(
        session_id="c-1", pending_course_query="Learn DCF", pending_course_hours=1.5,
        book_summaries_json='[{"book_id": "fin-001"}]' + " " * 50_000,
        parts_list=[{"index": 0, "title": "A", "minutes": 30, "description": "d"}],
        current_part_index=1, outline_text="## Part 1: A (30 minutes)", outline_complete=True,
        current_course={"title": "DCF", "nested": {"minutes": 90.5}}, current_section={"title": "S"},
        current_section_draft="draft", selected_lecture_figures=[{"n": 1}], covered_objectives=["o"],
        previous_lectures_context="prev", course_outline_context="ctx", is_revision=True,
        phase=Phase.reviewing_outline, progress=Progress(parts_total=3, part_sections={"0": 4}),
        review_attempts=1, total_minutes=95, variance_percent=5.56,
    )


def test_every_field_survives_a_save_and_load(stores):
    states, *_ = stores
    saved = full_state()
    states.save(saved)
    loaded = states.load("c-1")
    kept = {"updated_at", "ttl", *STATE_MACHINE_FIELDS}
    assert loaded.model_dump(exclude=kept) == saved.model_dump(exclude=kept)
    assert loaded.ttl > 0


def test_big_text_goes_to_s3_and_the_item_keeps_maps_and_lists(stores):
    states, payloads, dynamodb, _ = stores
    states.save(full_state())
    item = dynamodb.get_item(TableName=states.table, Key={"course_id": {"S": "c-1"}})["Item"]
    assert "book_summaries_json" not in item and "book_summaries_json" in str(item["offloaded"])
    assert payloads.get_text(state_key("c-1", "book_summaries_json")).startswith('[{"book_id"')
    assert "M" in item["pending_course_prefs"] and "L" in item["parts_list"]
    assert len(str(item)) < 4000


def test_each_part_counts_once_even_when_its_step_is_retried(stores):
    states, *_ = stores
    states.save(CourseState(session_id="c-2", progress=Progress(parts_total=20)))
    for index in range(20):
        states.record_part_done("c-2", index, 3)
    states.record_part_done("c-2", 7, 3)  # ExpandPart for part 7 ran again after a retry
    progress = states.load("c-2").progress
    assert (progress.parts_done, progress.sections_total) == (20, 60)


def test_saving_keeps_what_the_state_machine_wrote(stores):
    states, _, dynamodb, _ = stores
    dynamodb.update_item(TableName=states.table, Key={"course_id": {"S": "c-3"}},
                         UpdateExpression="SET execution_arn = :arn, #s = :error, created_at = :t",
                         ExpressionAttributeNames={"#s": "status"},
                         ExpressionAttributeValues={":arn": {"S": "arn:x"}, ":error": {"S": "error"}, ":t": {"S": "2026-01-01"}})
    states.save(CourseState(session_id="c-3"))
    loaded = states.load("c-3")
    assert (loaded.execution_arn, loaded.status.value, loaded.created_at) == ("arn:x", "error", "2026-01-01")


def test_missing_state_and_missing_payload_are_domain_errors(stores):
    states, payloads, *_ = stores
    with pytest.raises(StateMissing):
        states.load("nope")
    with pytest.raises(PayloadMissing, match="does not exist"):
        payloads.get_text("courses/nope/parts/000.md")


def test_dynamodb_throttling_becomes_store_throttled(stores):
    states, *_ = stores

    class Throttling:
        def update_item(self, **_):
            raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}}, "UpdateItem")

    states.dynamodb = Throttling()  # a stand-in client: moto cannot be told to throttle
    with pytest.raises(StoreThrottled):
        states.set_phase("c-1", "storing")


def test_a_save_writes_only_what_the_step_changed_so_a_concurrent_writer_keeps_its_own(stores):
    states, *_ = stores
    states.save(full_state())
    step = states.load("c-1")
    states.record_part_done("c-1", 1, 5)  # a sibling writes while this step works
    states.set_phase("c-1", Phase.storing.value)
    calls = []
    original = states._update
    states._update = lambda course_id, expression, values, names=None, **options: (
        calls.append(sorted((names or {}).values())), original(course_id, expression, values, names, **options))[1]
    step.review_attempts += 1
    states.save(step)
    assert calls == [["review_attempts", "ttl", "updated_at"]]
    after = states.load("c-1")
    assert after.review_attempts == 2 and after.phase == Phase.storing and after.progress.part_sections == {"0": 4, "1": 5}


def test_what_the_item_lacks_is_written_by_the_first_save_even_a_default(stores):
    states, *_ = stores
    states.create(CourseState(session_id="c-2", pending_course_query="Learn DCF"))  # as RecordRequest would
    step = states.load("c-2")
    step.phase = Phase.embedding
    states.save(step)  # book_summaries_json is still its default "[]", never written yet
    step = states.load("c-2")
    step.book_summaries_json = '[{"book_id": "fin-001"}]'
    states.save(step)
    assert states.load("c-2").book_summaries_json == '[{"book_id": "fin-001"}]'


def test_unchanged_text_is_not_written_again_and_a_status_read_skips_it(stores):
    states, payloads, _, s3 = stores
    states.save(full_state())
    writes = []
    original = payloads.put_text
    payloads.put_text = lambda key, text: (writes.append(key), original(key, text))
    loaded = states.load("c-1")
    loaded.review_attempts += 1
    states.save(loaded)
    assert writes == []  # only DynamoDB changed
    loaded.outline_text += "\n## Part 2: B (10 minutes)"
    states.save(loaded)
    assert writes == [state_key("c-1", "outline_text")]

    light = states.load("c-1", include_text=False)
    assert light.book_summaries_json == "[]" and light.review_attempts == 2
    with pytest.raises(ValueError, match="without its text"):
        states.save(light)


def test_an_execution_end_is_written_once_never_over_complete_and_only_by_the_owning_execution(stores):
    store, *_ = stores
    store.create(CourseState(session_id="c-1"))
    arn = "arn:aws:states:us-east-1:123456789012:execution:m:c-1"
    store._update("c-1", "SET execution_arn = :arn", {":arn": {"S": arn}})
    assert not store.record_end("c-1", arn + "-older", "error", "ExecutionTimedOut", "late")  # not its execution
    assert store.record_end("c-1", arn, "error", "ExecutionTimedOut", "did not finish")
    assert not store.record_end("c-1", arn, "error", "ExecutionTimedOut", "again")  # a second delivery
    loaded = store.load("c-1", include_text=False)
    assert (loaded.status.value, loaded.error_type, loaded.error_message) == ("error", "ExecutionTimedOut", "did not finish")
    assert store.record_end("c-1", arn, "complete")  # a stored outline wins over a recorded error
    assert not store.record_end("c-1", arn, "complete")
    assert not store.record_end("c-1", arn, "error", "States.Runtime", "x")
    loaded = store.load("c-1", include_text=False)
    assert (loaded.status.value, loaded.phase.value) == ("complete", "complete")


def test_a_record_no_execution_claimed_takes_the_end_of_the_course_s_execution(stores):
    store, *_ = stores
    store.create(CourseState(session_id="c-2"))  # as POST /courses writes it: no status, no arn yet
    assert store.record_end("c-2", "arn:aws:states:us-east-1:123456789012:execution:m:c-2", "error",
                            "ExecutionNotStarted", "never started", failed_event_owed=True)
    loaded = store.load("c-2", include_text=False)
    assert (loaded.status.value, loaded.failed_event_owed) == ("error", True)
    store.failed_event_published("c-2")
    assert not store.load("c-2", include_text=False).failed_event_owed


def test_an_object_s_bytes_come_back_exactly_and_a_missing_one_is_payload_missing(stores):
    _, payloads, *_ = stores
    data = bytes(range(256))  # not text: an EPUB, a zip package
    payloads.put_bytes("published/c-1/exports/course.scorm.zip", data, "application/zip")
    assert payloads.get_bytes("published/c-1/exports/course.scorm.zip") == data
    with pytest.raises(PayloadMissing):
        payloads.get_bytes("published/c-1/exports/none.zip")


def test_the_keys_under_a_prefix_are_listed_in_order_past_one_page(stores):
    _, payloads, _, s3 = stores
    # ListObjectsV2 answers 1000 keys a page: 1001 usage records take two
    for n in range(1001):
        s3.put_object(Bucket=payloads.bucket, Key=f"courses/c-1/usage/expand_part/{n:04d}.json", Body=b"{}")
    payloads.put_text("courses/c-1/usage-not/x.json", "{}")
    payloads.put_text("courses/c-2/usage/plan_parts/y.json", "{}")
    keys = payloads.list_keys("courses/c-1/usage/")
    assert keys == [f"courses/c-1/usage/expand_part/{n:04d}.json" for n in range(1001)]
    assert payloads.list_keys("courses/c-3/") == []
