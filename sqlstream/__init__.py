"""sqlstream: Kafka-to-Kafka streaming pipelines written in SQL, run on Apache Spark."""

__version__ = "0.1.0"
