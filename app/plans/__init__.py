"""Plans: what a partner promises its retailers (SLA objectives) and charges them (a rate card)."""
