"""Run a module under a sampling profiler of its main thread (no py-spy needed, little overhead).

    python -m bench.profile OUT.json -m exporter --database ... (the module's own arguments)

Every 5 ms a thread records the main thread's Python stack; OUT.json gets, per function
(`file:function`), the share of samples in which it was running (`self`, the innermost Python
frame: time spent in C code it called counts here) and in which it was on the stack
(`inclusive`). The main thread builds the events; sending happens in worker threads that mostly
wait on sockets, so the main thread's samples say where the exporter's time goes.
"""

from __future__ import annotations

import json
import os
import re
import runpy
import sys
import threading
from collections import Counter

INTERVAL = 0.005
STDLIB = re.compile(r"/lib/python3\.\d+/")


def _name(code) -> str:
    path = code.co_filename
    if "/site-packages/" in path:
        path = path.split("/site-packages/", 1)[1]
    elif match := STDLIB.search(path):
        path = path[match.end() :]
    elif os.path.isabs(path):
        path = os.path.relpath(path)
    return f"{path}:{code.co_name}"


def main() -> None:
    out = sys.argv[1]
    if sys.argv[2] != "-m":
        raise SystemExit("usage: python -m bench.profile OUT.json -m MODULE [ARGS...]")
    module, args = sys.argv[3], sys.argv[4:]
    main_id = threading.main_thread().ident
    leaf: Counter = Counter()
    inclusive: Counter = Counter()
    samples = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal samples
        while not stop.wait(INTERVAL):
            frame = sys._current_frames().get(main_id)
            if frame is None:
                continue
            samples += 1
            leaf[_name(frame.f_code)] += 1
            seen = set()
            while frame is not None:
                name = _name(frame.f_code)
                if name not in seen:
                    seen.add(name)
                    inclusive[name] += 1
                frame = frame.f_back

    sampler = threading.Thread(target=sample, daemon=True, name="bench-profiler")
    sampler.start()
    sys.argv = [module, *args]
    code = 0
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    finally:
        stop.set()
        sampler.join()
        with open(out, "w") as file:
            json.dump(
                {
                    "samples": samples,
                    "interval_seconds": INTERVAL,
                    "self": {name: n / samples for name, n in leaf.most_common(60)} if samples else {},
                    "inclusive": {name: n / samples for name, n in inclusive.most_common(120)} if samples else {},
                },
                file,
                indent=1,
            )
    sys.exit(code)


if __name__ == "__main__":
    main()
