"""Runs a manifest as a connector template: ``manifest_template`` turns a manifest into a
``ConnectorTemplate`` subclass, and ``ManifestRunner`` does the requests for one connection."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Mapping, Sequence
from contextlib import aclosing
from typing import Any, ClassVar

import httpx

from connectors.manifest.components import (
    MAX_PAGES,
    BatchWriter,
    Manifest,
    OAuth2,
    RecordWriter,
    Requester,
    Stream,
    load_manifest,
    value_at,
)
from connectors.manifest.interpolation import render_tree
from connectors.sdk.config import split_secrets
from connectors.sdk.context import ConnectorContext
from connectors.sdk.domains import Domain
from connectors.sdk.errors import PermanentError, TransientError
from connectors.sdk.http import ConnectorHttp, excerpt
from connectors.sdk.results import ConnectionCheck, ReadPage, WriteResult
from connectors.sdk.template import ConnectorTemplate


class ManifestRunner:
    """One connection's requests, paging, cursors and per-record results, as a manifest describes."""

    def __init__(self, manifest: Manifest, context: ConnectorContext, settings: Mapping[str, Any]) -> None:
        self.manifest = manifest
        self.context = context
        config, secrets = split_secrets(manifest.config_schema, settings)
        self._base: dict[str, Any] = {"config": config, "secrets": secrets}
        self._http: ConnectorHttp | None = None

    def variables(self, **extra: Any) -> dict[str, Any]:
        return {**self._base, "now": self.context.now(), **extra}

    async def client(self) -> ConnectorHttp:
        if self._http is None:
            variables = self.variables()
            auth = self.manifest.auth
            if isinstance(auth, OAuth2):
                # The token endpoint comes from config too: it passes the same SSRF check as the API.
                await self.context.network.check_url(auth.settings(variables).token_url)
            headers = render_tree(self.manifest.base_headers, variables) or {}
            self._http = ConnectorHttp(
                self.context,
                base_url=str(render_tree(self.manifest.url_base, variables)),
                auth=auth.build(variables, self.context),
                headers={k: str(v) for k, v in headers.items()},
            )
        return self._http

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def send(
        self,
        requester: Requester,
        variables: Mapping[str, Any],
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
    ) -> httpx.Response:
        """Render and send ``requester``; ``params`` are added, ``body`` replaces a rendered one."""
        http = await self.client()
        request = requester.render(variables)
        base_params = render_tree(self.manifest.base_params, variables) or {}
        query = {**{k: str(v) for k, v in base_params.items()}, **request.params, **(params or {})}
        url = request.path
        if query:
            # httpx replaces a URL's own query with ``params=``; merge instead (Link header URLs).
            url = str(httpx.URL(url).copy_merge_params(query))
        options: dict[str, Any] = {"headers": request.headers}
        body = request.body if body is None else body
        if body is not None:
            options["json"] = body
        return await http.request(request.method, url, **options)

    @staticmethod
    def body_of(response: httpx.Response) -> Any:
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            where = f"{response.request.method} {response.request.url.path}"
            raise TransientError(f"{where}: response is not JSON: {excerpt(response)}") from None

    # --- check -----------------------------------------------------------------------------------

    async def test_connection(self) -> ConnectionCheck:
        check = self.manifest.check
        if check.stream is not None:
            async with aclosing(self.read(check.stream, None, max_pages=1)) as pages:
                async for page in pages:
                    return ConnectionCheck(ok=True, detail=f"read {len(page.records)} {check.stream.value}")
        assert check.requester is not None
        response = await self.send(check.requester, self.variables())
        return ConnectionCheck(
            ok=True, detail=f"{response.request.method} {response.request.url.path} answered"
        )

    # --- read ------------------------------------------------------------------------------------

    async def read(
        self, domain: Domain, cursor: str | None = None, *, max_pages: int = MAX_PAGES
    ) -> AsyncGenerator[ReadPage, None]:
        stream = self._stream(domain)
        token = stream.paginator.first()
        latest = cursor
        for _ in range(max_pages):
            variables = self.variables(cursor=cursor, page=token)
            page = stream.paginator.request(token)
            if page.url is not None:
                requester = Requester(path=page.url, method=stream.requester.method)
                response = await self.send(requester, variables)
            else:
                params = {
                    **(stream.incremental.params(variables) if stream.incremental else {}),
                    **page.params,
                }
                response = await self.send(stream.requester, variables, params=params)
            body = self.body_of(response)
            records = stream.selector.select(body)
            token = stream.paginator.next(response, body, records, token)
            if stream.incremental is not None:
                latest = stream.incremental.latest(latest, records)
                is_last = token is None
                yield ReadPage(records, latest if is_last or stream.incremental.sorted else cursor)
            else:
                yield ReadPage(records, None)
            if token is None:
                return
        if max_pages == MAX_PAGES:
            raise PermanentError(
                f"{domain.value}: still a next page after {MAX_PAGES} pages; is the paginator right?"
            )

    def _stream(self, domain: Domain) -> Stream:
        try:
            return self.manifest.streams[domain]
        except KeyError:
            raise PermanentError(f"{self.manifest.name} cannot read {domain.value}") from None

    # --- write -----------------------------------------------------------------------------------

    async def write(self, domain: Domain, payloads: Sequence[Mapping[str, Any]]) -> list[WriteResult]:
        writer = self.manifest.writers.get(domain)
        if writer is None:
            raise PermanentError(f"{self.manifest.name} cannot write {domain.value}")
        if isinstance(writer, RecordWriter):
            return [await self._write_one(writer, i, p) for i, p in enumerate(payloads)]
        results: list[WriteResult] = []
        size = self.manifest.batch_size
        for start in range(0, len(payloads), size):
            results += await self._write_batch(writer, start, payloads[start : start + size])
        return results

    async def _write_one(self, writer: RecordWriter, index: int, payload: Mapping[str, Any]) -> WriteResult:
        key = _key(payload, writer.key_field)
        record = dict(payload)
        # Without a ``body:`` the record goes as it is: the outbound recipe already shaped it.
        raw = record if writer.requester.body is None else None
        try:
            response = await self.send(writer.requester, self.variables(record=record), body=raw)
        except PermanentError as error:
            # A 4xx concerns this record only; auth, rate-limit and 5xx errors still stop the batch.
            return WriteResult.failed(index, error.message, key)
        destination = value_at(self.body_of(response), writer.id_path) if writer.id_path else None
        return WriteResult.ok(index, key, str(destination) if destination is not None else None)

    async def _write_batch(
        self, writer: BatchWriter, offset: int, payloads: Sequence[Mapping[str, Any]]
    ) -> list[WriteResult]:
        items = [
            dict(p)
            if writer.record_body is None
            else render_tree(writer.record_body, self.variables(record=dict(p)))
            for p in payloads
        ]
        body: Any = {writer.batch_field: items} if writer.batch_field else items
        try:
            response = await self.send(writer.requester, self.variables(), body=body)
        except PermanentError as error:
            # The remote refused the whole batch without saying which record; each one carries why.
            return [
                WriteResult.failed(offset + i, error.message, _key(p, writer.key_field))
                for i, p in enumerate(payloads)
            ]
        return self._batch_results(writer, offset, payloads, self.body_of(response))

    @staticmethod
    def _batch_results(
        writer: BatchWriter, offset: int, payloads: Sequence[Mapping[str, Any]], body: Any
    ) -> list[WriteResult]:
        reader = writer.results
        entries = value_at(body, reader.path)
        by_index: dict[int, Any] = {}
        if isinstance(entries, list):
            for position, entry in enumerate(entries):
                raw = value_at(entry, reader.index_field) if reader.index_field else position
                if isinstance(raw, int) and not isinstance(raw, bool):
                    by_index[raw] = entry
        results = []
        for i, payload in enumerate(payloads):
            key = _key(payload, writer.key_field)
            entry = by_index.get(i)
            if entry is None:
                # The remote did not say; writes are upserts, so sending it again is safe.
                results.append(
                    WriteResult.failed(offset + i, "no result for this record", key, retryable=True)
                )
            elif value_at(entry, reader.status_field) in reader.ok_values:
                found = value_at(entry, reader.id_field) if reader.id_field else None
                results.append(WriteResult.ok(offset + i, key, str(found) if found is not None else None))
            else:
                error = (
                    value_at(entry, reader.error_field) or f"status {value_at(entry, reader.status_field)!r}"
                )
                results.append(WriteResult.failed(offset + i, str(error), key))
        return results


