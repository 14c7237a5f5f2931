"""The HTTP kernel shared by the portal, the API and the hooks: problems, correlation ids, state."""
