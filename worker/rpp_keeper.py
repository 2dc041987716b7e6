"""Remote Plugin Proxy: the keeper, a small process between the host and one worker.

usage: python rpp_keeper.py --host-pid PID -- PYTHON_ARGS...

It binds the worker's life to the host's by a mechanism that needs neither the plugin's Python
code to run (a plugin may hold the GIL in C for minutes, or still be importing a model) nor the
interpreter to be the host's direct child (python_path may be a wrapper such as `conda run` that
runs Python as its child instead of exec'ing it). How it watches and ends the worker's tree is in
rpp_keeper_watch.py; this file only starts it.

PYTHON_ARGS is what would follow the interpreter on a command line: a script (`rpp_worker.py
--module ...`) runs in this same interpreter after a fork, so the keeper costs no second
start-up; anything else (`-m cjm_plugin_system.core.worker ...`) is exec'd with sys.executable
and this interpreter's flags. Either way the worker is our child, in a process group of its own.
The forked child first tells the host both pids, on stdout: `rpp-keeper TOKEN {"keeper": K,
"worker": W}` (TOKEN is the host's RPP_KEEPER_TOKEN, removed from the environment before the
worker starts).

This file is kept small on purpose: an interpreter compiles its main script at every start (and
the host sets PYTHONDONTWRITEBYTECODE), so only what must happen before the fork is here. After it
the keeper becomes a child subreaper (PR_SET_CHILD_SUBREAPER, through ctypes) while the worker
compiles its script; the worker starts it only then, so no orphan of its tree can slip past us.
The keeping is imported after that, beside the starting worker. Standard library only, Python >= 3.8.
"""

import gc
import os
import signal
import sys

PR_SET_PDEATHSIG, PR_SET_CHILD_SUBREAPER = 1, 36


def main(argv):
    host_pid, command = _parse_argv(argv)
    token = os.environ.pop("RPP_KEEPER_TOKEN", "")  # the worker's environment does not keep it
    go_read, go_write = os.pipe()
    worker = os.fork()
    if worker == 0:
        os.close(go_write)
        return _become_worker(command, token, go_read)
    os.close(go_read)
    gc.disable()  # the keeper allocates next to nothing; a collection would copy pages it shares with the worker
    _own_group(worker)
    # Whatever the worker's tree orphans must come to us, from before the plugin's first line: the
    # worker waits for this (it compiles its script meanwhile, so ctypes costs it nothing).
    _prctl(PR_SET_CHILD_SUBREAPER, 1)
    os.close(go_write)
    # Only now, beside the starting worker rather than before it: the keeping itself.
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # also under -I or -P
    # Our own module in our own folder may be cached (the host forbids it for plugins' folders):
    # compiled once, it costs nothing at the next start.
    sys.dont_write_bytecode = False
    from rpp_keeper_watch import keep
    keep(worker, host_pid, token)


def _parse_argv(argv):
    usage = "usage: rpp_keeper.py --host-pid PID -- PYTHON_ARGS..."
    if len(argv) < 4 or argv[0] != "--host-pid" or argv[2] != "--" or not argv[1].isdigit():
        sys.stderr.write("rpp_keeper: bad arguments %r\n%s\n" % (argv, usage))
        sys.exit(2)
    return int(argv[1]), argv[3:]


def _own_group(pid):
    try:
        os.setpgid(pid, pid)  # also done by the child; whichever runs first wins, the other fails
    except OSError:
        pass


# ----------------------------------------------------------------------------- the worker side

def _become_worker(command, token, go_read):
    """Runs in the forked child: tells the host both pids, then becomes the worker once the keeper
    is a subreaper (end of file on go_read)."""
    _own_group(0)
    try:  # a host that is already gone learns nothing; the keeper ends us at once anyway
        os.write(1, ('rpp-keeper %s {"keeper": %d, "worker": %d}\n' % (token, os.getppid(), os.getpid())).encode())
    except OSError:
        pass
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)  # the lifeline is the keeper's alone: a plugin reading stdin must not see it
    os.close(null)
    os.environ["RPP_KEEPER_PID"] = str(os.getppid())  # rpp_worker.py dies with its keeper
    if command[0].endswith(".py"):
        code = _compile_script(command)
        _wait_for(go_read)
        exec(code, sys.modules["__main__"].__dict__)
        return
    _wait_for(go_read)
    _die_with_keeper()  # an exec'd worker cannot do it itself; the flag survives exec
    flags = _interpreter_flags()
    try:
        os.execv(sys.executable, [sys.executable] + flags + command)
    except OSError as exc:
        sys.stderr.write("rpp_keeper: cannot run %s: %s\n" % (sys.executable, exc))
        os._exit(127)


def _wait_for(go_read):
    os.read(go_read, 1)
    os.close(go_read)


def _compile_script(command):
    """Sets things up as `python SCRIPT ARGS` would, in this interpreter (no second start-up)."""
    path = command[0]
    sys.argv[:] = command
    sys.path[0] = os.path.dirname(os.path.abspath(path))
    main_module = type(sys)("__main__")
    main_module.__file__ = path
    main_module.__builtins__ = __builtins__
    sys.modules["__main__"] = main_module
    with open(path, "rb") as source:
        return compile(source.read(), path, "exec")


def _interpreter_flags():
    """The flags this interpreter was started with (-X utf8, -E, ...), for the exec'd worker."""
    orig_argv = getattr(sys, "orig_argv", None)  # 3.10+
    if orig_argv is not None:
        return list(orig_argv[1:len(orig_argv) - len(sys.argv)])
    import subprocess
    return subprocess._args_from_interpreter_flags()


def _die_with_keeper():
    keeper = os.getppid()
    if _prctl(PR_SET_PDEATHSIG, signal.SIGKILL) and os.getppid() != keeper:
        os._exit(1)  # the keeper died before prctl: no signal will come


def _prctl(option, value):
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes
        return ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0) == 0
    except Exception:  # no libc or no ctypes: the other safeguards still hold
        return False


if __name__ == "__main__":
    main(sys.argv[1:])
