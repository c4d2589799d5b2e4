"""The parity agent, written with the official Python SDK (staso==0.5.25).

tests/python_parity.rs runs the same agent written with the Rust SDK and compares what
the two send, span by span. Reads STASO_API_KEY and STASO_BASE_URL from the environment.
"""

import os
import sys

import staso as st

st.init(
    api_key=os.environ["STASO_API_KEY"],
    base_url=os.environ["STASO_BASE_URL"],
    agent_name="parity-agent",
    agent_version="1.0.0",
    flush_interval=0.05,
)


@st.tool
def lookup(order_id, region):
    return {"id": order_id, "status": "shipped", "region": region}


@st.tool(name="refund.issue")
def refund(order_id):
    raise ValueError(f"order {order_id} not found")


@st.trace(kind="retriever", tags=["kb"])
def search(query):
    return ["Refunds within 30 days.", "Shipping takes 3-5 days."]


@st.agent(name="support-bot", metadata={"team": "cx"})
def answer(question):
    docs = search("refund policy")
    order = lookup(42, "eu")
    try:
        refund(7)
    except ValueError:
        pass
    return f"order {order['id']} is {order['status']} ({len(docs)} docs)"


with st.conversation("conv-parity", user_id="user-alice"):
    answer("where is my order?")
report = st.shutdown(timeout=15)
if not report.ok:
    print(f"shutdown={report}", file=sys.stderr)
    sys.exit(1)
