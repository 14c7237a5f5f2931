"""Launchers for real open-source peers (Vendure, Tryton) and fixture data (Shopify's schema).

Test and demo equipment, like the sandboxes: each installs pinned versions under ``.ci/peers/<name>``
on first use and starts the peer on a chosen port.
"""
