"""What a run uses when the project and its target say nothing: one place for every default."""

from __future__ import annotations

DEFAULT_TARGET = "dev"
DEFAULT_BOOTSTRAP = "localhost:9092"
DEFAULT_MASTER = "local[*]"
DEFAULT_CHECKPOINT_ROOT = ".sqlstream/checkpoints"

DEFAULT_SPARK_CONF: dict[str, str] = {
    # A laptop has a few cores: 200 shuffle partitions would make every micro-batch slow. The
    # value is fixed in a query's checkpoint on its first run, so the script and `run` agree.
    "spark.sql.shuffle.partitions": "4",
}

LOCAL_SPARK_CONF: dict[str, str] = {
    # A local[*] run's driver is also its executor, so its heap holds every task's rows. With
    # Spark's 1g, G1 ran concurrent cycles all through a stateless Nexmark run: a fifth of the
    # JVM's CPU seconds; with 3g none (docs/benchmarks.md, the nexmark ledger). A maximum, not
    # memory taken: the heap grows to it only when needed. Only for a JVM Python starts here.
    "spark.driver.memory": "3g",
}
