"""Remote Plugin Proxy: the universal worker (protocol v1, see docs/protocol.md).

Loads one plugin class in this interpreter and serves it over loopback HTTP to the host.
Standard library only, Python >= 3.8.

Design notes (why it looks the way it does):
- Its own small HTTP/1.1 server over `socket`, not `http.server`: importing http.server
  alone pulls in email, http.client and more, which costs start-up time and memory, and its
  handler writes headers and body in separate sends. Here a response is one `sendall`.
- The ready line goes to a private duplicate of stdout, and fd 1 is pointed at stderr before
  the plugin is imported, so nothing the plugin prints (not even C code writing to fd 1) can
  corrupt the one line the host parses. Plugin output ends up in the host's log (stderr).
- TCP_NODELAY on every accepted socket: without it, a small response written after the
  previous one on a keep-alive connection waits for the peer's delayed ACK (~40 ms, Nagle).
- One thread per connection, but plugin calls take a lock: plugins are usually not
  thread-safe (one model, one GPU). /health, /stats, /progress and /cancel do not take it,
  so they answer while a call runs.
- Streams: the handler thread runs the plugin's generator and appends encoded lines to a list;
  a writer thread sends whatever has accumulated as one chunk. While the socket is busy lines
  pile up (one syscall per batch, not per item); when the generator pauses, the writer sends
  at once (a yielded item reaches the host within ~1 ms).
- It dies with its host: --ppid polled every 0.5 s plus PR_SET_PDEATHSIG on Linux; on the way
  out it kills the processes the plugin started, so nothing is orphaned.
- Imports are few and lazy (traceback, dataclasses, ctypes only when needed): cold start and
  idle memory are measured against a bare `python -c "import http.server"`.
"""

import json
import os
import signal
import socket
import sys
import threading
import time
from _operator import _compare_digest  # = hmac.compare_digest; hmac itself loads OpenSSL (~4 MB)

PROTOCOL = 1
EXIT_USAGE, EXIT_IMPORT, EXIT_CONSTRUCT = 2, 3, 4
LISTEN_BACKLOG = 1024  # the kernel caps it at somaxconn; the protocol asks for >= 128
REQUEST_TIMEOUT_S = 10.0  # a started request must be complete by then (never a hang)
MAX_HEAD_BYTES = 64 * 1024
MAX_BODY_BYTES = 256 * 1024 * 1024  # inputs are passed by path, so bodies are small
STREAM_BACKLOG_LINES = 65536  # a generator waits when this many lines are not yet sent
CLEANUP_BUDGET_S = 1.0
PARENT_POLL_S = 0.5

REASONS = {
    100: "Continue", 200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
    404: "Not Found", 405: "Method Not Allowed", 408: "Request Timeout", 413: "Payload Too Large",
    431: "Request Header Fields Too Large", 500: "Internal Server Error",
}

_started_at = time.monotonic()


# ----------------------------------------------------------------------------- cancellation

class _Call:
    """One plugin call (queued or running): its id and its cancel flag."""

    __slots__ = ("call_id", "cancel")

    def __init__(self, call_id):
        self.call_id = call_id
        self.cancel = threading.Event()


_calls = set()  # every call that was accepted and has not ended (queued or running)
_calls_lock = threading.Lock()
_running = None  # the _Call that holds the plugin lock, if any


def is_cancelled():
    """True when the running plugin call was cancelled; callable from any thread of the worker."""
    call = _running
    return call is not None and call.cancel.is_set()


_cancel_lock = threading.Lock()  # a cancel and the start or end of a call happen one at a time


def _cancel(call_id):
    with _calls_lock:
        targets = [c for c in _calls if call_id is None or c.call_id == call_id]
    with _cancel_lock:
        for call in targets:
            call.cancel.set()
        if _running in targets:
            _cancel_plugin()
    return len(targets)


def _cancel_plugin():
    """A plugin with its own cancel() (cjm-plugin-system's plugins have one) stops its work through it.

    Called from the /cancel request's thread while the call runs; it should return quickly.
    """
    cancel = getattr(_state.plugin, "cancel", None)
    if callable(cancel):
        try:
            cancel()
        except Exception as exc:
            _job_error(exc)  # logged only: the call's flag is set all the same


