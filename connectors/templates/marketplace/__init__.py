"""Marketplace template modelled on Amazon's Selling Partner API: listings, feeds and orders."""
