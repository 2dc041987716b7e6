"""The benchmark's plugin: tiny calls, a fast stream, timestamped items, and file reading."""
import base64
import os
import time


class BenchPlugin:
    def initialize(self, config=None):
        pass

    def execute(self, *args, **kwargs):
        mode = kwargs.get("mode", "echo")
        if mode == "echo":
            return {"ok": True}
        if mode == "stat_path":
            return {"size": os.path.getsize(args[0])}
        if mode == "read_path":
            return {"size": _read_size(args[0])}
        if mode == "read_base64":
            return {"size": len(base64.b64decode(kwargs["data"]))}
        raise ValueError("unknown mode: %r" % mode)

    def execute_stream(self, *args, **kwargs):
        count = int(kwargs.get("count", 10))
        interval = float(kwargs.get("interval_s", 0))
        size = int(kwargs.get("size", 0))
        if size:  # fat items: the bounds figures stream hundreds of MB
            pad = "x" * size
            for i in range(count):
                yield {"i": i, "pad": pad}
        elif interval:
            for i in range(count):
                time.sleep(interval)
                yield {"i": i, "t": time.time()}
        else:
            for i in range(count):
                yield {"i": i, "text": "item"}


def _read_size(path):
    size = 0
    with open(path, "rb", buffering=0) as f:
        while True:
            chunk = f.read(1 << 20)
            if not chunk:
                return size
            size += len(chunk)
