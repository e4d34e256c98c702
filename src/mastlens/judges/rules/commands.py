"""What a tool call does to the world: which calls change state (cluster objects, files, records
through an API) and which only look. Shell commands are tokenized by :mod:`.shell`; nothing is executed."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from mastlens.judges.rules.shell import simple_commands
from mastlens.judges.rules.view import Call

SHELL_TOOLS = {"shell", "local_shell", "bash", "exec_command", "run_shell_command", "terminal", "execute_bash",
               "container.exec", "run_command"}
_KUBECTL_WRITES = {"apply", "create", "delete", "patch", "replace", "edit", "scale", "set", "label", "annotate",
                   "cordon", "uncordon", "drain", "taint", "expose", "autoscale"}
_ROLLOUT_WRITES = {"restart", "undo", "pause", "resume"}
_HELM_WRITES = {"install", "upgrade", "uninstall", "delete", "rollback"}
_KUBECTL_READS = {"get", "describe", "logs", "top", "events", "wait", "diff"}
_VALUE_FLAGS = {"-n", "--namespace", "-p", "--patch", "--type", "-o", "--output", "-l", "--selector", "-c",
                "--container", "--context", "--replicas", "--since", "--tail", "--field-selector"}
_KINDS = {"configmap", "configmaps", "cm", "deployment", "deployments", "deploy", "pod", "pods", "po", "service",
          "services", "svc", "secret", "secrets", "statefulset", "statefulsets", "sts", "daemonset", "daemonsets",
          "ds", "job", "jobs", "cronjob", "cronjobs", "namespace", "ns", "node", "nodes", "ingress", "hpa",
          "replicaset", "replicasets", "rs", "pvc", "pv", "all", "events", "event"}
_FILE_WRITERS = {"tee", "touch", "rm", "mv", "cp", "mkdir", "truncate"}
_TEST_RUNNERS = re.compile(r"^(?:pytest|py\.test|tox|nox|nosetests|nose2|unittest|jest|vitest|mocha|ctest|rspec"
                           r"|phpunit)$|^(?:go|cargo|npm|yarn|pnpm|make|mvn|gradle|dotnet)$")
# The verbs that name a state change in a tool's name (English verbs of record-keeping, not one benchmark's tools).
_API_WRITE_PREFIX = re.compile(r"^(?:create|update|delete|remove|book|cancel|modify|send|write|edit|apply|set|add|"
                               r"insert|transfer|post|put|patch|submit|exchange|return|issue|grant|revoke|enable|"
                               r"disable|activate|deactivate|suspend|resume|reset|change|assign|register|pay|charge|"
                               r"refund|schedule|reschedule|upgrade|downgrade|renew|close|toggle|approve|reject|"
                               r"move|rename|restart|top_?up)_", re.IGNORECASE)
# A call handing the conversation to another party (``transfer_to_human_agents``, an SDK's ``transfer_to_<agent>``):
# it changes no record, so it is no write to check or to gate.
_HANDOFF = re.compile(r"^(?:transfer|hand_?off|escalate)_to_", re.IGNORECASE)
_API_READ_PREFIX = re.compile(r"^(?:get|list|read|search|find|check|fetch|view|show|describe|query|lookup)_",
                              re.IGNORECASE)
_FILE_TOOLS = re.compile(r"^(?:apply_patch|write_file|edit_file|create_file|str_replace_editor"
                         r"|str_replace_based_edit_tool"
                         r"|write|edit|multiedit)$", re.IGNORECASE)
_EDITOR_READS = {"view", "read"}  # editor tools that also read (str_replace_editor's "view")
_PATCH_FILE = re.compile(r"^\*\*\* (?:Update|Add|Delete) File: (.+)$", re.MULTILINE)


@dataclass
class Change:
    """A state change made by a call: ``kind`` is cluster, file or api; ``targets`` name what changed
    (object names, file basenames), empty when a call names nothing specific."""

    kind: str
    targets: set[str] = field(default_factory=set)
    removal: bool = False  # the change only deletes files (``rm``): cleanup, nothing to run or read back


def _argument_command(args: object) -> str | None:
    """The command a call's arguments hold (``command`` / ``cmd``, a string or an argv list)."""
    if not isinstance(args, dict):
        return None
    value = args.get("command", args.get("cmd"))
    if isinstance(value, list) and all(isinstance(v, (str, int, float)) for v in value):
        return " ".join(str(v) for v in value)
    return value if isinstance(value, str) else None