def _reset_plugin_cancel():
    """cjm-style plugins keep cancel()'s flag in _cancel_requested: cleared before each call, as cjm does."""
    if hasattr(_state.plugin, "_cancel_requested"):
        try:
            _state.plugin._cancel_requested = False
        except Exception:  # a read-only property: the plugin manages it itself
            pass


# ----------------------------------------------------------------------------- errors

class _Cancelled(Exception):
    """The call was cancelled (reported with type `Cancelled`, category transient)."""


class _BadRequest(Exception):
    def __init__(self, status, message, close=False):
        super().__init__(message)
        self.status = status
        self.close = close


def _category(exc):
    if isinstance(exc, _Cancelled):
        return "transient"
    if isinstance(exc, (ValueError, TypeError, KeyError, FileNotFoundError, IsADirectoryError,
                        NotADirectoryError, PermissionError)):
        return "user_input"
    if isinstance(exc, (TimeoutError, ConnectionError)):
        return "transient"
    if isinstance(exc, MemoryError):
        return "resource"
    if isinstance(exc, OSError):
        import errno
        return "resource" if exc.errno == errno.ENOSPC else "fatal"
    return "fatal"


def _job_error(exc, category=None):
    """The structured error for `exc`; also prints its traceback to stderr (the plugin's log)."""
    import traceback
    trace = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    sys.stderr.write(trace)
    category = category or _category(exc)
    return {"_job_error": {
        "category": category,
        "type": "Cancelled" if isinstance(exc, _Cancelled) else type(exc).__name__,
        "message": str(exc) or type(exc).__name__,
        "retriable": category == "transient",
        "original_exc_repr": repr(exc),
        "traceback": trace,
        "plugin_name": _state.name,
        "occurred_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }}


# ----------------------------------------------------------------------------- JSON

def _to_json(value):
    """Encoder hook: what json cannot encode by itself (see "Results" in docs/protocol.md)."""
    if hasattr(type(value), "__dataclass_fields__"):
        import dataclasses
        return dataclasses.asdict(value)
    if isinstance(value, (set, frozenset)):
        return list(value)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        raise TypeError("cannot encode a %s value as JSON: return a file path instead of the "
                        "data (files are passed by path)" % type(value).__name__)
    raise TypeError("cannot encode an object of type %s as JSON: return plain data (dict, list, "
                    "str, number, bool, None, dataclass)" % type(value).__qualname__)


_encode = json.JSONEncoder(allow_nan=False, default=_to_json).encode


class _EncodeError(Exception):
    """The plugin's value cannot be encoded as JSON (a fatal `_job_error`)."""


def _encode_result(value):
    try:
        return _encode(value)
    except ValueError as exc:  # allow_nan=False
        raise _EncodeError("cannot encode the result as JSON: it contains NaN or Infinity (%s); "
                           "use null or a finite number" % exc) from None
    except (TypeError, RecursionError) as exc:
        raise _EncodeError(str(exc)) from None


def _error_of(exc):
    return _job_error(exc, "fatal" if isinstance(exc, _EncodeError) else None)


# ----------------------------------------------------------------------------- the plugin

class _State:
    plugin = None
    name = ""
    secret = b""
    allowed_hosts = ()
    lock = threading.Lock()  # serializes plugin calls
    calls = 0
    errors = 0


_state = _State()


def _plugin_call(call, method, *args, **kwargs):
    """Runs `method` under the plugin lock as `call`; returns its value or raises."""
    global _running
    with _state.lock:
        with _cancel_lock:
            if call.cancel.is_set():
                raise _Cancelled("the call was cancelled before it started")
            _reset_plugin_cancel()
            _running = call
        _prepare_plugin(call)
        try:
            return method(*args, **kwargs)
        finally:
            with _cancel_lock:
                _running = None


def _prepare_plugin(call):
    """Gives the plugin this call's cancel flag and a fresh progress (if it lets us)."""
    for attr, value in (("cancel_event", call.cancel), ("progress", None),
                        ("progress_message", None)):
        try:
            setattr(_state.plugin, attr, value)
        except Exception:  # a read-only property or __slots__: the plugin manages it itself
            pass


def _optional(name, default):
    method = getattr(_state.plugin, name, None)
    return method if callable(method) else (lambda *a, **k: default)


# ----------------------------------------------------------------------------- HTTP

def _response(status, body, extra=b"", ctype=b"application/json"):
    return b"HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n%s\r\n%s" % (
        status, REASONS[status].encode(), ctype, len(body), extra, body)


def _json_response(status, value, extra=b""):
    return _response(status, json.dumps(value).encode(), extra)


def _error_response(status, message, extra=b""):
    return _json_response(status, {"error": {"message": message}}, extra)


class _Request:
    __slots__ = ("method", "path", "headers", "keep_alive")


class _Connection:
    """One accepted socket: reads requests, writes responses."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""
        self.deadline = None  # when the request being read must be complete
        self.trusted = False  # set once a request carried the secret

    def _recv(self, started):
        """More bytes. A started request must be complete within REQUEST_TIMEOUT_S in total (a
        deadline, not a per-recv time-out: a peer sending one byte at a time, slowloris-style,
        must not hold the connection forever). An idle keep-alive connection waits as long as
        the peer likes once it has shown the secret; before that, silence counts as a started
        request, so connections without the secret cannot pile up threads."""
        bounded = started or not self.trusted
        if bounded:
            now = time.monotonic()
            if self.deadline is None:
                self.deadline = now + REQUEST_TIMEOUT_S
            if now >= self.deadline:
                raise _BadRequest(408, "the request was not complete after %ds: send the whole "
                                  "request with a correct Content-Length" % REQUEST_TIMEOUT_S, True)
            self.sock.settimeout(self.deadline - now)
        try:
            data = self.sock.recv(262144)
        except socket.timeout:
            raise _BadRequest(408, "the request was not complete after %ds: send the whole "
                              "request with a correct Content-Length" % REQUEST_TIMEOUT_S, True)
        finally:
            if bounded:
                self.sock.settimeout(None)
        if not data and started:
            raise _BadRequest(400, "the connection closed in the middle of a request", True)
        self.buf += data
        return data

    def read_head(self):
        """The next request's head, or None when the peer closed an idle connection."""
        self.deadline = None
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end >= 0:
                break
            if len(self.buf) > MAX_HEAD_BYTES:
                raise _BadRequest(431, "the request head is larger than %d bytes" % MAX_HEAD_BYTES,
                                  True)
            if not self._recv(bool(self.buf)):
                return None
        lines = self.buf[:end].decode("latin-1").split("\r\n")
        self.buf = self.buf[end + 4:]
        parts = lines[0].split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            raise _BadRequest(400, "malformed request line %r" % lines[0][:100], True)
        req = _Request()
        req.method, target, version = parts
        req.path = target.split("?", 1)[0]
        req.headers = headers = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep:
                raise _BadRequest(400, "malformed header line %r" % line[:100], True)
            headers[name.strip().lower()] = value.strip()
        connection = headers.get("connection", "").lower()
        req.keep_alive = connection != "close" and (version == "HTTP/1.1" or
                                                    connection == "keep-alive")
        return req

    def read_body(self, req):
        if req.headers.get("expect", "").lower() == "100-continue":
            self.sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        if "chunked" in req.headers.get("transfer-encoding", "").lower():
            return self._read_chunked()
        try:
            length = int(req.headers.get("content-length", "0"))
        except ValueError:
            raise _BadRequest(400, "Content-Length is not a number", True)
        if length < 0 or length > MAX_BODY_BYTES:
            raise _BadRequest(413, "the body must be between 0 and %d bytes; pass files by path"
                              % MAX_BODY_BYTES, True)
        return self._take(length)

    def _take(self, n):
        while len(self.buf) < n:
            self._recv(True)
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def _read_line(self):
        while True:
            end = self.buf.find(b"\r\n")
            if end >= 0:
                line, self.buf = self.buf[:end], self.buf[end + 2:]
                return line
            if len(self.buf) > MAX_HEAD_BYTES:
                raise _BadRequest(400, "malformed chunked body", True)
            self._recv(True)

    def _read_chunked(self):
        parts, total = [], 0
        while True:
            try:
                size = int(self._read_line().split(b";", 1)[0], 16)
            except ValueError:
                raise _BadRequest(400, "malformed chunk size in a chunked body", True)
            total += size
            if total > MAX_BODY_BYTES:
                raise _BadRequest(413, "the body is larger than %d bytes" % MAX_BODY_BYTES, True)
            if size == 0:
                while self._read_line():  # trailers up to the blank line
                    pass
                return b"".join(parts)
            parts.append(self._take(size))
            if self._take(2) != b"\r\n":
                raise _BadRequest(400, "malformed chunk in a chunked body", True)


def _serve_connection(sock):
    conn = _Connection(sock)
    try:
        while True:
            try:
                req = conn.read_head()
                if req is None:
                    return
                if not _handle(conn, req) or not req.keep_alive:
                    return
            except _BadRequest as bad:
                sock.sendall(_error_response(bad.status, str(bad), b"Connection: close\r\n"
                                             if bad.close else b""))
                if bad.close:
                    return
    except OSError:  # the peer went away; nothing left to answer
        pass
    finally:
        sock.close()


def _refusal(req):
    """401/403 for a request that must not reach the plugin, else None."""
    auth = req.headers.get("authorization", "")
    if not (auth.startswith("Bearer ") and
            _compare_digest(auth[7:].strip().encode("latin-1"), _state.secret)):
        return _error_response(401, "missing or wrong secret: send 'Authorization: Bearer <secret>'"
                                    " with the secret from RPP_WORKER_SECRET",
                               b"Connection: close\r\n")
    if req.headers.get("host") not in _state.allowed_hosts:
        return _error_response(403, "foreign Host header %r: this worker only answers %s"
                               % (req.headers.get("host"), " or ".join(_state.allowed_hosts)),
                               b"Connection: close\r\n")
    if "origin" in req.headers:
        return _error_response(403, "requests with an Origin header (from a browser) are refused",
                               b"Connection: close\r\n")
    return None


def _handle(conn, req):
    """Answers one request; False when the connection must be closed afterwards."""
    refusal = _refusal(req)
    if refusal is not None:
        conn.sock.sendall(refusal)
        return False
    conn.trusted = True
    route = ROUTES.get(req.path)
    if route is None:
        conn.read_body(req)  # read anyway, to keep the connection's framing in step
        conn.sock.sendall(_error_response(404, "unknown path %r; see docs/protocol.md" % req.path))
        return True
    method, handler, parse = route
    body = conn.read_body(req)
    if req.method != method:
        conn.sock.sendall(_error_response(405, "%s takes %s, not %s" % (req.path, method,
                                          req.method), b"Allow: %s\r\n" % method.encode()))
        return True
    return handler(conn, req, parse(body) if parse else None) is not False


def _parse_object(body):
    if not body.strip():
        return {}
    try:
        value = json.loads(body)
    except ValueError as exc:
        raise _BadRequest(400, "the body is not valid JSON: %s" % exc)
    if not isinstance(value, dict):
        raise _BadRequest(400, "the body must be a JSON object, not %s" % type(value).__name__)
    return value


def _parse_call(body):
    value = _parse_object(body)
    args, kwargs = value.get("args", []), value.get("kwargs", {})
    if not isinstance(args, list) or not isinstance(kwargs, dict):
        raise _BadRequest(400, 'the body must look like {"args": [...], "kwargs": {...}}')
    return args, kwargs


def _parse_cancel(body):
    call_id = _parse_object(body).get("call_id")
    if call_id is not None and not isinstance(call_id, str):
        raise _BadRequest(400, '"call_id" must be a string')
    return call_id


# ----------------------------------------------------------------------------- endpoints

def _new_call(req):
    call = _Call(req.headers.get("x-rpp-call-id"))
    with _calls_lock:
        _calls.add(call)
    return call


def _end_call(call):
    with _calls_lock:
        _calls.discard(call)


def _run_job(call, method, *args, **kwargs):
    """(status, body) of a plugin call whose result is returned as one JSON document."""
    _state.calls += 1
    try:
        result = _plugin_call(call, method, *args, **kwargs)
        if call.cancel.is_set():
            raise _Cancelled("the call was cancelled")
        return 200, _encode_result(result).encode()
    except Exception as exc:
        _state.errors += 1
        if call.cancel.is_set() and not isinstance(exc, _Cancelled):
            exc = _Cancelled("the call was cancelled (%s: %s)" % (type(exc).__name__, exc))
        return 500, json.dumps(_error_of(exc)).encode()
    finally:
        _end_call(call)


def _execute(conn, req, call_args):
    args, kwargs = call_args
    status, body = _run_job(_new_call(req), _state.plugin.execute, *args, **kwargs)
    conn.sock.sendall(_response(status, body))


def _initialize(conn, req, config):
    status, body = _run_job(_new_call(req), _initialize_plugin, config)
    conn.sock.sendall(_response(status, body))


def _initialize_plugin(config):
    _optional("initialize", None)(config)
    return {"status": "ok"}


def _plugin_getter(name):
    def endpoint(conn, req, _body):
        call = _new_call(req)
        try:
            value = _plugin_call(call, _optional(name, {}))
            conn.sock.sendall(_response(200, _encode_result(value).encode()))
        except Exception as exc:
            conn.sock.sendall(_response(500, json.dumps(_error_of(exc)).encode()))
        finally:
            _end_call(call)
    return endpoint


def _health(conn, _req, _body):
    conn.sock.sendall(_json_response(200, {"status": "ok", "plugin": _state.name,
                                           "pid": os.getpid(), "busy": _running is not None,
                                           "protocol": PROTOCOL}))


def _progress(conn, _req, _body):
    call = _running
    plugin = _state.plugin
    conn.sock.sendall(_json_response(200, {
        "busy": call is not None,
        "call_id": call.call_id if call else None,
        "progress": _number_or_none(getattr(plugin, "progress", None)) if call else None,
        "message": _str_or_none(getattr(plugin, "progress_message", None)) if call else None,
    }))


def _number_or_none(value):
    return float(value) if isinstance(value, (int, float)) and value == value else None


def _str_or_none(value):
    return None if value is None else str(value)


def _cancel_endpoint(conn, _req, call_id):
    conn.sock.sendall(_json_response(200, {"cancelled": _cancel(call_id)}))


def _stats_endpoint(conn, _req, _body):
    conn.sock.sendall(_json_response(200, _stats()))


def _cleanup_endpoint(conn, _req, _body):
    error = _bounded_cleanup(CLEANUP_BUDGET_S)
    if error is None:
        conn.sock.sendall(_json_response(200, {"status": "ok"}, b"Connection: close\r\n"))
    else:
        conn.sock.sendall(_response(500, json.dumps(_job_error(error)).encode(),
                                    b"Connection: close\r\n"))
    _exit(0, cleanup_budget=0)


# ----------------------------------------------------------------------------- streaming

class _ChunkWriter(threading.Thread):
    """Sends the lines the generator produces, as HTTP chunks, batching while the socket is busy."""

    def __init__(self, sock, call):
        super().__init__(daemon=True)
        self.sock, self.call = sock, call
        self.lines = []
        self.idle = False
        self.done = False
        self.failed = False
        self.wake = threading.Event()
        self.room = threading.Event()

    def run(self):
        lines, wake = self.lines, self.wake
        try:
            while True:
                if lines:
                    self._send_batch()
                    continue
                if self.done:
                    self.sock.sendall(b"0\r\n\r\n")
                    return
                self.idle = True
                if not lines and not self.done and not wake.wait(0.25):
                    self._check_peer()
                wake.clear()
                self.idle = False
        except OSError:  # the client went away: stop the generator at its next item
            self.failed = True
            self.call.cancel.set()
            self.room.set()

    def _send_batch(self):
        lines = self.lines
        n = len(lines)
        data = ("\n".join(lines[:n]) + "\n").encode()
        del lines[:n]  # the generator only appends, so the first n lines are the ones joined
        self.room.set()
        self.sock.sendall(b"%x\r\n%s\r\n" % (len(data), data))

    def _check_peer(self):
        import select
        readable = select.select([self.sock], [], [], 0)[0]
        if readable and not self.sock.recv(1, socket.MSG_PEEK):
            raise ConnectionResetError("the client closed the stream")

    def push(self, line):
        self.lines.append(line)
        if self.idle:
            self.wake.set()

    def wait_for_room(self):
        while len(self.lines) > STREAM_BACKLOG_LINES and not self.failed:
            self.room.clear()
            if len(self.lines) > STREAM_BACKLOG_LINES:
                self.room.wait(0.25)

    def finish(self):
        self.done = True
        self.wake.set()
        self.join()


def _execute_stream(conn, req, call_args):
    call = _new_call(req)
    _state.calls += 1
    try:
        writer = _plugin_call(call, _stream, conn.sock, call, *call_args)
    except _Cancelled as exc:  # cancelled while queued: no stream was started
        _state.errors += 1
        conn.sock.sendall(_response(500, json.dumps(_error_of(exc)).encode()))
        return True
    finally:
        _end_call(call)
    writer.finish()  # after the lock is released: once the client has it all, the worker is idle
    return not writer.failed


def _stream(sock, call, args, kwargs):
    """Streams the plugin's items as NDJSON; returns the writer, still to be finished."""
    sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\n"
                 b"Transfer-Encoding: chunked\r\n\r\n")
    writer = _ChunkWriter(sock, call)
    writer.start()
    error = _pump(call, writer, args, kwargs)
    if error is not None and not writer.failed:  # a client that left is not a plugin error
        _state.errors += 1
        writer.push(json.dumps(_error_of(error)))
    return writer


def _pump(call, writer, args, kwargs):
    """Runs the plugin's generator into `writer`; returns the exception that ended it, if any."""
    cancelled, push, encode = call.cancel.is_set, writer.push, _encode_result
    items = None
    try:
        stream = getattr(_state.plugin, "execute_stream", None)
        if not callable(stream):
            push(encode(_state.plugin.execute(*args, **kwargs)))
            return None
        items = iter(stream(*args, **kwargs))
        for item in items:
            push(encode(item))
            if cancelled():
                raise _Cancelled("the stream was cancelled")
            if len(writer.lines) > STREAM_BACKLOG_LINES:
                writer.wait_for_room()
        return None
    except Exception as exc:
        if cancelled() and not isinstance(exc, _Cancelled):
            exc = _Cancelled("the stream was cancelled (%s: %s)" % (type(exc).__name__, exc))
        return exc
    finally:
        close = getattr(items, "close", None)
        if close is not None:
            try:
                close()  # GeneratorExit inside the plugin, so its finally blocks run
            except Exception as exc:
                _job_error(exc)  # logged only: the stream already has its ending


# ----------------------------------------------------------------------------- stats

def _proc_table():
    """{pid: (ppid, pgid, cpu_ticks, threads, rss_pages)} of every process, from /proc."""
    table = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name, "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except OSError:  # the process ended while we looked
            continue
        table[int(name)] = (int(fields[1]), int(fields[2]),
                            sum(int(x) for x in fields[11:15]), int(fields[17]), int(fields[21]))
    return table


def _descendants(table, root):
    children = {}
    for pid, row in table.items():
        children.setdefault(row[0], []).append(pid)
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), ()):
            found.append(child)
            todo.append(child)
    return found


