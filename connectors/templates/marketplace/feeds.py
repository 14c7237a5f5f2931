"""Big listing batches through the Feeds API: upload a JSON_LISTINGS_FEED, wait for it, read its report.

createFeedDocument → PUT the document to the pre-signed URL → createFeed → poll getFeed until DONE →
getFeedDocument → download the processing report, whose issues name ``messageId``s; message ``n`` is
the ``n``-th patch sent, which maps back to the payload's index in the batch.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from connectors.sdk.context import ConnectorContext
from connectors.sdk.errors import TransientError
from connectors.sdk.http import ConnectorHttp
from connectors.sdk.results import WriteResult
from connectors.templates.marketplace.patches import ListingPatch, issue_text

FEEDS = "/feeds/2021-06-30"
CONTENT_TYPE = "application/json; charset=UTF-8"


@dataclass(frozen=True, slots=True)
class FeedSettings:
    seller_id: str
    marketplace_id: str
    product_type: str
    poll_seconds: float
    max_polls: int


class ListingsFeed:
    def __init__(self, http: ConnectorHttp, context: ConnectorContext, settings: FeedSettings) -> None:
        self._http, self._context, self._settings = http, context, settings

    def document(self, patches: Sequence[ListingPatch]) -> dict[str, Any]:
        return {
            "header": {"sellerId": self._settings.seller_id, "version": "2.0", "issueLocale": "en_US"},
            "messages": [
                {
                    "messageId": number,
                    "sku": item.sku,
                    "operationType": "PATCH",
                    "productType": self._settings.product_type,
                    "patches": item.patches,
                }
                for number, item in enumerate(patches, start=1)
            ],
        }

    async def submit(self, indexed: Sequence[tuple[int, ListingPatch]]) -> list[WriteResult]:
        """Send ``(payload index, patch)`` pairs as one feed; one result per pair, in order."""
        content = json.dumps(self.document([patch for _, patch in indexed])).encode()
        created = await self._http.json("POST", f"{FEEDS}/documents", json={"contentType": CONTENT_TYPE})
        # The upload URL is pre-signed storage: our access token must not travel there.
        await self._http.request(
            "PUT", created["url"], content=content, headers={"Content-Type": CONTENT_TYPE}, auth=None
        )
        feed = await self._http.json(
            "POST",
            f"{FEEDS}/feeds",
            json={
                "feedType": "JSON_LISTINGS_FEED",
                "marketplaceIds": [self._settings.marketplace_id],
                "inputFeedDocumentId": created["feedDocumentId"],
            },
        )
        status = await self._wait(str(feed["feedId"]))
        report = await self._report(status) if status.get("resultFeedDocumentId") else {}
        return self._results(indexed, status, report)

    async def _wait(self, feed_id: str) -> dict[str, Any]:
        for _ in range(self._settings.max_polls):
            status: dict[str, Any] = await self._http.json("GET", f"{FEEDS}/feeds/{feed_id}")
            if status.get("processingStatus") in ("DONE", "FATAL", "CANCELLED"):
                return status
            await self._context.sleep(self._settings.poll_seconds)
        # Re-sending the same feed later is harmless: every patch replaces a value.
        raise TransientError(
            f"feed {feed_id} still processing after {self._settings.max_polls} polls; try again later"
        )

    async def _report(self, status: dict[str, Any]) -> dict[str, Any]:
        document = await self._http.json("GET", f"{FEEDS}/documents/{status['resultFeedDocumentId']}")
        response = await self._http.request("GET", document["url"], auth=None)
        try:
            report = json.loads(response.content)
        except ValueError:
            raise TransientError("the feed's processing report is not JSON") from None
        return report if isinstance(report, dict) else {}

    def _results(
        self, indexed: Sequence[tuple[int, ListingPatch]], status: dict[str, Any], report: dict[str, Any]
    ) -> list[WriteResult]:
        feed_status = status.get("processingStatus")
        if feed_status != "DONE":
            reason = (
                f"feed {status.get('feedId')} ended {feed_status}: {issue_text(report.get('issues', []))}"
            )
            # A cancelled feed may go through when sent again; a fatal one was unreadable as sent.
            retryable = feed_status == "CANCELLED"
            return [WriteResult.failed(i, reason, p.sku, retryable=retryable) for i, p in indexed]
        by_message: dict[int, list[dict[str, Any]]] = {}
        for issue in report.get("issues", []):
            if isinstance(issue, dict) and isinstance(issue.get("messageId"), int):
                by_message.setdefault(issue["messageId"], []).append(issue)
        results = []
        for number, (index, patch) in enumerate(indexed, start=1):
            issues = by_message.get(number, [])
            errors = [i for i in issues if i.get("severity") == "ERROR"]
            if errors:
                results.append(WriteResult.failed(index, issue_text(errors), patch.sku))
                continue
            warnings = [i.get("message") for i in issues]
            details: dict[str, Any] = {"feed_id": status.get("feedId")}
            if warnings:
                details["warnings"] = warnings
            results.append(WriteResult(index=index, status="ok", key=patch.sku, details=details))
        return results
