"""Reads a whole Kafka topic with kafka-python (Debian's python3-kafka), a client written
independently of librdkafka, and prints one JSON line per message: partition, offset, key,
headers and value. Stops after `idle_ms` without a new message.

Usage: read_topic.py BROKERS TOPIC IDLE_MS
"""

import json
import sys

from kafka import KafkaConsumer

brokers, topic, idle_ms = sys.argv[1], sys.argv[2], int(sys.argv[3])
consumer = KafkaConsumer(
    topic,
    bootstrap_servers=brokers,
    auto_offset_reset="earliest",
    enable_auto_commit=False,
    group_id=None,
    consumer_timeout_ms=idle_ms,
    api_version=(2, 5, 0),
)
for message in consumer:
    print(
        json.dumps(
            {
                "partition": message.partition,
                "offset": message.offset,
                "key": message.key.decode() if message.key is not None else None,
                "headers": {k: v.decode() for k, v in message.headers},
                "value": message.value.decode(),
            }
        )
    )
consumer.close()
