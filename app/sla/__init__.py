"""SLA reports: each objective of the retailer's plan measured over a billing period from raw facts."""
