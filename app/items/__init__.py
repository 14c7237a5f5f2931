"""Canonical items: what a retailer sells, with the unit cost the price margin rule is checked against."""
