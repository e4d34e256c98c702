"""The scripted investigations behind the generated ITBench runs: one opening, then one ending per pattern."""

from __future__ import annotations

import json
from typing import Any, Callable

from itbench_text import (
    AGENTS_MD, ROOT, SNAPSHOT, SYSTEM_PROMPT, TASK, Scenario, alerts_json, big_log, events_table, flagd_json,
    pods_table, topology_text,
)


class _Play:
    def __init__(self, w: Any, sc: Scenario, cwd: str, scale: int):
        self.w, self.sc, self.cwd, self.scale = w, sc, cwd, scale
        self.context = 2500
        self.snapshot = SNAPSHOT.format(scenario=cwd.split("/")[-2])

    def step(self, thought: str | tuple[str, ...], command: str, output: str, code: int = 0) -> None:
        self.w.turn(self.cwd)
        self.w.think(*((thought,) if isinstance(thought, str) else thought))
        self.w.shell(self.cwd, command, output, code, seconds=round(0.1 + len(output) / 200000, 2))
        self.context += len(output) // 4 + 60
        self.w.tokens(self.context, 90 + len(command) // 3)

    def opening(self) -> None:
        w, sc = self.w, self.sc
        prompt = SYSTEM_PROMPT.format(snapshot=self.snapshot, cwd=self.cwd)
        w.session_meta(self.cwd, prompt)
        w.user(AGENTS_MD.format(cwd=self.cwd, prompt=prompt), echo=False)
        w.user(TASK.format(snapshot=self.snapshot))
        w.turn(self.cwd)
        w.tokens(0, 0, null=True)
        w.think("**Listing the snapshot**", "I'll list the snapshot first to see which alerts, events and logs were captured.")
        listing = "\n".join([f"{self.snapshot}:", "alerts", "events", "logs", "metrics", "traces", "topology.md", "",
                             f"{self.snapshot}/alerts:", "alerts_at_2026-01-15T17-48-00.json",
                             "alerts_at_2026-01-15T17-58-00.json"])
        w.shell(self.cwd, f"ls -R {self.snapshot} | head -n 60", listing)
        w.tokens(self.context, 120)
        w.ghost()
        self.step(("**Building the alerts table**", "Next I'll summarize the firing alerts with jq."),
                  f"jq '[.[] | {{alertname, service_name, activeAt, value}}]' {self.snapshot}/alerts/alerts_at_2026-01-15T17-48-00.json",
                  alerts_json(sc))
        w.turn(self.cwd)
        w.think("**Checking the topology**", "The alerts sit on the request path; the topology tool shows who calls whom.")
        w.mcp("get_topology", {"namespace": "otel-demo"}, topology_text())
        w.tokens(self.context, 80)
        self.step("Let me look at the pods to rule out crashes or restarts.", "kubectl get pods -n otel-demo -o wide",
                  pods_table(w.rng))

    def victim_logs(self) -> None:
        sc = self.sc
        self.step(f"**Reading {sc.victim} logs**",
                  f"kubectl logs -n otel-demo deploy/{sc.victim} --since=30m --timestamps",
                  big_log(self.w.rng, sc.victim, sc, 40 * self.scale))

    def flag_check(self) -> None:
        self.step(("**Checking feature flags**", f"The {self.sc.victim} errors mention a feature flag, so I'll read "
                   "the flagd configuration."),
                  "kubectl get configmap flagd-config -n otel-demo -o jsonpath='{.data.demo\\.flagd\\.json}' | jq .",
                  flagd_json(self.sc))
        self.step("The ConfigMap events tell when the flag changed.",
                  "kubectl get events -n otel-demo --sort-by=.lastTimestamp | tail -n 20", events_table(self.sc))

    def write(self, diag: dict[str, Any], final: str) -> dict[str, Any]:
        body = json.dumps(diag, indent=2)
        self.step("**Writing the diagnosis**", f"cat > agent_output.json <<'EOF'\n{body}\nEOF", "")
        self.step("Validate the file with jq as required.", "jq -e '.entities | length' agent_output.json",
                  str(len(diag["entities"])))
        self.w.say(final, final=True)
        self.w.tokens(self.context, 60)
        return diag


def play(w: Any, sc: Scenario, pattern: str, *, cwd: str, scale: int = 1) -> dict[str, Any] | None:
    """Write the rollout for one pattern into ``w``; return the diagnosis the agent wrote (None: none)."""
    from itbench_runs import diagnosis

    p = _Play(w, sc, cwd, scale)
    p.opening()
    endings: dict[str, Callable[[], dict[str, Any] | None]] = {
        "clean": lambda: _clean(p, diagnosis),
        "loop": lambda: _loop(p, diagnosis),
        "turn_limit": lambda: _turn_limit(p),
        "no_output": lambda: _no_output(p),
        "empty_entities": lambda: _empty(p, diagnosis),
        "ignored_error": lambda: _ignored_error(p),
        "remediation": lambda: _remediation(p, diagnosis),
        "task_reissued": lambda: _reissued(p, diagnosis),
        "recovered_error": lambda: _recovered(p, diagnosis),
        "recheck": lambda: _recheck(p, diagnosis),
    }
    return endings[pattern]()


def _clean(p: _Play, diagnosis) -> dict[str, Any]:
    p.victim_logs()
    p.flag_check()
    return p.write(diagnosis(p.sc, ROOT), f"Diagnosis written to agent_output.json. Root cause: {ROOT} "
                   f"({p.sc.flag} switched on), which breaks {p.sc.victim} and the services calling it.")


def _loop(p: _Play, diagnosis) -> dict[str, Any]:
    logs = big_log(p.w.rng, "frontend", p.sc, 30 * p.scale)
    for thought in ("Frontend shows the errors; read its logs.", "Check the frontend logs again.",
                    "Let me re-read the frontend logs to be sure.", "Look at the frontend logs once more.",
                    "Frontend logs again, to confirm the error pattern."):
        p.step(thought, "kubectl logs -n otel-demo deploy/frontend --tail=50", logs)
    root = "otel-demo/Deployment/frontend"
    return p.write(diagnosis(p.sc, root), f"Diagnosis written. The frontend deployment is the root cause ({root}).")


def _turn_limit(p: _Play) -> None:
    p.victim_logs()
    p.w.compacted("Summary so far: four HighRequestErrorRate alerts in otel-demo; pods are Running; "
                  f"{p.sc.victim} logs show errors. Not yet checked: flagd, metrics, traces.")
    top = "\n".join(f"{s:<34}{20 + i * 7}m   {90 + i * 11}Mi" for i, s in enumerate(("cart", "checkout", "frontend", "ad")))
    for _ in range(6):
        p.step("CPU might explain the latency; check pod usage.", "kubectl top pods -n otel-demo", top)
    p.w.turn(p.cwd)
    p.w.think("I still need more data before concluding; keep sampling resource usage.")
    p.w.aborted("interrupted")
    return None


def _no_output(p: _Play) -> None:
    p.victim_logs()
    p.w.say(f"The {p.sc.victim} service is returning errors, so the {p.sc.victim} deployment is the root cause. "
            "Investigation complete.", final=True)
    p.w.tokens(p.context, 50)
    return None


def _empty(p: _Play, diagnosis) -> dict[str, Any]:
    p.step("Check the flagd logs for clues.", "kubectl logs -n otel-demo deploy/flagd --tail=40",
           'Error from server (BadRequest): container "flagd" in pod "flagd-6d8f7c9b4-x2kqp" is waiting to start', 1)
    return p.write(diagnosis(p.sc, None), "I could not determine the root cause from the available data; "
                   "wrote an empty diagnosis.")


def _ignored_error(p: _Play) -> None:
    p.victim_logs()
    p.step("Read the flag configuration.", "kubectl describe configmap flagd-cfg -n otel-demo",
           'Error from server (NotFound): configmaps "flagd-cfg" not found', 1)
    p.w.turn(p.cwd)
    p.w.think(f"The flag configuration confirms {p.sc.flag} is on; writing the diagnosis.")
    target = f"{p.snapshot}/agent_output.json"
    p.step("**Writing the diagnosis**", f"cat > {target} <<'EOF'\n{{\"entities\": []}}\nEOF",
           f"bash: {target}: Read-only file system", 1)
    p.step("Validate with jq.", "jq . agent_output.json",
           "jq: error: Could not open file agent_output.json: No such file or directory", 2)
    p.w.say(f"Confirmed: flagd-config enables {p.sc.flag}. Diagnosis written to agent_output.json and "
            "validated with jq.", final=True)
    p.w.tokens(p.context, 40)
    return None


def _remediation(p: _Play, diagnosis) -> dict[str, Any]:
    p.victim_logs()
    p.flag_check()
    patch = json.dumps({"data": {"demo.flagd.json": flagd_json(p.sc, on=False)}})
    p.step(("**Fixing the flag**", f"I'll switch {p.sc.flag} off and restart {p.sc.victim}."),
           f"kubectl patch configmap flagd-config -n otel-demo --type merge -p '{patch}'",
           "configmap/flagd-config patched")
    p.step("Restart the affected deployment so it picks up the flag.",
           f"kubectl rollout restart deployment/{p.sc.victim} -n otel-demo", f"deployment.apps/{p.sc.victim} restarted")
    return p.write(diagnosis(p.sc, ROOT), f"Root cause fixed: {p.sc.flag} disabled in flagd-config and "
                   f"{p.sc.victim} restarted. The incident is resolved.")


def _reissued(p: _Play, diagnosis) -> dict[str, Any]:
    from itbench_text import TASK as task

    p.victim_logs()
    p.w.compacted(f"Summary so far: alerts on {', '.join(p.sc.alerts)}; {p.sc.victim} logs show errors.")
    p.w.aborted("replaced")
    p.w.user(task.format(snapshot=p.snapshot))
    p.step("Starting the investigation: list the snapshot.", f"ls -R {p.snapshot} | head -n 60",
           "alerts\nevents\nlogs\nmetrics\ntraces\ntopology.md")
    p.step("Summarize the alerts.", f"jq length {p.snapshot}/alerts/alerts_at_2026-01-15T17-48-00.json",
           str(len(p.sc.alerts)))
    p.step("Frontend carries most alerts; read its logs.", "kubectl logs -n otel-demo deploy/frontend --tail=50",
           big_log(p.w.rng, "frontend", p.sc, 20 * p.scale))
    root = "otel-demo/Deployment/frontend"
    return p.write(diagnosis(p.sc, root), f"Diagnosis written: {root} is the root cause.")


def _recovered(p: _Play, diagnosis) -> dict[str, Any]:
    """A wrong ConfigMap name fails (NotFound); the agent says so, lists the ConfigMaps and reads the right one."""
    p.victim_logs()
    p.step("Read the flag configuration.", "kubectl describe configmap flagd-cfg -n otel-demo",
           'Error from server (NotFound): configmaps "flagd-cfg" not found', 1)
    p.step("That ConfigMap name was wrong (NotFound); list the ConfigMaps to find the flag configuration.",
           "kubectl get configmaps -n otel-demo",
           "NAME               DATA   AGE\nflagd-config       1      3h\nkube-root-ca.crt   1      3h\n"
           "otel-collector     1      3h")
    p.flag_check()
    return p.write(diagnosis(p.sc, ROOT), f"Diagnosis written to agent_output.json. Root cause: {ROOT} "
                   f"({p.sc.flag} switched on). The first ConfigMap lookup used a wrong name and failed; the "
                   "right one was read afterwards.")


def _recheck(p: _Play, diagnosis) -> dict[str, Any]:
    """The right diagnosis, after reading the same logs three times over (wasted turns, no harm)."""
    logs = big_log(p.w.rng, p.sc.victim, p.sc, 20 * p.scale)
    for thought in (f"Read the {p.sc.victim} logs.", f"Read the {p.sc.victim} logs again to be sure.",
                    f"One more look at the {p.sc.victim} logs."):
        p.step(thought, f"kubectl logs -n otel-demo deploy/{p.sc.victim} --tail=40", logs)
    p.flag_check()
    return p.write(diagnosis(p.sc, ROOT), f"Diagnosis written to agent_output.json. Root cause: {ROOT} "
                   f"({p.sc.flag} switched on), which breaks {p.sc.victim}.")
