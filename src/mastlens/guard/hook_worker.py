"""A warm worker for the Claude Code hook's deciding calls.

A hook call is a new process, and a decision (a Stop, a call that could be the k-th repeat) needs the rules
detectors, whose import (pydantic behind the trace model) costs several times the interpreter's own start.
So the hook hands deciding calls to a worker: a background process per state folder that has the detectors
loaded and the sessions' states in memory, answering on a Unix socket in ``<state>/worker/``. It runs the
very same :func:`~mastlens.guard.hook.run_hook` the hook would run, on the same state files, so the decisions
are the hook's own; only the imports are paid once. The states it changed are written to their files once it
has been :data:`FLUSH_AFTER` s without a call, when it leaves, and when asked (:func:`settled`); an older
state file is still a true one (its transcript offset and what was read up to it go together, and the last
block's reason is in its marker), so a worker killed before writing loses nothing but re-reading.

* The hook asks the worker; when none answers it starts one (detached, its output to /dev/null) and waits
  for it (at most :data:`STARTUP_WAIT` s), else decides in-process as before. A quick-path call with no
  worker running starts one and does not wait, so the next decision finds it ready.
* One worker per folder (an exclusive lock on ``worker/worker.lock``, which holds its pid); it leaves after
  ``$MASTLENS_GUARD_WORKER_IDLE`` seconds without a call (900 by default), when its socket or folder goes
  away, when a caller runs another interpreter or mastlens, or when a mastlens source file it loaded
  changes (the caller then decides in-process and a fresh worker starts).
* ``MASTLENS_GUARD_WORKER=0`` turns it off (every decision in-process). The socket is the user's alone:
  mode 0600 in a 0700 folder; the hook talks only to a socket its own user owns in a folder nobody else can
  write, and on Linux the worker checks the caller's uid.
* Errors inside the worker go back to the hook, which logs them and lets the agent go on, as for its own.

Standard library only, and not even :mod:`socket` at import: a quick-path call imports this module to
see whether a worker runs.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import socket

WORKER_ENV = "MASTLENS_GUARD_WORKER"
IDLE_ENV = "MASTLENS_GUARD_WORKER_IDLE"
DEFAULT_IDLE = 900.0
STARTUP_WAIT = 5.0  # seconds a deciding call waits for a worker it started (the hook's timeout is 10 s)
ANSWER_WAIT = 8.0  # seconds a worker may take to answer once it took the call
FLUSH_AFTER = 0.5  # seconds without a call after which the states changed are written to their files
RESPAWN_AFTER = 30.0  # seconds a worker starting up is waited for rather than started again
MAX_SOCKET_PATH = 100  # AF_UNIX paths are limited to ~104-108 bytes
PROTOCOL = 1


def worker_dir(state_dir: Path) -> Path:
    return state_dir / "worker"


def enabled() -> bool:
    return os.environ.get(WORKER_ENV, "1") != "0" and os.name == "posix" and hasattr(os, "posix_spawn")


def _socket_path(state_dir: Path) -> str | None:
    path = str(worker_dir(state_dir).absolute() / "worker.sock")
    return path if len(path.encode()) <= MAX_SOCKET_PATH else None


def identity() -> dict[str, str]:
    """What a worker must share with its caller: the interpreter and the mastlens it runs."""
    import mastlens

    return {"executable": sys.executable, "package": os.path.dirname(os.path.abspath(mastlens.__file__))}


def _read_line(conn: socket.socket, limit: int = 1 << 20) -> bytes:
    data = b""
    while not data.endswith(b"\n"):
        piece = conn.recv(65536)
        if not piece:
            break
        data += piece
        if len(data) > limit:
            raise ValueError("message too long")
    return data


# -- the hook's side ---------------------------------------------------------------------------------------
class NoWorker(Exception):
    """No worker took the call: the caller decides in-process."""


def ask(event: dict[str, Any], state_dir: Path, rules_config: Path | None) -> tuple[int, str]:
    """(exit code, reason) from the folder's worker. :class:`NoWorker` when none took the call; any other
    error once it took the call (it answered an error, or not in time) is raised for the hook to log."""
    import socket

    path = _socket_path(state_dir)
    if path is None:
        raise NoWorker("the state folder's path is too long for a socket")
    if not _ours(path):
        raise NoWorker("no socket of this user's in the state folder")
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.settimeout(1.0)
        try:
            conn.connect(path)
        except OSError as exc:
            raise NoWorker(str(exc)) from None
        conn.settimeout(ANSWER_WAIT)
        request = {"protocol": PROTOCOL, **identity(), "cwd": os.getcwd(), "state_dir": str(state_dir.absolute()),
                   "rules_config": str(rules_config.absolute()) if rules_config else None, "event": event}
        conn.sendall(json.dumps(request).encode() + b"\n")
        reply = json.loads(_read_line(conn) or b"null")
    finally:
        conn.close()
    if not isinstance(reply, dict) or reply.get("stale"):
        raise NoWorker("the worker left (another mastlens, or its sources changed)")
    if "error" in reply:
        raise RuntimeError(f"in the hook's worker: {reply['error']}")
    return int(reply["code"]), str(reply.get("reason") or "")


def _ours(path: str) -> bool:
    """Whether the socket and its folder are this user's and nobody else can write there (in a shared state
    folder, a socket planted by someone else would get the hook's calls and could answer them)."""
    try:
        sock, folder = os.stat(path), os.stat(os.path.dirname(path))
    except OSError:
        return False
    uid = os.getuid()
    return sock.st_uid == uid and folder.st_uid == uid and not folder.st_mode & 0o022


