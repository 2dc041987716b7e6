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
- New connections wait in one accept thread (a selector) until their first request shows the
  secret; only then does a connection get a thread of its own. A stranger's silent connections
  thus cost no threads (capped, timed out), and a thread that cannot be started costs one 503.
- One thread per admitted connection, but plugin calls take a lock: plugins are usually not
  thread-safe (one model, one GPU). /health, /stats, /progress and /cancel do not take it,
  so they answer while a call runs.
- Bodies are read in linear time, straight into their final buffer, and bounded by a minimum
  data rate rather than a fixed total time (a 130 MB body is legitimate).
- Streams: the handler thread runs the plugin's generator and appends encoded lines to a list;
  a writer thread sends whatever has accumulated as one chunk. While the socket is busy lines
  pile up (one syscall per batch, not per item), up to STREAM_BUFFER_BYTES: then the generator
  waits, so a slow reader slows the plugin instead of growing the worker. When the generator
  pauses, the writer sends at once (a yielded item reaches the host within ~1 ms).
- It dies with its host: --ppid polled every 0.5 s plus PR_SET_PDEATHSIG on Linux; on the way
  out it kills the processes the plugin started, so nothing is orphaned.
- Imports are few and lazy (traceback, dataclasses, ctypes only when needed): cold start and
  idle memory are measured against a bare `python -c "import http.server"`.