def _key(payload: Mapping[str, Any], field: str) -> str | None:
    value = value_at(payload, field)
    return str(value) if value is not None else None


class ManifestTemplate(ConnectorTemplate):
    """A template whose behaviour is its ``manifest``; built by ``manifest_template``."""

    manifest: ClassVar[Manifest]

    def __init__(self, context: ConnectorContext) -> None:
        super().__init__(context)
        self.runner = ManifestRunner(self.manifest, context, self.settings)

    async def aclose(self) -> None:
        await self.runner.aclose()

    async def test_connection(self) -> ConnectionCheck:
        return await self.runner.test_connection()

    async def read(self, domain: Domain, cursor: str | None = None) -> AsyncIterator[ReadPage]:
        self.check_domain(domain, writing=False)
        async for page in self.runner.read(domain, cursor):
            yield page

    async def write(self, domain: Domain, payloads: Sequence[Mapping[str, Any]]) -> list[WriteResult]:
        self.check_domain(domain, writing=True)
        return await self.runner.write(domain, payloads)


def manifest_template(manifest: Mapping[str, Any] | str) -> type[ConnectorTemplate]:
    """A ``ConnectorTemplate`` subclass from a manifest (YAML text or a dict); ``ManifestError``
    lists every problem with its path."""
    loaded = load_manifest(manifest)
    attributes: dict[str, Any] = {
        "__doc__": loaded.description or loaded.name,
        "__module__": __name__,
        "manifest": loaded,
        "key": loaded.key,
        "name": loaded.name,
        "kind": loaded.kind,
        "reads": frozenset(loaded.streams),
        "writes": frozenset(loaded.writers),
        "config_schema": loaded.config_schema,
        "auth": (loaded.auth.kind,),
        "rate_limit": loaded.rate_limit,
        "batch_size": loaded.batch_size,
        "version": str(loaded.version),
    }
    class_name = "".join(part.capitalize() for part in loaded.key.split("-")) + "ManifestTemplate"
    return type(class_name, (ManifestTemplate,), attributes)
