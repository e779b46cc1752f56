"""Kafka: read and write transforms, the micro-batch planner and topic admin, one concern a file.

config.py     `KafkaConfig`, `KafkaRecord`, `PartitionRange`, errors
read.py       `ReadFromKafka`: bounded ranges (micro-batches) or unbounded (streaming)
bounded.py    the bounded read's splittable DoFn
unbounded.py  the unbounded read's splittable DoFn, its consumers and offset commits
planner.py    `BatchPlanner`: the offsets of the next micro-batch, committed after it
write.py      `WriteToKafka`, `EventPublisher`, `produce_once`: every producer
admin.py      partitions of a topic, creating missing topics
"""
