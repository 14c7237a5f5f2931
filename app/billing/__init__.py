"""Platform → partner billing: partners' usage reported to Stripe metered billing, reconciled, and the
subscription and invoice state Stripe sends back through webhooks."""