def _alive(pid: int) -> bool:
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)  # our own child (a long-lived caller): reaped once it ends
        return done == 0
    except ChildProcessError:
        pass
    except OSError:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def start(state_dir: Path) -> int:
    """The pid of the folder's worker coming up: one started less than :data:`RESPAWN_AFTER` s ago and still
    running, else a new one, started in the background."""
    wdir = worker_dir(state_dir)
    stamp = wdir / "worker.started"
    try:
        pid = int(stamp.read_text(encoding="utf-8").strip() or 0)
        if pid and time.time() - os.stat(stamp).st_mtime < RESPAWN_AFTER and _alive(pid):
            return pid
    except (OSError, ValueError):
        pass
    wdir.mkdir(parents=True, exist_ok=True, mode=0o700)
    devnull = os.devnull
    actions = [(os.POSIX_SPAWN_OPEN, 0, devnull, os.O_RDONLY, 0), (os.POSIX_SPAWN_OPEN, 1, devnull, os.O_WRONLY, 0),
               (os.POSIX_SPAWN_OPEN, 2, devnull, os.O_WRONLY, 0)]
    safe_path = ["-P"] if sys.version_info >= (3, 11) else []  # not the caller's cwd first on sys.path
    argv = [sys.executable, *safe_path, "-m", "mastlens.guard.hook_worker", str(state_dir.absolute())]
    pid = os.posix_spawn(sys.executable, argv, dict(os.environ), file_actions=actions, setsid=True)
    stamp.write_text(f"{pid}\n", encoding="utf-8")
    return pid


def ask_or_start(event: dict[str, Any], state_dir: Path, rules_config: Path | None) -> tuple[int, str]:
    """Ask the worker; with none running, start one and wait for it. :class:`NoWorker` when none answered."""
    try:
        return ask(event, state_dir, rules_config)
    except NoWorker:
        pass
    pid = start(state_dir)
    deadline = time.monotonic() + STARTUP_WAIT
    while time.monotonic() < deadline:
        time.sleep(0.02)
        try:
            return ask(event, state_dir, rules_config)
        except NoWorker:
            if not _alive(pid):
                break  # it left at once (another worker took the folder, or it failed to start)
    raise NoWorker("no worker answered")


def warm(state_dir: Path) -> None:
    """On a quick-path call: start the worker if none is running, without waiting for it (and without a word
    if it cannot: the next decision is made in-process then)."""
    path = _socket_path(state_dir)
    if enabled() and path is not None and not os.path.exists(path):
        try:
            start(state_dir)
        except OSError:
            pass


def settled(state_dir: Path) -> bool:
    """Have the folder's worker, if one runs, write the states it keeps to their files (True once it has, or
    when none runs; False when one took the request and did not confirm)."""
    import socket

    path = _socket_path(state_dir)
    if path is None or not _ours(path):
        return True
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.settimeout(ANSWER_WAIT)
        try:
            conn.connect(path)
        except OSError:
            return True  # no worker: nothing kept in memory
        conn.sendall(json.dumps({"protocol": PROTOCOL, **identity(), "flush": True}).encode() + b"\n")
        reply = json.loads(_read_line(conn) or b"null")
    finally:
        conn.close()
    return isinstance(reply, dict) and bool(reply.get("flushed") or reply.get("stale"))


# -- the worker's side -------------------------------------------------------------------------------------
def _sources() -> dict[str, int]:
    out = {}
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if (name == "mastlens" or name.startswith("mastlens.")) and file:
            try:
                out[file] = os.stat(file).st_mtime_ns
            except OSError:
                out[file] = -1
    return out


def _changed(sources: dict[str, int]) -> bool:
    for file, mtime in sources.items():
        try:
            if os.stat(file).st_mtime_ns != mtime:
                return True
        except OSError:
            return True
    return False


def _same_user(conn: socket.socket) -> bool:
    import socket

    peercred = getattr(socket, "SO_PEERCRED", None)
    if peercred is None:
        return True  # the socket's mode (0600, in a 0700 folder) keeps others out
    import struct

    _pid, uid, _gid = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, peercred, struct.calcsize("3i")))
    return uid == os.getuid()