_last_cpu = [0.0, _started_at]  # tree CPU seconds and wall time at the previous /stats


def _stats():
    if sys.platform.startswith("linux"):
        rss, rss_children, cpu_s, threads, children = _tree_usage_procfs()
    else:
        rss, rss_children, cpu_s, threads, children = _tree_usage_psutil()
    now = time.monotonic()
    previous_cpu, previous_time = _last_cpu
    _last_cpu[:] = [cpu_s, now]
    cpu_percent = max(0.0, cpu_s - previous_cpu) * 100.0 / max(now - previous_time, 1e-6)
    return {"pid": os.getpid(), "rss_bytes": rss, "rss_children_bytes": rss_children,
            "cpu_percent": round(cpu_percent, 1), "threads": threads, "children": children,
            "uptime_s": round(now - _started_at, 3), "calls": _state.calls,
            "errors": _state.errors, "busy": _running is not None,
            "python": _python_version(), "platform": sys.platform}


def _tree_usage_procfs():
    table = _proc_table()
    me = os.getpid()
    tree = _descendants(table, me)
    page, tick = os.sysconf("SC_PAGE_SIZE"), os.sysconf("SC_CLK_TCK")
    own = table.get(me, (0, 0, 0, 0, 0))
    rss_children = sum(table[p][4] for p in tree) * page
    cpu_s = (own[2] + sum(table[p][2] for p in tree)) / tick
    return own[4] * page + rss_children, rss_children, cpu_s, own[3], len(tree)


