"""Inbound webhook template: records pushed to Shelfsync, verified by HMAC signature."""
