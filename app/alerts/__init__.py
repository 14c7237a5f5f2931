"""Per-tenant alerts: rules over the flow health figures, incidents opened and resolved once each, and
their notifications (mail and signed webhooks) written to the outbox with the incident change."""
