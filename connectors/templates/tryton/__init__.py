"""The Tryton ERP connector: items, prices, stock and sales over Tryton's JSON-RPC."""
