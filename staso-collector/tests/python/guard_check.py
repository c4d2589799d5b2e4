"""Calls staso.guard (the official Python SDK, no init: env fallback) for each tool
named on the command line and prints what the SDK made of each answer, one JSON line
per tool. Tools ending in "_closed" are checked fail-closed."""

import json
import sys

import staso

for tool in sys.argv[1:]:
    r = staso.guard(tool, {"path": "/tmp/x"}, fail_closed=tool.endswith("_closed"), timeout=5)
    print(json.dumps({
        "tool": tool,
        "action": r.action,
        "decision_available": r.decision_available,
        "failure_kind": r.failure_kind.value if r.failure_kind else None,
        "rule_name": r.rule_name,
        "rules_triggered": r.rules_triggered,
        "reason": r.reason,
        "findings": [x.action for x in r.results if x.is_finding],
    }))
