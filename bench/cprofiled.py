"""``python -m bench.cprofiled OUT serve ...``: ``mana-mcp`` under cProfile with a CPU-time clock.

Wall-clock samplers (py-spy) charge a process for the time it waits to be scheduled again after
waking its peer on a 2-core machine (a ``send`` to a busy stand-in looks like a millisecond);
``time.process_time`` as the profiler's clock charges only CPU time. Stats go to OUT at exit.
"""

from __future__ import annotations

import cProfile
import sys
import time

from mana.entrypoints.cli import main

if __name__ == "__main__":
    out, argv = sys.argv[1], sys.argv[2:]
    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    try:
        code = main(argv)
    finally:
        profiler.disable()
        profiler.dump_stats(out)
    sys.exit(code)
