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