def command_text(call: Call) -> str | None:
    """The shell command of a shell call (as the adapter rendered it, else as its arguments hold it: Claude
    Code's ``Bash`` calls keep it only there), else None."""
    args = call.step.arguments
    if call.tool in SHELL_TOOLS:
        return call.step.content or _argument_command(args)
    if isinstance(args, dict) and ("command" in args or "cmd" in args) and not _FILE_TOOLS.match(call.tool):
        return call.step.content or _argument_command(args)
    return None


def runs_tests(tokens: list[str]) -> bool:
    """A command that starts a test runner, or a build tool that runs tests (pytest, tox, go, cargo, npm, make)."""
    return bool(_TEST_RUNNERS.match(os.path.basename(tokens[0]))) or "pytest" in tokens


_INTERPRETERS = re.compile(r"^(?:python[\d.]*|pypy[\d.]*|ipython3?|node|ruby|perl|php|java|bash|sh|zsh|deno|bun|"
                           r"dotnet|go|cargo|Rscript|julia|lua|tsx|ts-node)$")
_SCRIPT = re.compile(r"\.(?:py|sh|rb|pl|js|ts|php)$")


def runs_code(tokens: list[str]) -> bool:
    """A command that runs code: a test runner or build tool, an interpreter on a script or inline program,
    or a local executable (``./repro``, ``bin/test``, ``tests/runtests.py``, ``/testbed/repro.py``)."""
    prog = tokens[0]
    local = prog.startswith(("./", "../")) or ("/" in prog and not prog.startswith(("/", "~"))) \
        or (prog.startswith("/") and bool(_SCRIPT.search(prog)))
    return runs_tests(tokens) or (bool(_INTERPRETERS.match(os.path.basename(prog))) and len(tokens) > 1) or local


# SWE-agent's editor, shell functions of its agent-computer interface: ``edit``/``insert``/``append`` change the
# open file (their body, up to ``end_of_edit``, is text, not commands); ``create <file>`` makes one;
# ``str_replace_editor <command> <path>`` is its later editor tool called from the shell.
_ACI_EDITS = {"edit", "insert", "append"}
_EDITOR_WRITES = {"create", "str_replace", "insert", "undo_edit"}


def call_commands(call: Call) -> list[list[str]] | None:
    """The simple commands of a shell call (parsed once per call), or None for other tools."""
    if not call.parsed:
        command = command_text(call)
        if command is None:
            call.commands = None
        elif (head := command.split(None, 1)[:1]) and head[0] in _ACI_EDITS:
            call.commands = [head]  # the edit's body is text, not commands
        else:
            call.commands = simple_commands(command)
        call.parsed = True
    return call.commands


def _editor_change(tokens: list[str], call: Call) -> Change | None:
    """The file an editor command of SWE-agent's interface changes (the open file, as the reader recorded it,
    for ``edit``/``insert``/``append``)."""
    prog = tokens[0]
    if prog in _ACI_EDITS:
        open_file = call.step.metadata.get("open_file")
        return Change("file", {os.path.basename(open_file)} if isinstance(open_file, str) and open_file else set())
    if prog == "create" and len(tokens) == 2:
        return Change("file", {os.path.basename(tokens[1])})
    if prog == "str_replace_editor" and len(tokens) > 2 and tokens[1] in _EDITOR_WRITES:
        return Change("file", {os.path.basename(tokens[2])})
    return None


def _positionals(tokens: list[str]) -> list[str]:
    out, skip = [], False
    for tok in tokens:
        if skip:
            skip = False
        elif tok in _VALUE_FLAGS:
            skip = True
        elif not tok.startswith("-"):
            out.append(tok)
    return out


def _object_names(tokens: list[str]) -> set[str]:
    names = set()
    for tok in _positionals(tokens):
        name = tok.rsplit("/", 1)[-1].lower()
        if name and name not in _KINDS:
            names.add(name)
    return names


def _kubectl_change(tokens: list[str]) -> Change | None:
    prog = os.path.basename(tokens[0])
    rest = [t for t in tokens[1:] if not t.startswith("-")]
    if prog in ("kubectl", "oc") and rest:
        verb = rest[0]
        if verb in _KUBECTL_WRITES or (verb == "rollout" and len(rest) > 1 and rest[1] in _ROLLOUT_WRITES):
            start = tokens.index(rest[1] if verb == "rollout" else verb) + 1
            return Change("cluster", _object_names(tokens[start:]))
    if prog == "helm" and rest and rest[0] in _HELM_WRITES:
        return Change("cluster", {t.lower() for t in rest[1:2]})
    return None


