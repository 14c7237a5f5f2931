"""The generic REST/JSON template: endpoints, auth and pagination come from the connection's config,
run by the manifest engine; ``manifests/`` holds example manifests for partners to start from."""
