"""Fair dispatch: tenant work handed to the shared workers round-robin, capped per tenant, urgent first."""