def _tree_usage_psutil():
    try:
        import psutil
    except ImportError:  # without psutil on this OS the figures are unknown, not invented
        return 0, 0, 0.0, threading.active_count(), 0
    me = psutil.Process()
    tree = me.children(recursive=True)
    rss_children = sum(_safe(lambda p=p: p.memory_info().rss) for p in tree)
    cpu_s = sum(_safe(lambda p=p: sum(p.cpu_times()[:2])) for p in [me] + tree)
    return me.memory_info().rss + rss_children, rss_children, cpu_s, me.num_threads(), len(tree)


def _safe(read):
    try:
        return read()
    except Exception:  # the process ended while we looked
        return 0


def _python_version():
    return "%d.%d.%d" % sys.version_info[:3]


# ----------------------------------------------------------------------------- lifetime

_exiting = threading.Lock()


def _bounded_cleanup(budget_s):
    """Calls the plugin's cleanup() for at most budget_s; returns its exception, if any."""
    outcome = []

    def run():
        try:
            _optional("cleanup", None)()
        except Exception as exc:
            outcome.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(budget_s)
    return outcome[0] if outcome else None


def _kill_descendants():
    """SIGKILLs the processes the plugin started: our descendants and our process group."""
    if not sys.platform.startswith("linux"):
        return _kill_descendants_psutil()
    me = os.getpid()
    table = _proc_table()
    victims = set(_descendants(table, me))
    if os.getpgrp() == me:  # only our own group: if we are not its leader, it is the host's
        victims.update(pid for pid, row in table.items() if row[1] == me and pid != me)
    for pid in victims:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def _kill_descendants_psutil():
    try:
        import psutil
    except ImportError:  # without psutil only the process group can be reached
        return
    for child in psutil.Process().children(recursive=True):
        _safe(child.kill)


