"""Nexmark over Kafka: the event generator, the queries, an independent reference, the engines.

``python bench/nexmark.py`` runs it (bench/nexmark/README.md describes the layout and every
query's rewrite).
"""