class Worker:
    """Serves one state folder's deciding calls, one at a time, until it has been idle too long."""

    def __init__(self, state_dir: Path, idle: float):
        self.state_dir = state_dir
        self.idle = idle
        self.configs: dict[Any, Any] = {}

    def serve(self) -> int:
        import fcntl
        import signal
        import socket

        wdir = worker_dir(self.state_dir)
        wdir.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(wdir, 0o700)
        lock = open(wdir / "worker.lock", "a+", encoding="utf-8")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return 0  # another worker serves this folder
        from mastlens.guard.hook import StateCache, run_hook

        self.cache, self.run_hook = StateCache(), run_hook
        self.me = identity()
        self.sources = _sources()
        path = _socket_path(self.state_dir)
        if path is None:
            return 0
        if os.path.exists(path):
            os.unlink(path)
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        umask = os.umask(0o077)
        try:
            server.bind(path)
        finally:
            os.umask(umask)
        server.listen(16)
        server.settimeout(1.0)
        bound = os.stat(path).st_ino
        lock.seek(0)
        lock.truncate()
        lock.write(f"{os.getpid()}\n")
        lock.flush()
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # leave through the finally below
        last = time.monotonic()
        try:
            while True:
                server.settimeout(FLUSH_AFTER if self.cache.dirty else 1.0)
                try:
                    conn, _ = server.accept()
                except TimeoutError:
                    self.cache.flush()  # a quiet moment: off the hook's time
                    if time.monotonic() - last > self.idle or not self._still_bound(path, bound):
                        return 0
                    continue
                last = time.monotonic()
                with conn:
                    if not self._answer(conn):
                        return 0
        finally:
            self.cache.flush()
            server.close()
            if self._still_bound(path, bound):
                os.unlink(path)
            lock.seek(0)
            lock.truncate()  # no pid: nobody serves the folder

    @staticmethod
    def _still_bound(path: str, inode: int) -> bool:
        try:
            return os.stat(path).st_ino == inode
        except OSError:
            return False

    def _answer(self, conn: socket.socket) -> bool:
        """Answer one call; False when the worker should leave (it is stale for this caller)."""
        conn.settimeout(5.0)
        try:
            if not _same_user(conn):
                return True
            request = json.loads(_read_line(conn))
            stale = (not isinstance(request, dict) or request.get("protocol") != PROTOCOL
                     or any(request.get(k) != v for k, v in self.me.items()) or _changed(self.sources))
            if stale:
                self.cache.flush()  # the caller decides from the files now
                conn.sendall(b'{"stale": true}\n')
                return False
            if request.get("flush"):
                self.cache.flush()
                conn.sendall(b'{"flushed": true}\n')
                return True
            try:
                reply: dict[str, Any] = dict(zip(("code", "reason"), self._decide(request)))
            except Exception as exc:  # noqa: BLE001 - the hook logs it and lets the agent go on
                import traceback

                reply = {"error": f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"}
            conn.sendall(json.dumps(reply).encode() + b"\n")
        except (OSError, ValueError):
            pass  # the caller went away or sent nonsense: it decides without us
        return True

    def _decide(self, request: dict[str, Any]) -> tuple[int, str]:
        from mastlens.guard.hook_quick import _config_id, remember_repeat_threshold
        from mastlens.judges.rules import DEFAULT_CONFIG, load_rules_config

        state_dir = Path(request["state_dir"])
        rules = Path(request["rules_config"]) if request.get("rules_config") else None
        key = json.dumps(_config_id(rules))
        config = self.configs.get(key)
        if config is None:
            config = self.configs[key] = load_rules_config(rules) if rules else DEFAULT_CONFIG
        remember_repeat_threshold(state_dir, rules, config.repeat_min_calls)
        event = request["event"]
        if not isinstance(event, dict):
            raise ValueError("the hook input is not a JSON object")
        try:
            os.chdir(request["cwd"])  # a relative transcript path means what it meant to the hook
        except (OSError, KeyError, TypeError):
            pass
        decision = self.run_hook(event, state_dir, config, self.cache)
        return decision.code, decision.reason


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    state_dir = Path(args[0])
    try:
        idle = float(os.environ.get(IDLE_ENV) or DEFAULT_IDLE)
    except ValueError:
        idle = DEFAULT_IDLE
    try:
        return Worker(state_dir, idle).serve()
    except Exception as exc:  # noqa: BLE001 - nobody reads a detached worker's stderr: the hook's log does
        import traceback

        try:
            with open(state_dir / "errors.log", "a", encoding="utf-8") as fh:
                fh.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} worker: {type(exc).__name__}: {exc}\n"
                         f"{traceback.format_exc()}\n")
        except OSError:
            pass
        return 1


if __name__ == "__main__":
    sys.exit(main())
