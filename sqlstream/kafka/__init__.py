"""Kafka topics from the command line (``sqlstream topics``): list, describe, create, delete,
produce and consume against the chosen target's broker, with its security settings.

Built on confluent-kafka (librdkafka), the project's Kafka client (the ``kafka`` extra). The
compiler and the project layers never import this package; it reads their results (a ``Target``,
a compiled plan) and nothing flows back.
"""
