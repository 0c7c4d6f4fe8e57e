"""`python dbt_in_one_process.py COMMANDS.json`: dbt commands one after the other in this one Python
process (dbt's programmatic entry point, dbtRunner), stopping at the first that fails (exit 1).

For dbt-spark's `session` method: its SparkSession (a JVM, 20-30 s to start, and the Derby
metastore) lives as long as the process, so the commands share one instead of each starting its
own. COMMANDS.json is a list of {"args": [dbt's arguments], "compiled_code_to": a path or null};
with a path, the SQL an inline `dbt compile` gives is written there.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from dbt.cli.main import dbtRunner


def main(commands_file: str) -> int:
    runner = dbtRunner()
    for command in json.loads(Path(commands_file).read_text()):
        result = runner.invoke(command["args"])
        if not result.success:
            print(f"dbt {' '.join(command['args'])} failed: {result.exception or 'see its output'}", file=sys.stderr)
            return 1
        if command.get("compiled_code_to"):
            Path(command["compiled_code_to"]).write_text(result.result.results[0].node.compiled_code)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
