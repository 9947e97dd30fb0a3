"""Bounded fuzzing of the GraphQL API with Schemathesis (run by scripts/fuzz).

Every query and mutation of schema/registry.graphql is generated from the
schema, custom scalars included, and sent to a running service as each
caller: anonymous, staff, communications and auditor. Any HTTP 5xx, or any
error with `extensions.code` INTERNAL, fails the run.

Usage: graphql_fuzz.py BASE_URL SDL_PATH REQUESTS_PER_CALLER [NAME=TOKEN ...]
"""

import datetime
import json
import sys

import hypothesis
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, strategies as st
from schemathesis.graphql import nodes

# The service's custom scalars (async-graphql's names).
schemathesis.graphql.scalar("NaiveDate", st.dates().map(lambda d: nodes.String(d.isoformat())))
schemathesis.graphql.scalar("UUID", st.uuids().map(lambda u: nodes.String(str(u))))
schemathesis.graphql.scalar(
    "DateTime",
    st.datetimes(timezones=st.just(datetime.timezone.utc)).map(lambda d: nodes.String(d.isoformat())),
)
schemathesis.graphql.scalar(
    "JSON",
    st.one_of(st.text(max_size=30), st.integers(), st.booleans()).map(
        lambda v: nodes.String(v) if isinstance(v, str) else (nodes.Int(v) if isinstance(v, int) and not isinstance(v, bool) else nodes.Boolean(v))
    ),
)


def main() -> int:
    base, sdl, per_caller = sys.argv[1], sys.argv[2], int(sys.argv[3])
    callers = {"anonymous": None}
    for pair in sys.argv[4:]:
        name, token = pair.split("=", 1)
        callers[name] = token
    schema = schemathesis.graphql.from_path(sdl)
    operations = [result.ok() for result in schema.get_all_operations()]
    per_operation = max(1, per_caller // len(operations))
    session = requests.Session()
    failures = []
    counts = {}

    for name, token in callers.items():
        headers = {"content-type": "application/json"}
        if token:
            headers["authorization"] = f"Bearer {token}"
        sent = 0
        for operation in operations:

            @hypothesis.given(case=operation.as_strategy())
            @hypothesis.settings(
                max_examples=per_operation,
                deadline=None,
                database=None,
                phases=[Phase.generate],
                suppress_health_check=list(HealthCheck),
                derandomize=True,
            )
            def run(case):
                nonlocal sent
                body = case.body if isinstance(case.body, dict) else {"query": case.body}
                response = session.post(f"{base}/graphql", data=json.dumps(body), headers=headers, timeout=30)
                sent += 1
                problem = None
                if response.status_code >= 500:
                    problem = f"HTTP {response.status_code}"
                else:
                    try:
                        payload = response.json()
                    except ValueError:
                        problem = f"HTTP {response.status_code} with a body that is not JSON"
                    else:
                        for error in payload.get("errors") or []:
                            if (error.get("extensions") or {}).get("code") == "INTERNAL":
                                problem = f"INTERNAL: {error.get('message')}"
                if problem and len(failures) < 50:
                    failures.append({"caller": name, "operation": operation.label, "problem": problem, "query": body["query"][:2000]})

            run()
        counts[name] = sent
    total = sum(counts.values())
    print(f"fuzz: {total} requests over {len(operations)} operations: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    for failure in failures:
        print("FAILED", json.dumps(failure), file=sys.stderr)
    print(f"fuzz: {total - len(failures)} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
