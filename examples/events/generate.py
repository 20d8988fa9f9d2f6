#!/usr/bin/env python3
"""Generates the bundled sample events and their expected partial batch responses.

    python3 examples/events/generate.py           # (re)write every file
    python3 examples/events/generate.py --check   # exit 1 if a committed file differs

Writes, deterministically (seeded, no clock):

* ``examples/events/sqs-fifo.json``: SQS FIFO, 1,000 messages in 40 message groups, 5 poison.
* ``examples/events/sqs-standard.json``: standard SQS, 200 messages, 4 poison.
* ``examples/events/kinesis.json``: Kinesis, 300 records over 12 partition keys, 4 poison.
* ``examples/events/dynamodb.json``: DynamoDB stream, 240 records over 30 items, 4 poison.
* ``examples/events/kafka.json``: Amazon MSK (``eventSource`` ``aws:kafka``), 1,200 records over
  12 partitions of two topics, keys repeating within each partition (some records with a null
  key, a few tombstones with a null value), 6 poison.
* ``tests/e2e/events/*.json``: the smaller events the end-to-end tests send (SQS FIFO batches of
  60 records in 6 groups, one standard SQS and one Kinesis batch, and one batch in which every
  record is poison; Kafka: ``kafka-1.json``, 96 records over 5 partitions of two topics, 4 poison,
  ``kafka-2.json``, 72 records over 4 partitions, 3 poison, both with keys repeating in each
  partition, a few null keys and tombstones, and ``kafka-all-poison.json``, 6 records, all poison).

Beside each event, ``<name>.expected.json`` holds the expected result, computed here from the
batch semantics alone (not by lanepool):

* a record fails when its payload contains ``"poison"`` (SQS ``body``; Kinesis: the base64-decoded
  ``kinesis.data``; DynamoDB: the JSON of ``dynamodb.NewImage``; Kafka: the base64-decoded
  ``value``, none for a tombstone), which is what ``examples/python/handler.py``,
  ``examples/node/handler.js`` and ``examples/rust/`` do;
* lanes: SQS FIFO = ``attributes.MessageGroupId``, Kinesis = ``kinesis.partitionKey``, DynamoDB =
  the item's ``dynamodb.Keys`` (key order ignored), standard SQS has no lanes; Kafka with
  ``ordering: "auto"`` = the topic-partition (the ``records`` key ``"<topic>-<partition>"``), with
  ``ordering: "key"`` = the topic-partition and the record's ``key`` (records with a null key share
  one lane per partition); once a record of a lane fails, every later record of that lane is
  skipped and also reported as failed;
* identifiers: SQS ``messageId``, Kinesis ``kinesis.sequenceNumber``, DynamoDB
  ``dynamodb.SequenceNumber``, Kafka the object ``{"partition": "<topic>-<partition>", "offset":
  <offset>}``; failures in event order (Kafka: the ``records`` object's key order, then each
  partition's array).

Kafka has two expected files, one per ordering: ``<name>.expected.json`` (``"auto"``) and
``<name>.key.expected.json`` (``"key"``), e.g. ``kafka.expected.json`` and ``kafka.key.expected.json``.

The expected file is ``{"batchItemFailures": [...]}``, or, when no record succeeds (lanepool's
default ``raise_on_full_batch_failure``), ``{"error": "BatchFailedError", "batchItemFailures":
[...]}``: the invocation fails with that error instead of returning a response.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import random
import sys
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
E2E_DIR = REPO / "tests" / "e2e" / "events"

REGION = "us-east-1"
ACCOUNT = "123456789012"
BASE_TS_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z: fixed, so the files never change

PRODUCTS = ["book", "lamp", "chair", "kettle", "headphones", "mug", "desk", "pen", "backpack", "plant"]
ACTIONS = ["created", "paid", "packed", "shipped", "delivered"]


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _receipt_handle(rng: random.Random) -> str:
    raw = bytes(rng.getrandbits(8) for _ in range(96))
    return "AQEB" + base64.b64encode(raw).decode()


def _sender_id(rng: random.Random) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    return "AIDA" + "".join(rng.choice(alphabet) for _ in range(17))


def _body(rng: random.Random, n: int, lane: str | None, poison: bool) -> str:
    body = {
        "orderId": f"ord-{n:05d}",
        "customer": lane if lane is not None else f"cust-{rng.randrange(1000):03d}",
        "item": rng.choice(PRODUCTS),
        "quantity": rng.randint(1, 5),
        "action": rng.choice(ACTIONS),
    }
    if poison:
        body["note"] = "poison: this message cannot be processed"
    return json.dumps(body, separators=(",", ":"))


def _lane_sequence(rng: random.Random, records: int, lanes: list[str]) -> list[str]:
    """Each lane gets records // len(lanes) records (the first ones one more), interleaved at random."""
    seq = [lanes[i % len(lanes)] for i in range(records)]
    rng.shuffle(seq)
    return seq


