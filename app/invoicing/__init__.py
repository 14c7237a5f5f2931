"""Retailer invoices: a period's usage priced by the partner's rate card, less its SLA credits."""
