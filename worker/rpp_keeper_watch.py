"""Remote Plugin Proxy: the keeper's watch (see rpp_keeper.py, which forks the worker and then
runs keep() here, in the keeper process).

- The lifeline: the host holds the write end of our stdin (a pipe or socket). When it closes,
  however the host ended (even SIGKILL), we SIGKILL the worker's whole tree at once. The host may
  also ask on it, one command a line: `stop MS` (SIGTERM to the tree, SIGKILL to what is left
  after MS milliseconds or as soon as the worker has exited) or `kill` (SIGKILL now). SIGTERM or
  SIGHUP to the keeper means `stop` with the default grace. A stdin that is not a pipe (a wrapper
  that does not pass it on) degrades to polling the host's pid every 0.2 s.
- The tree: on Linux we are a child subreaper (PR_SET_CHILD_SUBREAPER, set before the fork), so
  whatever the plugin starts stays our descendant even when its parent dies first, or when it left
  the worker's group or session (start_new_session, setsid, a double fork). Ending the tree means
  SIGKILL to the worker's group and to every descendant, again until none is left. When the worker
  exits for any reason (a crash included), what it leaves behind is ended at once.
- The report: the worker's exit status, on stdout as `rpp-keeper TOKEN {"code": C, "signal": S}`,
  written only after the whole tree is dead, without blocking, ignoring a reader that is gone.
  Nothing else is ever written, so a dead host's pipe cannot stop us from doing our job. Then we
  exit with the worker's code (128 + the signal for a signal), ending a wrapper that leads our
  process group with us.
"""

import os
import select
import signal
import time

DEFAULT_GRACE_S = 1.5
POLL_HOST_S = 0.2  # only when stdin is not the lifeline
KILL_ROUNDS_S = 2.0  # at most this long SIGKILLing a tree that keeps forking
LINE_PREFIX = "rpp-keeper"


def keep(worker, host_pid, token):
    """Watches the lifeline and the worker, ends the tree, reports and exits; never returns."""
    _Keeper(worker, host_pid, token).run()


class _Keeper:
    def __init__(self, worker, host_pid, token):
        self.worker = worker
        self.host_pid = host_pid
        self.token = token
        self.status = None  # os.waitpid status of the worker once it exited
        self.kill_at = None  # monotonic deadline of a stop in progress
        self.lifeline = _is_pipe(0)
        self.buffer = b""
        self.wake_read, wake_write = os.pipe()
        for fd in (self.wake_read, wake_write):
            os.set_blocking(fd, False)
        signal.set_wakeup_fd(wake_write)
        self.stop_requested = False
        signal.signal(signal.SIGCHLD, lambda *_: None)  # the wakeup fd does the waking
        for signum in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, self._on_stop_signal)
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the host decides, not a terminal
        self.wrapper_group = _wrapper_group(host_pid)

    def run(self):
        self._watch()
        self._end_tree()
        self._report_exit()
        self._exit()

    def _watch(self):
        """Returns when the tree must end now: the worker exited, the host is gone or asked."""
        last_host_check = time.monotonic()
        while True:
            self._reap()
            if self.status is not None:
                return
            if self.stop_requested:
                self.stop_requested = False
                self._stop(DEFAULT_GRACE_S)
            now = time.monotonic()
            if self.kill_at is not None and now >= self.kill_at:
                return
            if not self.lifeline and now - last_host_check >= POLL_HOST_S:
                last_host_check = now
                if not _alive(self.host_pid):
                    return
            timeout = POLL_HOST_S if not self.lifeline else None
            if self.kill_at is not None:
                timeout = max(0.0, min(timeout or 1e9, self.kill_at - now))
            fds = [self.wake_read] + ([0] if self.lifeline else [])
            try:
                readable = select.select(fds, [], [], timeout)[0]
            except InterruptedError:
                continue
            if self.wake_read in readable:
                _drain(self.wake_read)
            if 0 in readable and not self._read_commands():
                return

    def _read_commands(self):
        """Handles what the host wrote; False when the tree must end now (end of file, `kill`)."""
        try:
            data = os.read(0, 4096)
        except OSError:
            return False
        if not data:
            return False  # the host is gone, however it died
        self.buffer += data
        while b"\n" in self.buffer:
            line, self.buffer = self.buffer.split(b"\n", 1)
            words = line.decode("ascii", "replace").split()
            if words[:1] == ["kill"]:
                return False
            if words[:1] == ["stop"]:
                grace = float(words[1]) / 1000 if len(words) > 1 and _is_number(words[1]) else DEFAULT_GRACE_S
                self._stop(grace)
        return True

    def _on_stop_signal(self, _signum, _frame):
        self.stop_requested = True

    def _stop(self, grace_s):
        """SIGTERM to the whole tree; SIGKILL follows when the grace is over (or the worker exits)."""
        deadline = time.monotonic() + grace_s
        if self.kill_at is None:
            _signal_tree(self.worker, signal.SIGTERM)
            self.kill_at = deadline
        else:
            self.kill_at = min(self.kill_at, deadline)

    def _reap(self):
        """Collects every child that ended (the worker, and descendants we adopted)."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return False
            if pid == 0:
                return True
            if pid == self.worker and self.status is None:
                self.status = status

    def _end_tree(self):
        """SIGKILL to the worker's group and every descendant, until nothing is left (bounded).

        One full look at the process table per round; within a round only the victims' own
        entries are watched until they are dead, then a last round makes sure nothing was forked
        in between."""
        give_up = time.monotonic() + KILL_ROUNDS_S
        while time.monotonic() < give_up:
            victims = _signal_tree(self.worker, signal.SIGKILL)
            if not victims and not self._reap():
                return
            while True:
                time.sleep(0.001)
                self._reap()
                victims = [pid for pid in victims if _is_live(pid)]
                if not victims or time.monotonic() >= give_up:
                    break

    def _report_exit(self):
        status = self.status
        if status is None:  # ended by us before it exited on its own: it died of our SIGKILL
            code, signame = None, "SIGKILL"
        elif os.WIFSIGNALED(status):
            code, signame = None, _signal_name(os.WTERMSIG(status))
        else:
            code, signame = os.WEXITSTATUS(status), None
        self.exit_code = code if code is not None else 128 + (os.WTERMSIG(status) if status else 9)
        message = '{"code": %s, "signal": %s}' % ("null" if code is None else code, '"%s"' % signame if signame else "null")
        _report(self.token, message)

    def _exit(self):
        if self.wrapper_group is not None:
            os.killpg(self.wrapper_group, signal.SIGKILL)  # us included: the report is written
        os._exit(self.exit_code)


# ----------------------------------------------------------------------------- processes

def _signal_tree(worker, signum):
    """Sends signum to the worker's process group and every live descendant; returns those found."""
    try:
        os.killpg(worker, signum)
    except OSError:  # the group is empty (or gone)
        pass
    victims = _descendants(os.getpid())
    for pid in victims:
        try:
            os.kill(pid, signum)
        except OSError:
            pass
    return victims


