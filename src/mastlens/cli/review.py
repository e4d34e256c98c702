"""`mastlens review`: a local web app to check and correct a judge's verdicts into a human set."""

from __future__ import annotations

import getpass
import ipaddress
import logging
import socket
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape

from mastlens.cli.common import DbOption, console, fail, note, open_store


def _default_reviewer() -> str:
    try:
        return getpass.getuser() or "reviewer"
    except (KeyError, OSError):
        return "reviewer"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _judge_set(store, name: str | None) -> str:  # noqa: ANN001
    """The named set, or the most recently written set that is not a human one."""
    from mastlens.review import HUMAN_PREFIX

    if name:
        if store.get_set(name) is None:
            known = ", ".join(s.name for s in store.list_sets()) or "none yet"
            fail(f"no annotation set {name!r} (known sets: {known})")
        return name
    candidates = [s.name for s in store.list_sets() if not s.name.startswith(HUMAN_PREFIX)]
    if not candidates:
        fail("no judge annotation set to review: run `mastlens annotate` first")
    latest = store.latest_set()
    chosen = latest if latest in candidates else candidates[0]
    note(f"reviewing set [bold]{escape(chosen)}[/] (the most recently written judge set; pick one with --set)")
    return chosen


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}")
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def register(app: typer.Typer) -> None:
    @app.command("review")
    def review_command(
        set_name: Optional[str] = typer.Option(None, "--set", help="Judge set to review (default: the latest)."),
        reviewer: Optional[str] = typer.Option(None, "--as", help="Your name; labels go to set human:NAME "
                                                                   "(default: the OS user)."),
        sample: int = typer.Option(50, "--sample", min=1, help="Traces in the review queue."),
        strategy: str = typer.Option("stratified", "--strategy",
                                     help="stratified (group x outcome), uncertain, disagree (needs --against) "
                                          "or random."),
        against: Optional[str] = typer.Option(None, "--against", help="disagree: the set to compare with."),
        seed: int = typer.Option(0, "--seed", help="Seed of the sample (same seed, same queue)."),
        host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (keep it local)."),
        port: int = typer.Option(0, "--port", min=0, max=65535, help="Port (0 picks a free one)."),
        open_browser: bool = typer.Option(False, "--open", help="Open the address in the browser."),
        db: Path = DbOption,
    ) -> None:
        """Check and correct a judge's verdicts in the browser; the labels become the set human:NAME."""
        from mastlens.review import STRATEGIES, human_set_name, open_queue
        from mastlens.review.decisions import LABELS_JUDGE

        if strategy not in STRATEGIES:
            fail(f"unknown strategy {strategy!r}; choose one of: {', '.join(STRATEGIES)}")
        if strategy == "disagree" and not against:
            fail("--strategy disagree needs --against SET_B (the set to compare with)")
        try:
            human_set = human_set_name(reviewer or _default_reviewer())
        except ValueError as exc:
            fail(str(exc))
        with open_store(db, must_exist=True) as store:
            judge_set = _judge_set(store, set_name)
            if against and store.get_set(against) is None:
                fail(f"no annotation set {against!r} to compare with")
            existing = store.get_set(human_set)
            if existing is not None and existing.judge != LABELS_JUDGE:
                fail(f"set {human_set!r} holds annotations by judge {existing.judge!r}, not labels; pick another --as")
            queue = open_queue(store, human_set=human_set, judge_set=judge_set, strategy=strategy, sample=sample,
                               seed=seed, against=against)
            db_path = str(store.location)  # the review app reopens it (a URL with its password)
        if queue.size == 0:
            fail(f"nothing to review: set {judge_set!r} has no current annotation"
                 + (f" that differs from {against!r}" if strategy == "disagree" else ""))
        _serve(db_path, human_set, judge_set, queue, host, port, open_browser)


def _serve(db_path: str, human_set: str, judge_set: str, queue, host: str, port: int,  # noqa: ANN001
           open_browser: bool) -> None:
    import uvicorn

    from mastlens.review.app import create_app
    from mastlens.review.pages import ReviewConfig
    from mastlens.review.security import Secret

    if not _is_loopback(host):
        note(f"[yellow]warning:[/] listening on {escape(host)}, reachable from other machines; only the token "
             "guards it. Keep the default 127.0.0.1 unless you need this.")
    secret = Secret()
    cfg = ReviewConfig(db=db_path, human_set=human_set, judge_set=judge_set, reviewer=human_set.split(":", 1)[1],
                       queue_id=queue.id, strategy=queue.strategy, against_set=queue.against_set, seed=queue.seed)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    access = logging.getLogger("mastlens.review.access")
    access.addHandler(handler)
    access.setLevel(logging.INFO)
    sock = _bind(host, port)
    actual = sock.getsockname()[1]
    url = secret.url("127.0.0.1" if host in ("0.0.0.0", "::") else host, actual)
    resumed = "resumed" if not queue.created else "new"
    console.print(f"reviewing [bold]{escape(judge_set)}[/] into [bold]{escape(human_set)}[/]: {queue.size} traces "
                  f"({resumed} {queue.strategy} queue, seed {queue.seed})", soft_wrap=True)
    console.print(f"open {url}", soft_wrap=True, markup=False)
    console.print("Ctrl+C stops the server; labels are saved as you go.")
    sys.stdout.flush()
    if open_browser:
        import webbrowser

        webbrowser.open(url)
    app = create_app(cfg, secret)
    config = uvicorn.Config(app, access_log=False, log_level="warning", lifespan="off", server_header=False)
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        app.state.stores.close()
        sock.close()