def _poison_positions(rng: random.Random, records: int, poison: int, first: bool = False) -> set[int]:
    if poison >= records:
        return set(range(records))
    picks = set(rng.sample(range(records), poison))
    if first and poison:
        picks.discard(max(picks))
        picks.add(0)  # the very first record of the batch (and so of its lane) is poison
    return picks


def sqs_event(seed: int, records: int, groups: int | None, poison: int, queue: str,
              poison_first: bool = False) -> dict:
    """An SQS event; FIFO (with MessageGroupId and SequenceNumber) when ``groups`` is given."""
    rng = random.Random(seed)
    fifo = groups is not None
    lanes = [f"customer-{rng.randrange(10_000):04d}-{i:02d}" for i in range(groups)] if fifo else []
    lane_of = _lane_sequence(rng, records, lanes) if fifo else [None] * records
    poisoned = _poison_positions(rng, records, poison, poison_first)
    arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{queue}"
    sender = _sender_id(rng)
    seq_base = 18_849_496_460_467_696_128 + rng.randrange(10**12)
    out = []
    for n in range(records):
        body = _body(rng, n, lane_of[n], n in poisoned)
        sent = BASE_TS_MS + seed * 1000 + n * 7
        attributes = {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": str(sent),
            "SenderId": sender,
            "ApproximateFirstReceiveTimestamp": str(sent + 40 + rng.randrange(60)),
        }
        if fifo:
            attributes["SequenceNumber"] = str(seq_base + n * 65_536)
            attributes["MessageGroupId"] = lane_of[n]
            attributes["MessageDeduplicationId"] = hashlib.sha256(body.encode()).hexdigest()
        out.append({
            "messageId": _uuid(rng),
            "receiptHandle": _receipt_handle(rng),
            "body": body,
            "attributes": attributes,
            "messageAttributes": {},
            "md5OfBody": hashlib.md5(body.encode()).hexdigest(),
            "eventSource": "aws:sqs",
            "eventSourceARN": arn,
            "awsRegion": REGION,
        })
    return {"Records": out}


def kinesis_event(seed: int, records: int, keys: int, poison: int) -> dict:
    rng = random.Random(seed)
    lanes = [f"device-{rng.randrange(100_000):05d}" for _ in range(keys)]
    lane_of = _lane_sequence(rng, records, lanes)
    poisoned = _poison_positions(rng, records, poison)
    shard = "shardId-000000000003"
    seq_base = 49_590_338_271_490_256_608_559_692_538_361_571_095_921_575_989_136_588_898 + rng.randrange(10**9)
    out = []
    for n in range(records):
        payload = _body(rng, n, lane_of[n], n in poisoned)
        seq = str(seq_base + n * 4_096)
        out.append({
            "kinesis": {
                "kinesisSchemaVersion": "1.0",
                "partitionKey": lane_of[n],
                "sequenceNumber": seq,
                "data": base64.b64encode(payload.encode()).decode(),
                "approximateArrivalTimestamp": (BASE_TS_MS + seed * 1000 + n * 5) / 1000,
            },
            "eventSource": "aws:kinesis",
            "eventVersion": "1.0",
            "eventID": f"{shard}:{seq}",
            "eventName": "aws:kinesis:record",
            "invokeIdentityArn": f"arn:aws:iam::{ACCOUNT}:role/lanepool-example-role",
            "awsRegion": REGION,
            "eventSourceARN": f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/lanepool-example-stream",
        })
    return {"Records": out}


