"""The stream ceiling: the bench plugin's items, encoded by the worker's own encoder and joined into
batches of lines as the worker's writer does, written to stdout (a pipe the bench reads and decodes).
No HTTP, no threads, no call bookkeeping: what the real stream adds is what the bench compares.

Usage: stream_ceiling.py WORKER_DIR BENCH_DIR COUNT. Prints "ready" once everything is imported, waits
for a line on stdin, then writes COUNT items and exits.
"""
import sys

worker_dir, bench_dir, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
sys.path[:0] = [worker_dir, bench_dir]
from rpp_worker import _encode_result  # noqa: E402  (the worker's encoder, not a copy)
from bench_plugin import BenchPlugin  # noqa: E402

BATCH_LINES = 1024

out = sys.stdout.buffer
try:  # a pipe holds 64 KB, a loopback socket megabytes: give the pipe as much room as the system allows
    import fcntl
    with open("/proc/sys/fs/pipe-max-size") as f:
        fcntl.fcntl(out.fileno(), fcntl.F_SETPIPE_SZ, int(f.read()))
except (ImportError, AttributeError, OSError):
    pass
out.write(b"ready\n")
out.flush()
sys.stdin.readline()
lines = []
for item in BenchPlugin().execute_stream(count=count):
    lines.append(_encode_result(item))
    if len(lines) >= BATCH_LINES:
        out.write(("\n".join(lines) + "\n").encode())
        del lines[:]
if lines:
    out.write(("\n".join(lines) + "\n").encode())
out.flush()