def _exit(code, cleanup_budget):
    """Cleans up (bounded), kills what the plugin started, and exits; runs once."""
    if not _exiting.acquire(blocking=False):
        return
    if cleanup_budget:
        error = _bounded_cleanup(cleanup_budget)
        if error is not None:
            _job_error(error)
    _kill_descendants()
    os._exit(code)


def _on_signal(_signum, _frame):
    _exit(0, CLEANUP_BUDGET_S)


def _watch_parent(ppid):
    """Exits when the host process is gone (the seed's --ppid suicide pact)."""
    was_child = os.getppid() == ppid
    while True:
        time.sleep(PARENT_POLL_S)
        if (os.getppid() != ppid) if was_child else not _pid_alive(ppid):
            sys.stderr.write("rpp_worker: host process %d is gone, exiting\n" % ppid)
            _exit(0, PARENT_POLL_S)


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _die_with_parent(ppid):
    """PR_SET_PDEATHSIG(SIGTERM): the kernel signals us the moment the host dies (Linux).

    Only when the host is our direct parent: the signal follows the parent, not --ppid."""
    if not sys.platform.startswith("linux") or os.getppid() != ppid:
        return
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # 1 = PR_SET_PDEATHSIG
    except Exception as exc:  # no libc/ctypes: the --ppid poll still covers it
        sys.stderr.write("rpp_worker: PR_SET_PDEATHSIG unavailable (%s)\n" % exc)
        return
    if os.getppid() != ppid:  # the host died before prctl: no signal will come
        _exit(0, PARENT_POLL_S)


