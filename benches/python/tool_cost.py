"""Cost of a call to an `@st.tool` function of the official Python SDK (staso==0.5.25),
measured the way benches/benches/span.rs measures ours: the SDK initialised against the
loopback collector (STASO_BASE_URL), tool calls in bursts of 1000 nested in an agent span,
two small arguments and the result captured (the SDK's default). Prints ns per call.
"""

import os
import sys
import time

import staso as st

st.init(
    api_key=os.environ.get("STASO_API_KEY", "bench-key"),
    base_url=os.environ["STASO_BASE_URL"],
    agent_name="bench-agent",
)


@st.tool
def lookup(query, limit):
    return len(query) + limit


@st.agent(name="bench-agent")
def burst(n):
    t = time.perf_counter_ns()
    for i in range(n):
        lookup("refund policy", i)
    return time.perf_counter_ns() - t


def plain(query, limit):
    return len(query) + limit


def main():
    bursts = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    burst(100)  # warm-up
    times = sorted(burst(1000) / 1000 for _ in range(bursts))
    t = time.perf_counter_ns()
    for i in range(100000):
        plain("refund policy", i)
    plain_ns = (time.perf_counter_ns() - t) / 100000
    st.flush() if hasattr(st, "flush") else None
    median = times[len(times) // 2]
    mean = sum(times) / len(times)
    print(f"python @st.tool: median {median:.0f} ns, mean {mean:.0f} ns per call; plain call {plain_ns:.0f} ns")
    print(f"RESULT python tool_ns={mean:.0f} median_ns={median:.0f} plain_ns={plain_ns:.0f}")


main()
