"""Light shell parsing: a command string to its simple commands as token lists. Heredoc bodies are
dropped (they are data, not commands), quotes grouped and removed, and a new simple command starts at
every ``; | &`` or newline outside quotes. Nothing is executed or expanded."""

from __future__ import annotations

import os
import re

# The body of a heredoc; the rest of its opening line (`cat <<'EOF' > file.py`: the redirect) is kept.
_HEREDOC = re.compile(r"<<-?\s*(['\"]?)(\w+)\1([^\n]*)\n.*?\n\s*\2\s*(?=\n|$)", re.DOTALL)
_PLAIN = re.compile(r"[^'\"\\]*")  # no quotes or escapes: a plain split is exact
_BREAKS = re.compile(r"[;|&\n]")


def _scan(command: str) -> list[list[str]]:
    """Tokenize like a shell would for our purposes: quotes grouped and removed, backslash escapes
    honoured, a new simple command at every ``; | &`` or newline outside quotes."""
    commands: list[list[str]] = []
    tokens: list[str] = []
    buf: list[str] = []
    quote, escaped, in_token = "", False, False
    for ch in command:
        if escaped:
            if ch == "\n":  # a backslash-newline continues the line: it is no character of a word
                in_token = bool(buf)
            else:
                buf.append(ch)
            escaped = False
        elif quote:
            if ch == quote:
                quote = ""
            elif ch == "\\" and quote == '"':
                escaped = True
            else:
                buf.append(ch)
        elif ch == "\\":
            escaped = in_token = True
        elif ch in "'\"":
            quote, in_token = ch, True
        elif ch in " \t\r;|&\n":
            if in_token:
                tokens.append("".join(buf))
                buf, in_token = [], False
            if ch in ";|&\n" and tokens:
                commands.append(tokens)
                tokens = []
        else:
            buf.append(ch)
            in_token = True
    if in_token:
        tokens.append("".join(buf))
    if tokens:
        commands.append(tokens)
    return commands


# One shell word (quoted parts and escapes included, an unterminated quote running to the end) or one
# command separator; blanks between them are skipped.
_WORD_OR_BREAK = re.compile(r"""(?:[^ \t\r\n'"\\;|&]|\\.|\\$|'[^']*(?:'|$)|"(?:[^"\\]|\\.|\\$)*(?:"|$))+|[;|&\n]""",
                            re.DOTALL)


def _scan_fast(command: str) -> list[list[str]]:
    """:func:`_scan` by regular expression: words found whole, and only a word holding a quote or an
    escape is unquoted character by character."""
    commands: list[list[str]] = []
    tokens: list[str] = []
    for match in _WORD_OR_BREAK.finditer(command):
        word = match.group(0)
        if word in (";", "|", "&", "\n"):
            if tokens:
                commands.append(tokens)
                tokens = []
        elif "'" in word or '"' in word or "\\" in word:
            tokens.extend(t for c in _scan(word) for t in c)
        else:
            tokens.append(word)
    if tokens:
        commands.append(tokens)
    return commands


def simple_commands(command: str) -> list[list[str]]:
    """The command's simple commands as token lists (heredoc bodies removed, wrappers dropped: :func:`unwrapped`)."""
    command = _HEREDOC.sub(r" \3", command)
    if _PLAIN.fullmatch(command):
        raw = [part.split() for part in _BREAKS.split(command)]
    else:
        raw = _scan_fast(command)
    out = []
    for tokens in raw:
        tokens = unwrapped(tokens)
        if tokens:
            out.append(tokens)
    return out


_PREFIXES = {"time", "command", "exec", "nohup", "builtin"}
# Wrappers that run the command after their own options (those that take a value listed):
# ``sudo -u app``, ``env -C /x``, ``timeout 60 python x.py``, ``nice -n 5 make``.
_OPTION_VALUES = {"sudo": {"-u", "--user", "-g", "--group", "-C", "--chdir"},
                  "env": {"-u", "--user", "-g", "--group", "-C", "--chdir"},
                  "timeout": {"-s", "--signal", "-k", "--kill-after"}, "nice": {"-n", "--adjustment"},
                  "stdbuf": set(), "xvfb-run": {"-n", "--server-num", "-s", "--server-args", "-e", "--error-file",
                                                "-f", "--auth-file", "-p", "--xauth-protocol"}}
# Environment managers' ``run``: ``poetry run pytest``, ``conda run -n testbed python x.py``.
_RUNNERS = {"poetry", "uv", "pipenv", "pdm", "hatch", "rye", "conda", "mamba", "micromamba"}
_RUNNER_VALUES = {"-n", "--name", "-p", "--prefix", "-e", "--env", "--with", "--python"}


def unwrapped(tokens: list[str]) -> list[str]:
    """The command a simple command runs, with what only wraps it dropped: ``sudo``/``env``/``time``/``nohup`` and
    variable assignments in front, ``timeout 60``, ``nice -n 5``, ``stdbuf -oL``, ``xvfb-run -a`` and an environment
    manager's ``run`` (``poetry run``, ``conda run -n testbed``)."""
    while tokens:
        head = os.path.basename(tokens[0])
        if head in _PREFIXES or ("=" in tokens[0] and not tokens[0].startswith("=")):
            tokens = tokens[1:]
        elif head in _OPTION_VALUES:
            tokens = _skip_options(tokens[1:], _OPTION_VALUES[head])
            if head == "timeout" and tokens:
                tokens = tokens[1:]  # the duration
        elif head in _RUNNERS and tokens[1:2] == ["run"]:
            tokens = _skip_options(tokens[2:], _RUNNER_VALUES)
        else:
            break
    return tokens


def _skip_options(tokens: list[str], taking_value: set[str]) -> list[str]:
    i = 0
    while i < len(tokens) and tokens[i].startswith("-") and tokens[i] != "-":
        i += 2 if tokens[i] in taking_value else 1
    return tokens[i:]


# Programs whose exit code 1 is an answer, not a failure: no match (grep), a difference (diff, cmp), false (test).
_ANSWERING_EXIT_1 = {"grep", "egrep", "fgrep", "rg", "ag", "zgrep", "diff", "cmp", "test", "[", "[["}


def exit_1_is_an_answer(command: str) -> bool:
    """Whether exit code 1 of ``command`` only reports a negative answer: its last simple command
    (the one whose status a pipeline returns) is grep, diff, test and the like."""
    commands = simple_commands(command)
    return bool(commands) and os.path.basename(commands[-1][0]) in _ANSWERING_EXIT_1