# ----------------------------------------------------------------------------- start-up

def _parse_argv(argv):
    usage = ("usage: rpp_worker.py --module MOD --class CLS [--port 0] [--ppid PID] "
             "[--sys-path DIR]... [--name PLUGIN_NAME]")
    opts = {"--port": "0", "--sys-path": []}
    it = iter(argv)
    for flag in it:
        value = next(it, None)
        if flag not in ("--module", "--class", "--port", "--ppid", "--sys-path", "--name") \
                or value is None:
            _fail(EXIT_USAGE, "rpp_worker: bad argument %r\n%s" % (flag, usage))
        if flag == "--sys-path":
            opts[flag].append(value)
        else:
            opts[flag] = value
    if "--module" not in opts or "--class" not in opts:
        _fail(EXIT_USAGE, "rpp_worker: --module and --class are required\n" + usage)
    try:
        opts["--port"] = int(opts["--port"])
        opts["--ppid"] = int(opts["--ppid"]) if "--ppid" in opts else None
    except ValueError:
        _fail(EXIT_USAGE, "rpp_worker: --port and --ppid take numbers\n" + usage)
    return opts


def _fail(code, message):
    sys.stderr.write(message.rstrip("\n") + "\n")
    sys.stderr.flush()
    os._exit(code)


def _load_plugin(module_name, class_name):
    """Imports and constructs the plugin class; exits 3 or 4 with the traceback on failure."""
    import importlib
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except BaseException:
        import traceback
        traceback.print_exc()
        _fail(EXIT_IMPORT, "rpp_worker: cannot import %s.%s (check the manifest's module/class "
                           "and python_path)" % (module_name, class_name))
    try:
        return cls()
    except BaseException:
        import traceback
        traceback.print_exc()
        _fail(EXIT_CONSTRUCT, "rpp_worker: constructing %s.%s() failed" % (module_name, class_name))


