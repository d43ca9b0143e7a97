"""Write sqlstream/compiler/spark_functions.txt: the built-in functions of the pinned Spark.

``validate`` refuses a call of a function Spark does not have (``upperr(action)``), with no JVM;
this is the table it reads. Run it after changing the pinned pyspark version:

    .venv/bin/python tools/refresh_spark_functions.py
"""

from __future__ import annotations

import re
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "sqlstream" / "compiler" / "spark_functions.txt"
_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")


def main() -> None:
    import pyspark
    from pyspark.sql import SparkSession

    spark = SparkSession.builder.master("local[1]").appName("functions").getOrCreate()
    try:
        rows = spark.sql("SHOW FUNCTIONS").collect()
    finally:
        spark.stop()
    names = sorted({r[0].lower() for r in rows if _NAME.match(r[0].lower())})
    header = (
        f"# The built-in functions of Spark {pyspark.__version__} (SHOW FUNCTIONS), one a line;\n"
        "# written by tools/refresh_spark_functions.py, read by the compiler's function check.\n"
    )
    OUT.write_text(header + "\n".join(names) + "\n", encoding="utf-8")
    print(f"{len(names)} functions -> {OUT.name}")


if __name__ == "__main__":
    main()