def _descendants(root):
    """Live (not zombie) descendants of root: from each task's `children` list on Linux (only
    our own tree is read, so it stays fast on a busy machine), else from the whole table."""
    found = _descendants_from_children_lists(root)
    if found is not None:
        return found
    parent_of = _process_table()
    children = {}
    for pid, ppid in parent_of.items():
        children.setdefault(ppid, []).append(pid)
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), ()):
            found.append(child)
            todo.append(child)
    return found


def _descendants_from_children_lists(root):
    """None where /proc/<pid>/task/<tid>/children does not exist (not Linux, CONFIG_PROC_CHILDREN off)."""
    if not os.path.exists("/proc/%d/task/%d/children" % (root, root)):
        return None
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        try:
            tasks = os.listdir("/proc/%d/task" % pid)
        except OSError:  # it ended while we looked
            continue
        for task in tasks:
            try:
                with open("/proc/%d/task/%s/children" % (pid, task), "rb") as f:
                    children = [int(child) for child in f.read().split()]
            except (OSError, ValueError):
                continue
            for child in children:
                if _is_live(child):
                    found.append(child)
                    todo.append(child)
    return found


def _process_table():
    """{pid: ppid} of every live process that is not a zombie."""
    if not os.path.isdir("/proc/self"):
        return _process_table_ps()
    table = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name, "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except OSError:  # it ended while we looked
            continue
        if fields[0] not in (b"Z", b"X"):
            table[int(name)] = int(fields[1])
    return table


def _process_table_ps():
    import subprocess
    try:
        out = subprocess.run(["ps", "-A", "-o", "pid=", "-o", "ppid=", "-o", "stat="],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=2).stdout
    except Exception:  # no ps: only the worker's group can be reached
        return {}
    table = {}
    for row in out.decode("ascii", "replace").splitlines():
        parts = row.split()
        if len(parts) >= 3 and parts[0].isdigit() and parts[1].isdigit() and not parts[2].startswith("Z"):
            table[int(parts[0])] = int(parts[1])
    return table


def _is_live(pid):
    """True while pid runs (a zombie has finished running)."""
    if not os.path.isdir("/proc/self"):
        return _alive(pid)
    state = _state_of(pid)
    return state is not None and state not in (b"Z", b"X")


def _wrapper_group(host_pid):
    """The group of a wrapper (python_path that runs Python as its child), which ends with us.

    Decided at start, while the host is alive and its group can be told apart; only a group that
    one of our own ancestors leads, below the host, ever qualifies."""
    group, host_group = os.getpgrp(), _group_of(host_pid)
    if group == os.getpid() or host_group is None or group == host_group:
        return None
    pid = os.getppid()
    for _ in range(16):  # wrappers of wrappers, not more
        if pid == group:
            return group
        if pid is None or pid <= 1 or pid == host_pid:
            return None
        pid = _parent_of(pid)
    return None


def _parent_of(pid):
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            return int(f.read().rsplit(b")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):  # gone, or no /proc: not known
        return None


def _group_of(pid):
    try:
        return os.getpgid(pid)
    except OSError:
        return None


def _alive(pid):
    """True while pid runs; a killed host stays a zombie until its parent reaps it."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    state = _state_of(pid)
    return state is None or state not in (b"Z", b"X")


def _state_of(pid):
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0]
    except (OSError, IndexError):  # gone, or no /proc
        return None


def _is_pipe(fd):
    import stat
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


def _is_number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


def _signal_name(signum):
    try:
        return signal.Signals(signum).name
    except ValueError:
        return "signal %d" % signum


def _drain(fd):
    try:
        while os.read(fd, 512):
            pass
    except BlockingIOError:
        pass


def _report(token, message):
    """One line for the host on stdout (message: JSON text): never blocks, never fails."""
    line = ("%s %s %s\n" % (LINE_PREFIX, token, message)).encode()
    try:
        os.set_blocking(1, False)  # the tree is dead: nobody else writes to this pipe any more
        os.write(1, line)
    except OSError:  # the host is gone (EPIPE) or not reading (EAGAIN): it learns from our exit
        pass