def _listen(port):
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", port))
    server.listen(LISTEN_BACKLOG)
    return server


def _serve(server):
    nodelay = (socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    while True:
        try:
            sock, _addr = server.accept()
        except OSError:  # e.g. EMFILE under a burst: wait a moment instead of spinning
            time.sleep(0.01)
            continue
        sock.setsockopt(*nodelay)
        threading.Thread(target=_serve_connection, args=(sock,), daemon=True).start()


ROUTES = {
    "/health": ("GET", _health, None),
    "/stats": ("GET", _stats_endpoint, None),
    "/progress": ("GET", _progress, None),
    "/config_schema": ("GET", _plugin_getter("get_config_schema"), None),
    "/config": ("GET", _plugin_getter("get_current_config"), None),
    "/initialize": ("POST", _initialize, _parse_object),
    "/execute": ("POST", _execute, _parse_call),
    "/execute_stream": ("POST", _execute_stream, _parse_call),
    "/cancel": ("POST", _cancel_endpoint, _parse_cancel),
    "/cleanup": ("POST", _cleanup_endpoint, None),
}


def main(argv):
    opts = _parse_argv(argv)
    ready_fd = os.dup(1)  # private: the only way to the host's protocol channel
    os.dup2(2, 1)  # whatever the plugin prints, even from C, goes to the log
    secret = os.environ.pop("RPP_WORKER_SECRET", "")  # popped: the plugin's children need not see it
    if not secret:
        _fail(EXIT_USAGE, "rpp_worker: RPP_WORKER_SECRET is not set; the host must pass a secret")
    _state.secret = secret.encode("latin-1")
    _state.name = opts.get("--name") or opts["--class"]
    sys.modules.setdefault("rpp_worker", sys.modules[__name__])  # plugins import is_cancelled
    sys.path[:0] = opts["--sys-path"]
    signal.signal(signal.SIGTERM, _on_signal)
    _state.plugin = _load_plugin(opts["--module"], opts["--class"])
    server = _listen(opts["--port"])
    port = server.getsockname()[1]
    _state.allowed_hosts = ("127.0.0.1:%d" % port, "localhost:%d" % port)
    ready = {"rpp_worker": 1, "protocol": PROTOCOL, "port": port, "pid": os.getpid(),
             "plugin": _state.name, "python": _python_version()}
    os.write(ready_fd, (json.dumps(ready) + "\n").encode())
    os.close(ready_fd)
    if opts["--ppid"] is not None:
        _die_with_parent(opts["--ppid"])
        threading.Thread(target=_watch_parent, args=(opts["--ppid"],), daemon=True).start()
    _serve(server)


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except KeyboardInterrupt:
        _exit(0, CLEANUP_BUDGET_S)
