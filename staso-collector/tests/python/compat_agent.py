"""Drives the official Python SDK (staso==0.5.25) against a staso-collector.

Reads STASO_API_KEY and STASO_BASE_URL from the environment (the collector test sets
them), traces an agent with a nested tool and a nested chain span, sends one
annotation, flushes, shuts down, and exits 0 only if the SDK reports full delivery.
"""

import os
import sys
import time

import staso as st
from staso.context import get_current_span

st.init(
    api_key=os.environ["STASO_API_KEY"],
    base_url=os.environ["STASO_BASE_URL"],
    agent_name="compat-agent",
    flush_interval=0.05,
)


@st.tool
def search(query: str) -> list:
    return [query.upper(), query.lower()]


@st.trace
def summarize(items: list) -> str:
    return ", ".join(items)


@st.tool
def score() -> float:
    # json.dumps writes this as a bare NaN token inside the span's output string.
    return float("nan")


@st.agent
def research(question: str) -> str:
    # Long enough for the provisional root copy to go out in a batch of its own.
    time.sleep(0.3)
    found = search(question)
    summary = summarize(found)
    score()
    get_current_span().annotate("quality", value=0.75, comment="compat test")
    return summary


result = research("Rust SDK")
flushed = st.flush(timeout=15)
closed = st.shutdown(timeout=15)
print(f"result={result!r} flush_ok={flushed.ok} shutdown_ok={closed.ok}")
if not (flushed.ok and closed.ok):
    print(f"flush={flushed} shutdown={closed}", file=sys.stderr)
    sys.exit(1)
