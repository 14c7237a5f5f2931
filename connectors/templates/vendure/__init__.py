"""The Vendure connector template: e-commerce over Vendure's Admin GraphQL API."""