def _image(order: dict) -> dict:
    """A DynamoDB item image (attribute values typed as in streams)."""
    image = {
        "customer": {"S": order["customer"]},
        "orderId": {"S": order["orderId"]},
        "item": {"S": order["item"]},
        "quantity": {"N": str(order["quantity"])},
        "status": {"S": order["action"]},
    }
    if "note" in order:
        image["note"] = {"S": order["note"]}
    return image


def dynamodb_event(seed: int, records: int, items: int, poison: int) -> dict:
    """A DynamoDB stream event: INSERT then MODIFY records of ``items`` items (partition key
    ``customer``, sort key ``orderId``), NEW_AND_OLD_IMAGES; the keys' order varies between
    records of one item (lanepool's lane ignores it)."""
    rng = random.Random(seed)
    keys = [(f"customer-{rng.randrange(10_000):04d}", f"ord-{i:05d}") for i in range(items)]
    lane_of = _lane_sequence(rng, records, list(range(items)))
    poisoned = _poison_positions(rng, records, poison)
    arn = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/lanepool-example-orders/stream/2026-01-01T00:00:00.000"
    seq_base = 400_000_000_000_000_000_000 + rng.randrange(10**9)
    images: dict[int, dict] = {}
    out = []
    for n in range(records):
        item = lane_of[n]
        customer, order_id = keys[item]
        order = json.loads(_body(rng, n, customer, n in poisoned))
        order["orderId"] = order_id
        new = _image(order)
        key_pairs = [("customer", {"S": customer}), ("orderId", {"S": order_id})]
        if rng.random() < 0.5:
            key_pairs.reverse()
        dynamodb = {
            "ApproximateCreationDateTime": (BASE_TS_MS + seed * 1000 + n * 11) // 1000,
            "Keys": dict(key_pairs),
            "NewImage": new,
            "SequenceNumber": str(seq_base + n * 100),
            "SizeBytes": len(json.dumps(new)),
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        }
        old = images.get(item)
        if old is not None:
            dynamodb["OldImage"] = old
        images[item] = new
        out.append({
            "eventID": "%032x" % rng.getrandbits(128),
            "eventName": "MODIFY" if old is not None else "INSERT",
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": REGION,
            "dynamodb": dynamodb,
            "eventSourceARN": arn,
        })
    return {"Records": out}


KAFKA_CLUSTER = "lanepool-example"


