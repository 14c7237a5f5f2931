"""The built-in connector templates, by key, imported on first use."""

from __future__ import annotations

import importlib
from functools import cache

from connectors.sdk.template import ConnectorTemplate

BUILTIN_TEMPLATES: dict[str, str] = {
    "vendure": "connectors.templates.vendure.template:VendureTemplate",
    "tryton": "connectors.templates.tryton.template:TrytonTemplate",
    "shopify": "connectors.templates.shopify.template:ShopifyTemplate",
    "rest": "connectors.templates.rest.template:RestTemplate",
    "flatfile": "connectors.templates.flatfile.template:FlatFileTemplate",
    "edi-x12": "connectors.templates.edi.template:EdiX12Template",
    "marketplace": "connectors.templates.marketplace.template:MarketplaceTemplate",
    "pos": "connectors.templates.pos.template:PosTemplate",
    "webhook": "connectors.templates.webhook.template:WebhookTemplate",
}


class UnknownTemplateError(KeyError):
    pass


@cache
def template_class(key: str) -> type[ConnectorTemplate]:
    """The template class for ``key``; ``UnknownTemplateError`` for anything else."""
    try:
        target = BUILTIN_TEMPLATES[key]
    except KeyError:
        raise UnknownTemplateError(key) from None
    module_name, _, attribute = target.partition(":")
    cls = getattr(importlib.import_module(module_name), attribute)
    if not (isinstance(cls, type) and issubclass(cls, ConnectorTemplate)) or cls.key != key:
        raise TypeError(f"{target} is not the ConnectorTemplate for {key!r}")
    return cls


def template_keys() -> list[str]:
    return sorted(BUILTIN_TEMPLATES)