_REDIRECT_TO = re.compile(r"\d?>>?(?=[^&>])")


def _file_targets(tokens: list[str]) -> set[str]:
    targets = set()
    for i, tok in enumerate(tokens):
        if ">" not in tok:
            continue
        if tok in (">", ">>") and i + 1 < len(tokens):
            targets.add(tokens[i + 1])
        elif (redirect := _REDIRECT_TO.match(tok)) is not None:
            targets.add(tok[redirect.end():])
    prog = os.path.basename(tokens[0])
    if prog in _FILE_WRITERS:
        targets |= {t for t in tokens[1:] if not t.startswith("-")} if prog != "cp" else set(tokens[-1:])
    if prog == "sed" and any(t.startswith("-i") for t in tokens[1:]):
        targets.add(tokens[-1])
    return {os.path.basename(t) for t in targets if t and t not in ("/dev/null", "/dev/stderr", "/dev/stdout")}


def changes(call: Call) -> list[Change]:
    """The state changes a call makes (attempted; whether it worked is the call's ``failed``).
    Computed once per call."""
    if call.changes is None:
        call.changes = _changes(call)
    return call.changes


def _changes(call: Call) -> list[Change]:
    commands = call_commands(call)
    if commands is not None:
        found = []
        for tokens in commands:
            cluster = _kubectl_change(tokens)
            if cluster is not None:
                found.append(cluster)
            edited = _editor_change(tokens, call)
            if edited is not None:
                found.append(edited)
                continue
            files = _file_targets(tokens)
            if files:
                found.append(Change("file", files, removal=os.path.basename(tokens[0]) == "rm"))
        return found
    if _FILE_TOOLS.match(call.tool):
        args = call.step.arguments
        if isinstance(args, dict) and args.get("command") in _EDITOR_READS:
            return []
        files = set(_PATCH_FILE.findall(call.step.content))
        if isinstance(args, dict):
            files |= {str(args[k]) for k in ("path", "file_path", "filename") if isinstance(args.get(k), str)}
        return [Change("file", {os.path.basename(f.strip()) for f in files if f.strip()})]
    if _API_WRITE_PREFIX.match(call.tool) and not _HANDOFF.match(call.tool):
        return [Change("api")]
    return []


def last_file_edit(calls: list[Call]) -> tuple[int, Call] | None:
    """(position in ``calls``, call) of the last call that changed a file and did not fail; removals (cleaning
    up scratch scripts) are no change. The one definition of "the last change" that the submission rules share."""
    for i in range(len(calls) - 1, -1, -1):
        call = calls[i]
        if not call.failed and any(ch.kind == "file" and not ch.removal for ch in changes(call)):
            return i, call
    return None


def is_cluster_read(tokens: list[str]) -> bool:
    prog = os.path.basename(tokens[0])
    rest = [t for t in tokens[1:] if not t.startswith("-")]
    return prog in ("kubectl", "oc") and bool(rest) and (
        rest[0] in _KUBECTL_READS or (rest[0] == "rollout" and rest[1:2] == ["status"]))


def checks(call: Call, change: Change) -> bool:
    """Whether ``call`` (made after ``change``) looks at what ``change`` changed."""
    if any(c.kind == change.kind and (c.targets & change.targets or not change.targets) for c in changes(call)):
        return False  # changing it again is not a check
    commands = call_commands(call)
    if change.kind == "api":
        return bool(_API_READ_PREFIX.match(call.tool))
    if commands is None:
        text = call.step.content.lower()
        return any(t.lower() in text for t in change.targets)
    for tokens in commands:
        words = {w.lower() for tok in tokens for w in tok.replace("/", " ").split()}
        if change.kind == "cluster" and is_cluster_read(tokens):
            named = _object_names(tokens[2:])
            if not named or named & change.targets or not change.targets:
                return True
        if change.kind == "file":
            if any(os.path.basename(tok) in change.targets for tok in tokens):
                return True
            if runs_tests(tokens) or "pytest" in words or "test" in words:
                return True
    return False


def self_confirming(call: Call) -> bool:
    """An API write whose own result reports its effect confirms it: the changed record (a JSON object) or
    the system's own account of what it did ("Certificate ... added to user ..."), not a bare acknowledgement
    ("OK", "Success") that says nothing of the effect. (Rules v7: v6 took only a JSON record; on tau2's build
    runs the unread text confirmations were flagged on successful runs only.)"""
    if call.failed:
        return False
    head = call.output.lstrip()
    return head.startswith("{") or len(head[:200].split()) >= 3
