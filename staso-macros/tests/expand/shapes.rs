#[staso::tool(name = "stripe.refund", tags = ["payments"], metadata(team = "billing"), skip(api_key))]
fn refund(api_key: &str, charge: &str, cents: u64) -> Result<u64, RefundError> {
    if cents == 0 {
        return Err(RefundError::Zero);
    }
    Ok(cents)
}

#[staso::trace]
fn total(items: &[u64]) -> u64 {
    items.iter().sum()
}

#[staso::agent(name = "billing-agent")]
async fn handle(ticket: Ticket) -> Result<String, Error> {
    let refund = refund("sk", &ticket.charge, ticket.cents)?;
    Ok(format!("refunded {refund}"))
}

#[staso::trace(kind = "retriever")]
fn search(query: String) -> impl Future<Output = Vec<Doc>> + Send {
    async move { index().search(&query).await }
}

#[staso::main(agent_name = "billing", flush_interval = 0.5, shutdown_timeout = 5, capture_git = false)]
async fn main() -> anyhow::Result<()> {
    handle(Ticket::default()).await?;
    Ok(())
}