def kafka_event(seed: int, records: int, topics: dict[str, int], keys_per_partition: int,
                poison: int, null_key: float = 0.05, tombstone: float = 0.01) -> dict:
    """An Amazon MSK event: ``records`` spread at random over the partitions of ``topics``
    (name -> partition count), each partition's records in offset order with
    ``keys_per_partition`` keys repeating in it (a share ``null_key`` of records without a key,
    a share ``tombstone`` with a null value); the partitions in a shuffled order."""
    rng = random.Random(seed)
    partitions = [(t, p) for t, n in topics.items() for p in range(n)]
    keys = {tp: [f"customer-{rng.randrange(10_000):04d}" for _ in range(keys_per_partition)]
            for tp in partitions}
    where = [partitions[rng.randrange(len(partitions))] for _ in range(records)]
    poisoned = _poison_positions(rng, records, poison)
    order = list(partitions)
    rng.shuffle(order)  # the records object's key order is the event order
    next_offset = {tp: 1_000 + rng.randrange(90_000) for tp in partitions}
    groups: dict[str, list] = {f"{t}-{p}": [] for t, p in order}
    for n, (topic, partition) in enumerate(where):
        key = None if rng.random() < null_key else rng.choice(keys[(topic, partition)])
        offset = next_offset[(topic, partition)]
        next_offset[(topic, partition)] += 1
        if n not in poisoned and rng.random() < tombstone and key is not None:
            value = None  # a tombstone: the key's record deleted (compacted topics)
        else:
            value = base64.b64encode(_body(rng, n, key, n in poisoned).encode()).decode()
        headers = [{"source": list(b"lanepool-example")}] if rng.random() < 0.5 else []
        groups[f"{topic}-{partition}"].append({
            "topic": topic,
            "partition": partition,
            "offset": offset,
            "timestamp": BASE_TS_MS + seed * 1000 + n * 3,
            "timestampType": "CREATE_TIME",
            "key": None if key is None else base64.b64encode(key.encode()).decode(),
            "value": value,
            "headers": headers,
        })
    cluster = f"arn:aws:kafka:{REGION}:{ACCOUNT}:cluster/{KAFKA_CLUSTER}/{_uuid(rng)}-2"
    brokers = ",".join(f"b-{i}.{KAFKA_CLUSTER}.x1y2z3.c2.kafka.{REGION}.amazonaws.com:9098" for i in (1, 2))
    return {"eventSource": "aws:kafka", "eventSourceArn": cluster, "bootstrapServers": brokers,
            "records": groups}


# ---------------------------------------------------------------- expected results, from the rules

def _payload(record: dict) -> str:
    if "body" in record:
        return record["body"]
    if "kinesis" in record:
        return base64.b64decode(record["kinesis"]["data"]).decode()
    return json.dumps(record["dynamodb"].get("NewImage", {}))


def _identifier(record: dict) -> str:
    if record.get("eventSource") == "aws:sqs":
        return record["messageId"]
    if "kinesis" in record:
        return record["kinesis"]["sequenceNumber"]
    return record["dynamodb"]["SequenceNumber"]


def _lane(record: dict) -> str | None:
    if record.get("eventSource") == "aws:sqs":
        return record.get("attributes", {}).get("MessageGroupId")
    if "kinesis" in record:
        return record["kinesis"]["partitionKey"]
    return json.dumps(record["dynamodb"]["Keys"], sort_keys=True)  # the item; key order ignored


def expected(event: dict) -> dict:
    failed_lanes: set[str] = set()
    failures = []
    for record in event["Records"]:
        lane = _lane(record)
        if lane is not None and lane in failed_lanes:
            failures.append(_identifier(record))  # skipped: an earlier record of its lane failed
        elif "poison" in _payload(record):
            failures.append(_identifier(record))
            if lane is not None:
                failed_lanes.add(lane)
    result: dict = {"batchItemFailures": [{"itemIdentifier": i} for i in failures]}
    if event["Records"] and len(failures) == len(event["Records"]):
        result = {"error": "BatchFailedError", **result}
    return result


def kafka_records(event: dict) -> list[dict]:
    """The records of a Kafka event in event order: the ``records`` object's key order, then
    each partition's array."""
    return [r for group in event["records"].values() for r in group]


def kafka_identifier(record: dict) -> dict:
    """A Kafka record's ``itemIdentifier``: ``{"partition": "<topic>-<partition>", "offset": n}``."""
    return {"partition": f"{record['topic']}-{record['partition']}", "offset": record["offset"]}


def kafka_record_id(record: dict) -> str:
    """A Kafka record's identifier in the example handlers (their record log, their simulated
    I/O): ``"<topic>-<partition>@<offset>"``."""
    return f"{record['topic']}-{record['partition']}@{record['offset']}"


def kafka_lane(record: dict, ordering: str) -> tuple:
    """A Kafka record's lane: its topic-partition (``"auto"``), or its topic-partition and
    ``key`` (``"key"``; a null or absent key is one lane per partition)."""
    partition = f"{record['topic']}-{record['partition']}"
    return (partition,) if ordering == "auto" else (partition, record.get("key"))