"""

import json
import math
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
REQUEST_TIMEOUT_S = 10.0  # a started request head must be complete by then (never a hang)
MIN_BODY_RATE = 1024 * 1024  # bytes/s a body must average after REQUEST_TIMEOUT_S of grace
MAX_HEAD_BYTES = 64 * 1024
MAX_BODY_BYTES = 256 * 1024 * 1024  # inputs are passed by path; inline data up to this is read
MAX_UNAUTHENTICATED = 256  # connections without the secret yet (an fd each, no thread); more close the oldest
UNAUTHENTICATED_TIMEOUT_S = 5.0  # ... and each must send its first request head by then
STREAM_BUFFER_BYTES = 4 * 1024 * 1024  # a generator waits while this much is not yet sent
RECV_BYTES = 262144
CPU_SAMPLE_MIN_S = 0.5  # /stats computes cpu_percent over at least this much wall time
CLEANUP_BUDGET_S = 1.0
PARENT_POLL_S = 0.5

REASONS = {
    100: "Continue", 200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
    404: "Not Found", 405: "Method Not Allowed", 408: "Request Timeout", 413: "Payload Too Large",
    431: "Request Header Fields Too Large", 500: "Internal Server Error", 503: "Service Unavailable",
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
    """The structured error for `exc`; also prints its traceback to stderr (the plugin's log).
    Never raises: an exception whose str() or repr() raises is still reported, by its type."""
    trace = _safely(_traceback_text, exc)
    sys.stderr.write(trace)
    category = category or _category(exc)
    name = type(exc).__name__
    return {"_job_error": {
        "category": category,
        "type": "Cancelled" if isinstance(exc, _Cancelled) else name,
        "message": _safely(str, exc) or name,
        "retriable": category == "transient",
        "original_exc_repr": _safely(repr, exc),
        "traceback": trace,
        "plugin_name": _state.name,
        "occurred_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }}


def _traceback_text(exc):
    import traceback
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


def _safely(render, exc):
    """render(exc) as text, or a note saying it failed (a plugin's __str__ may raise anything)."""
    try:
        text = render(exc)
        if isinstance(text, str):
            return text
    except Exception as failure:
        return "%s (its %s() raised %s)" % (type(exc).__name__, getattr(render, "__name__", "text"),
                                           type(failure).__name__)
    return type(exc).__name__


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
    counts_lock = threading.Lock()  # calls and errors are counted from every connection's thread


_state = _State()


def _count(calls=0, errors=0):
    with _state.counts_lock:
        _state.calls += calls
        _state.errors += errors


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

def _head(status, length, extra=b"", ctype=b"application/json"):
    return b"HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n%s\r\n" % (
        status, REASONS[status].encode(), ctype, length, extra)


def _response(status, body, extra=b"", ctype=b"application/json"):
    return _head(status, len(body), extra, ctype) + body


def _send_response(sock, status, body):
    """One sendall for a small response (see the notes at the top); a large body is sent after its
    head instead of being copied behind it (a 100 MB result would briefly take another 100 MB)."""
    if len(body) < RECV_BYTES:
        sock.sendall(_response(status, body))
    else:
        sock.sendall(_head(status, len(body)))
        sock.sendall(body)


def _json_response(status, value, extra=b""):
    return _response(status, json.dumps(value).encode(), extra)


def _error_response(status, message, extra=b""):
    return _json_response(status, {"error": {"message": message}}, extra)


class _Request:
    __slots__ = ("method", "path", "headers", "keep_alive")


def _parse_head(head):
    """The request in `head` (the bytes before the blank line), or _BadRequest."""
    lines = head.decode("latin-1").split("\r\n")
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


class _Connection:
    """A connection that has shown the secret, served by its own thread: reads requests, writes
    responses. Bytes are read in linear time: the head through a small buffer with an offset, a body
    straight into one preallocated bytearray (never `buf += data`, which copies it all per recv)."""

    def __init__(self, sock, buffered=b""):
        self.sock = sock
        self.buf = buffered
        self.pos = 0  # bytes of buf before pos are consumed
        self.head_deadline = None  # when the head being read must be complete
        self.body_started = None  # when the body being read began (for the minimum data rate)
        self.body_read = 0

    def _budget(self, started):
        """(seconds this read may wait or None, the 408 message)."""
        if self.body_started is not None:
            limit = self.body_started + REQUEST_TIMEOUT_S + self.body_read / MIN_BODY_RATE
            return limit - time.monotonic(), (
                "the body arrived slower than %d KB/s on average: send it at once, with a "
                "correct Content-Length" % (MIN_BODY_RATE // 1024))
        if not started:
            return None, ""  # an idle keep-alive connection of the host waits as long as it likes
        if self.head_deadline is None:
            self.head_deadline = time.monotonic() + REQUEST_TIMEOUT_S
        return self.head_deadline - time.monotonic(), (
            "the request head was not complete after %ds" % REQUEST_TIMEOUT_S)

    def _recv(self, started, into=None):
        """Reads more bytes: into `into` (a memoryview) or onto the buffer; returns how many."""
        wait, message = self._budget(started)
        if wait is not None:
            if wait <= 0:
                raise _BadRequest(408, message, True)
            self.sock.settimeout(wait)
        try:
            if into is not None:
                count = self.sock.recv_into(into)
            else:
                data = self.sock.recv(RECV_BYTES)
                count = len(data)
                if count:
                    self.buf = self.buf[self.pos:] + data  # only an unfinished line is carried over
                    self.pos = 0
        except socket.timeout:
            raise _BadRequest(408, message, True)
        finally:
            if wait is not None:
                self.sock.settimeout(None)
        if not count and started:
            raise _BadRequest(400, "the connection closed in the middle of a request", True)
        self.body_read += count
        return count

    def read_head(self):
        """The next request's head, or None when the peer closed an idle connection."""
        self.head_deadline = None
        while True:
            end = self.buf.find(b"\r\n\r\n", self.pos)
            if end >= 0:
                break
            if len(self.buf) - self.pos > MAX_HEAD_BYTES:
                raise _BadRequest(431, "the request head is larger than %d bytes" % MAX_HEAD_BYTES,
                                  True)
            if not self._recv(len(self.buf) > self.pos):
                return None
        head, self.pos = self.buf[self.pos:end], end + 4
        return _parse_head(head)

    def read_body(self, req):
        if req.headers.get("expect", "").lower() == "100-continue":
            self.sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        self.body_started, self.body_read = time.monotonic(), 0
        try:
            if "chunked" in req.headers.get("transfer-encoding", "").lower():
                return self._read_chunked()
            try:
                length = int(req.headers.get("content-length", "0"))
            except ValueError:
                raise _BadRequest(400, "Content-Length is not a number", True)
            if length < 0 or length > MAX_BODY_BYTES:
                raise _BadRequest(413, "the body must be between 0 and %d bytes; pass files by "
                                  "path" % MAX_BODY_BYTES, True)
            return _text(self._take(length))
        finally:
            self.body_started = None

    def _take(self, n):
        """Exactly n bytes: from the buffer, the rest received straight into their final place."""
        have = len(self.buf) - self.pos
        if have >= n:
            data, self.pos = self.buf[self.pos:self.pos + n], self.pos + n
            return data
        out = _receive_buffer(n)
        view = memoryview(out)
        view[:have] = memoryview(self.buf)[self.pos:]
        self.buf, self.pos = b"", 0
        while have < n:
            have += self._recv(True, view[have:])
        view.release()
        return out

    def _read_line(self):
        while True:
            end = self.buf.find(b"\r\n", self.pos)
            if end >= 0:
                line, self.pos = self.buf[self.pos:end], end + 2
                return line
            if len(self.buf) - self.pos > MAX_HEAD_BYTES:
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
            if size < 0 or total > MAX_BODY_BYTES:
                raise _BadRequest(413, "the body is larger than %d bytes" % MAX_BODY_BYTES, True)
            if size == 0:
                while self._read_line():  # trailers up to the blank line
                    pass
                body = b"".join(parts)
                for part in parts:
                    _release(part)
                return _text(body)
            parts.append(self._take(size))
            if self._take(2) != b"\r\n":
                raise _BadRequest(400, "malformed chunk in a chunked body", True)


def _receive_buffer(n):
    """Where a body of n bytes is received. A large one goes into an anonymous mapping: its pages are
    zero until written, so they are touched once (bytearray(n) zero-fills them first), and it is
    unmapped as soon as the text is decoded, before the plugin runs."""
    if n < RECV_BYTES:
        return bytearray(n)
    import mmap
    if hasattr(mmap, "MAP_PRIVATE"):  # POSIX: private pages (the default, shared, are slower to fill)
        return mmap.mmap(-1, n, flags=mmap.MAP_PRIVATE)
    return mmap.mmap(-1, n)


def _text(body):
    """The body as text (JSON is UTF-8); a received mapping is released once decoded."""
    try:
        return str(body, "utf-8", "surrogatepass")  # what json.loads does with bytes
    except UnicodeDecodeError as exc:
        raise _BadRequest(400, "the body is not UTF-8 text: %s" % exc)
    finally:
        _release(body)


def _release(buffer):
    if not isinstance(buffer, (bytes, bytearray)):  # a mapping from _receive_buffer
        buffer.close()


def _serve_connection(sock, first, buffered):
    """Serves a connection whose first request (`first`, already read and admitted) showed the
    secret. Whatever goes wrong in one request is answered (4xx/5xx), never a silent close."""
    conn = _Connection(sock, buffered)
    req = first
    try:
        sock.setblocking(True)
        while True:
            try:
                if req is None:
                    req = conn.read_head()
                    if req is None:
                        return
                if not _handle(conn, req) or not req.keep_alive:
                    return
                req = None
            except _BadRequest as bad:
                sock.sendall(_error_response(bad.status, str(bad), b"Connection: close\r\n"
                                             if bad.close else b""))
                if bad.close:
                    return
                req = None
    except OSError:  # the peer went away; nothing left to answer
        pass
    except Exception as exc:  # a fault of the worker itself: say so, then close (framing is lost)
        _answer_fault(sock, exc)
    finally:
        sock.close()


def _answer_fault(sock, exc):
    _job_error(exc)  # the traceback goes to the log
    message = "the worker failed on this request (%s: %s); see the plugin's log" % (
        type(exc).__name__, _safely(str, exc)[:500])
    try:
        sock.sendall(_error_response(500, message, b"Connection: close\r\n"))
    except OSError:
        pass


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
    if not body or body.isspace():  # no strip(): that would copy a 100 MB body
        return {}
    try:
        value = json.loads(body)
    except ValueError as exc:
        raise _BadRequest(400, "the body is not valid JSON: %s" % exc)
    except RecursionError:
        raise _BadRequest(400, "the body is JSON nested deeper than Python's recursion limit "
                          "(%d levels): flatten the data" % sys.getrecursionlimit())
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


def _cancelled_as_such(call, exc):
    """A cancelled call's failure is reported as the cancellation it is."""
    if call.cancel.is_set() and not isinstance(exc, _Cancelled):
        return _Cancelled("the call was cancelled (%s: %s)" % (type(exc).__name__,
                                                                _safely(str, exc)))
    return exc


def _run_job(call, method, *args, **kwargs):
    """(status, body) of a plugin call whose result is returned as one JSON document."""
    _count(calls=1)
    try:
        result = _plugin_call(call, method, *args, **kwargs)
        if call.cancel.is_set():
            raise _Cancelled("the call was cancelled")
        return 200, _encode_result(result).encode()
    except Exception as exc:
        _count(errors=1)
        return 500, json.dumps(_error_of(_cancelled_as_such(call, exc))).encode()
    finally:
        _end_call(call)


def _execute(conn, req, call_args):
    args, kwargs = call_args
    status, body = _run_job(_new_call(req), _state.plugin.execute, *args, **kwargs)
    _send_response(conn.sock, status, body)


def _initialize(conn, req, config):
    status, body = _run_job(_new_call(req), _initialize_plugin, config)
    _send_response(conn.sock, status, body)


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
                                           "protocol": PROTOCOL,
                                           "streams": callable(getattr(_state.plugin, "execute_stream", None))}))


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
    try:
        number = float(value) if isinstance(value, (int, float)) else None
    except OverflowError:  # an int too large for a float
        return None
    return number if number is not None and math.isfinite(number) else None


def _str_or_none(value):
    return None if value is None else _safely(str, value)


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
    """Sends the lines the generator produces, as HTTP chunks, batching while the socket is busy.

    What is not yet sent is bounded by bytes, not lines: once STREAM_BUFFER_BYTES are waiting the
    generator waits (wait_for_room), so a client that reads slowly slows the plugin down instead of
    growing the worker. `pushed` is written only by the generator's thread and `sent` only by this
    one, so their difference needs no lock."""

    def __init__(self, sock, call):
        super().__init__(daemon=True)
        self.sock, self.call = sock, call
        self.lines = []
        self.pushed = 0  # bytes appended to lines (each line and its newline)
        self.sent = 0  # bytes of lines handed to the kernel
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
        text = "\n".join(lines[:n]) + "\n"
        del lines[:n]  # the generator only appends, so the first n lines are the ones joined
        data = text.encode()
        del text
        if len(data) < RECV_BYTES:
            self.sock.sendall(b"%x\r\n%s\r\n" % (len(data), data))
        else:  # not copied once more behind its chunk header
            self.sock.sendall(b"%x\r\n" % len(data))
            self.sock.sendall(data)
            self.sock.sendall(b"\r\n")
        # Counted as sent once the kernel has it (it delivers it even if the process dies next), so the
        # generator is resumed past the bound only when what it yielded before is safe.
        self.sent += len(data)  # the lines are ASCII (json escapes the rest): chars = bytes
        self.room.set()

    def _check_peer(self):
        import select
        readable = select.select([self.sock], [], [], 0)[0]
        if readable and not self.sock.recv(1, socket.MSG_PEEK):
            raise ConnectionResetError("the client closed the stream")

    def push(self, line):
        self.lines.append(line)
        self.pushed += len(line) + 1
        if self.idle:
            self.wake.set()

    def full(self):
        return self.pushed - self.sent > STREAM_BUFFER_BYTES

    def wait_for_room(self):
        """Blocks the generator while the buffer is full; a /cancel or a client that left ends it."""
        cancelled = self.call.cancel.is_set
        while self.full() and not self.failed and not cancelled():
            self.room.clear()
            if self.full():
                self.room.wait(0.1)

    def finish(self):
        self.done = True
        self.wake.set()
        self.join()


def _execute_stream(conn, req, call_args):
    call = _new_call(req)
    _count(calls=1)
    try:
        writer = _plugin_call(call, _stream, conn.sock, call, *call_args)
    except _Cancelled as exc:  # cancelled while queued: no stream was started
        _count(errors=1)
        conn.sock.sendall(_response(500, json.dumps(_error_of(exc)).encode()))
        return True
    finally:
        _end_call(call)
    writer.finish()  # after the lock is released: once the client has it all, the worker is idle
    return not writer.failed


def _stream(sock, call, args, kwargs):
    """Streams the plugin's items as NDJSON; returns the writer, still to be finished."""
    writer = _ChunkWriter(sock, call)
    writer.start()  # before the head: if no thread can be had, the answer is still a plain 500
    try:
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n")
    except OSError:
        writer.finish()  # its last send fails too, and it ends
        raise
    error = _pump(call, writer, args, kwargs)
    if error is not None and not writer.failed:  # a client that left is not a plugin error
        _count(errors=1)
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
            if writer.pushed - writer.sent > STREAM_BUFFER_BYTES:
                writer.wait_for_room()
            if cancelled():
                raise _Cancelled("the stream was cancelled")
        return None
    except Exception as exc:
        return _cancelled_as_such(call, exc)
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


class _CpuMeter:
    """cpu_percent from two samples of the tree's CPU time, over at least CPU_SAMPLE_MIN_S of wall
    time (CPU time comes in 10 ms ticks: two /stats a few ms apart would read 0 % or 300 %), capped
    by the cores this process may use. The first sample is taken when the worker starts serving."""

    def __init__(self):
        self.lock = threading.Lock()  # /stats is answered on any connection's thread
        self.sample = (0.0, _started_at)
        self.percent = 0.0
        self.cap = 100.0 * _core_count()

    def start(self):
        cpu = os.times()
        self.sample = (cpu[0] + cpu[1] + cpu[2] + cpu[3], time.monotonic())

    def read(self, cpu_s, now):
        with self.lock:
            previous_cpu, previous_time = self.sample
            if now - previous_time >= CPU_SAMPLE_MIN_S:
                busy = max(0.0, cpu_s - previous_cpu) * 100.0 / (now - previous_time)
                self.percent = min(busy, self.cap)
                self.sample = (cpu_s, now)
            return self.percent


def _core_count():
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on macOS or Windows
        return os.cpu_count() or 1


_cpu = _CpuMeter()


def _stats():
    if sys.platform.startswith("linux"):
        rss, rss_children, cpu_s, threads, children = _tree_usage_procfs()
    else:
        rss, rss_children, cpu_s, threads, children = _tree_usage_psutil()
    now = time.monotonic()
    with _state.counts_lock:
        calls, errors = _state.calls, _state.errors
    return {"pid": os.getpid(), "rss_bytes": rss, "rss_children_bytes": rss_children,
            "cpu_percent": round(_cpu.read(cpu_s, now), 1), "threads": threads,
            "children": children, "uptime_s": round(now - _started_at, 3), "calls": calls,
            "errors": errors, "busy": _running is not None,
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
#
# The host starts us through worker/rpp_keeper.py, our parent, which ends our whole process tree
# when the host is gone or asks, without needing any of this code to run (a plugin may hold the
# GIL for minutes). What follows is the second line, and the first one when we are started
# without the keeper (by another host, or by the tests): clean up when asked, die with the parent.

_exiting = threading.Lock()
_cleaned = threading.Lock()  # the plugin's cleanup() runs at most once (/cleanup, then SIGTERM)
_KEEPER_PID = os.environ.pop("RPP_KEEPER_PID", None)  # set by the keeper; not for the plugin


def _bounded_cleanup(budget_s):
    """Calls the plugin's cleanup() under the plugin lock, never beside a running call: running
    calls are cancelled first and may use the budget to stop. At most budget_s in all, and at most
    once (/cleanup, then SIGTERM); returns cleanup()'s exception, or why it was not called, if either."""
    if not _cleaned.acquire(blocking=False):
        return None
    outcome = []

    def run():
        if not _state.lock.acquire(timeout=budget_s):
            outcome.append(TimeoutError("cleanup() was not called: a plugin call was still "
                                        "running %.1f s after it was cancelled" % budget_s))
            return
        try:
            _optional("cleanup", None)()
        except Exception as exc:
            outcome.append(exc)
        finally:
            _state.lock.release()

    _cancel(None)
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


def _say(message):
    """A line for the log that cannot stop what follows: the host reading stderr may be gone."""
    try:
        sys.stderr.write(message)
        sys.stderr.flush()
    except Exception:  # BrokenPipeError, or a closed stderr
        pass


def _watch_parent(ppid):
    """Exits when the host process is gone (the seed's --ppid suicide pact)."""
    was_child = os.getppid() == ppid
    while True:
        time.sleep(PARENT_POLL_S)
        if (os.getppid() != ppid) if was_child else not _pid_alive(ppid):
            _say("rpp_worker: host process %d is gone, exiting\n" % ppid)
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
    """PR_SET_PDEATHSIG: the kernel signals us the moment our parent dies (Linux).

    Under the keeper (our parent) the signal is SIGKILL: the keeper ends our descendants itself.
    Started by the host directly (--ppid is our parent) it is SIGTERM, so that we end them on the
    way out. With any other parent the --ppid poll covers it."""
    kept = _KEEPER_PID is not None and _KEEPER_PID.isdigit()
    parent, signum = (int(_KEEPER_PID), signal.SIGKILL) if kept else (ppid, signal.SIGTERM)
    if kept and os.getppid() != parent:  # the keeper was killed before we got here
        _say("rpp_worker: keeper process %d is gone, exiting\n" % parent)
        _exit(0, 0)
    if parent is None or not sys.platform.startswith("linux") or os.getppid() != parent:
        return
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signum, 0, 0, 0)  # 1 = PR_SET_PDEATHSIG
    except Exception as exc:  # no libc/ctypes: the --ppid poll still covers it
        _say("rpp_worker: PR_SET_PDEATHSIG unavailable (%s)\n" % exc)
        return
    if os.getppid() != parent:  # the parent died before prctl: no signal will come
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


class _Door:
    """The accept loop. A connection that has not shown the secret yet is read here, by one thread
    with a selector, instead of getting a thread of its own: a stranger's silent connections cost a
    file descriptor and a small buffer each, at most MAX_UNAUTHENTICATED of them (a new one closes
    the oldest), for at most UNAUTHENTICATED_TIMEOUT_S. A connection whose first request carries
    the secret is handed to a thread; if none can be started (a process or memory limit) that
    connection gets a 503 and the door keeps accepting, so the worker never dies of a crowd."""

    def __init__(self, server):
        import selectors
        self.server = server
        self.selector = selectors.DefaultSelector()
        self.readable = selectors.EVENT_READ
        self.waiting = {}  # socket -> [head bytes so far, deadline]; oldest first
        server.setblocking(False)
        self.selector.register(server, self.readable)

    def run(self):
        while True:
            wait = None
            if self.waiting:
                oldest = next(iter(self.waiting.values()))
                wait = max(0.0, oldest[1] - time.monotonic())
            try:
                self._turn(self.selector.select(wait))
            except Exception as exc:  # the door must never fall: log it and keep accepting
                _job_error(exc)
                time.sleep(0.01)

    def _turn(self, events):
        accept = False
        for key, _mask in events:  # requests first: a crowd must not delay the host's
            if key.fileobj is self.server:
                accept = True
            else:
                self._read(key.fileobj)
        if accept:
            self._accept()
        self._expire()

    def _accept(self):
        for _ in range(64):  # a burst is taken in batches, with reads in between
            try:
                sock, _addr = self.server.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # EMFILE and the like: free a descriptor, or wait a moment
                oldest = next(iter(self.waiting), None)
                if oldest is not None:
                    self._read(oldest)
                    if oldest in self.waiting:
                        self._drop(oldest, _BUSY)
                else:
                    time.sleep(0.01)
                return
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                sock.setblocking(False)
                self._make_room()
                self.selector.register(sock, self.readable)
            except (OSError, ValueError):  # e.g. a connection reset before setsockopt (macOS)
                sock.close()
                continue
            self.waiting[sock] = [bytearray(), time.monotonic() + UNAUTHENTICATED_TIMEOUT_S]
            self._read(sock)  # a client's request is usually there already: no slot taken

    def _make_room(self):
        """Closes the oldest waiting connections while they fill every slot; each is read once
        more first, so a client whose request has just arrived is served, not closed."""
        while len(self.waiting) >= MAX_UNAUTHENTICATED:
            oldest = next(iter(self.waiting))
            self._read(oldest)
            if oldest in self.waiting:
                self._drop(oldest, _BUSY)

    def _read(self, sock):
        entry = self.waiting.get(sock)
        if entry is None:
            return
        try:
            data = sock.recv(RECV_BYTES)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._drop(sock, None)
            return
        head = entry[0]
        searched = max(0, len(head) - 3)  # only the new bytes can complete the blank line
        head += data
        end = head.find(b"\r\n\r\n", searched)
        if end < 0:
            if len(head) > MAX_HEAD_BYTES:
                self._drop(sock, _error_response(431, "the request head is larger than %d bytes"
                                                 % MAX_HEAD_BYTES, b"Connection: close\r\n"))
            return
        try:
            req = _parse_head(bytes(head[:end]))
        except _BadRequest as bad:
            self._drop(sock, _error_response(bad.status, str(bad), b"Connection: close\r\n"))
            return
        refusal = _refusal(req)
        if refusal is not None:
            self._drop(sock, refusal)
            return
        self._admit(sock, req, bytes(head[end + 4:]))

    def _admit(self, sock, req, rest):
        self._forget(sock)
        try:
            threading.Thread(target=_serve_connection, args=(sock, req, rest), daemon=True).start()
        except RuntimeError as exc:  # "can't start new thread"
            sys.stderr.write("rpp_worker: no thread for a connection (%s); answered 503\n" % exc)
            self._drop(sock, _error_response(503, "the worker could not start a thread for this "
                                             "connection (%s); retry shortly" % exc,
                                             b"Connection: close\r\n"))

    def _expire(self):
        now = time.monotonic()
        while self.waiting:
            sock, entry = next(iter(self.waiting.items()))
            if entry[1] > now:
                return
            self._drop(sock, _SILENT)

    def _forget(self, sock):
        if self.waiting.pop(sock, None) is not None:
            self.selector.unregister(sock)

    def _drop(self, sock, response):
        self._forget(sock)
        if response is not None:
            try:
                sock.send(response)  # a small answer fits the empty send buffer; never waits
            except OSError:
                pass
        sock.close()


_BUSY = _error_response(503, "too many connections have not sent a request with the secret; "
                             "the oldest was closed", b"Connection: close\r\n")
_SILENT = _error_response(408, "no complete request with the secret within %ds of connecting"
                          % UNAUTHENTICATED_TIMEOUT_S, b"Connection: close\r\n")


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
    _die_with_parent(opts["--ppid"])
    if opts["--ppid"] is not None:
        threading.Thread(target=_watch_parent, args=(opts["--ppid"],), daemon=True).start()
    _cpu.start()
    _Door(server).run()


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except KeyboardInterrupt:
        _exit(0, CLEANUP_BUDGET_S)