def kafka_expected(event: dict, ordering: str) -> dict:
    """The expected response of a Kafka event for ``ordering`` ``"auto"`` (a lane per
    topic-partition) or ``"key"`` (a lane per topic-partition and record key; no key: one lane
    per partition)."""
    failed_lanes: set[tuple] = set()
    failures = []
    records = kafka_records(event)
    for r in records:
        lane = kafka_lane(r, ordering)
        value = r.get("value")
        payload = "" if value is None else base64.b64decode(value).decode()
        if lane in failed_lanes:
            failures.append(kafka_identifier(r))  # skipped: an earlier record of its lane failed
        elif "poison" in payload:
            failures.append(kafka_identifier(r))
            failed_lanes.add(lane)
    result: dict = {"batchItemFailures": [{"itemIdentifier": i} for i in failures]}
    if records and len(failures) == len(records):
        result = {"error": "BatchFailedError", **result}
    return result


# ---------------------------------------------------------------- the files

FIFO_QUEUE = "lanepool-example-orders.fifo"


def files() -> dict[Path, object]:
    events: dict[Path, dict] = {
        HERE / "sqs-fifo.json": sqs_event(1, 1000, 40, 5, FIFO_QUEUE),
        HERE / "sqs-standard.json": sqs_event(2, 200, None, 4, "lanepool-example-orders"),
        HERE / "kinesis.json": kinesis_event(3, 300, 12, 4),
        HERE / "dynamodb.json": dynamodb_event(4, 240, 30, 4),
        # End-to-end invocations: small FIFO batches (60 records, 6 groups) with varied poison.
        E2E_DIR / "fifo-1.json": sqs_event(101, 60, 6, 2, FIFO_QUEUE),
        E2E_DIR / "fifo-2.json": sqs_event(102, 60, 6, 0, FIFO_QUEUE),
        E2E_DIR / "fifo-3.json": sqs_event(103, 60, 6, 3, FIFO_QUEUE, poison_first=True),
        E2E_DIR / "fifo-4.json": sqs_event(104, 60, 6, 1, FIFO_QUEUE),
        E2E_DIR / "standard-1.json": sqs_event(105, 40, None, 3, "lanepool-example-orders"),
        E2E_DIR / "kinesis-1.json": kinesis_event(106, 48, 4, 2),
        E2E_DIR / "fifo-all-poison.json": sqs_event(107, 8, 2, 8, FIFO_QUEUE),
    }
    out: dict[Path, object] = {}
    for path, event in events.items():
        out[path] = event
        out[path.with_name(path.stem + ".expected.json")] = expected(event)
    # Kafka: one expected response per ordering.
    kafka_events: dict[Path, dict] = {
        HERE / "kafka.json": kafka_event(17, 1200, {"orders": 6, "payments": 6}, 8, 6),
        # End-to-end invocations: small MSK batches, keys repeating in each partition.
        E2E_DIR / "kafka-1.json": kafka_event(108, 96, {"orders": 3, "payments": 2}, 3, 4,
                                              null_key=0.08, tombstone=0.03),
        E2E_DIR / "kafka-2.json": kafka_event(109, 72, {"orders": 2, "payments": 2}, 4, 3,
                                              null_key=0.08, tombstone=0.03),
        E2E_DIR / "kafka-all-poison.json": kafka_event(110, 6, {"orders": 1, "payments": 1}, 2, 6),
    }
    for path, kafka in kafka_events.items():
        out[path] = kafka
        out[path.with_name(path.stem + ".expected.json")] = kafka_expected(kafka, "auto")
        out[path.with_name(path.stem + ".key.expected.json")] = kafka_expected(kafka, "key")
    return out


def render(obj: object) -> str:
    return json.dumps(obj, indent=2) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the files on disk, write nothing")
    args = parser.parse_args()
    stale = []
    for path, obj in files().items():
        text = render(obj)
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(path)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    if stale:
        for path in stale:
            print(f"stale or missing: {path.relative_to(REPO)}", file=sys.stderr)
        print("run: python3 examples/events/generate.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
