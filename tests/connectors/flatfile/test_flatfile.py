"""The flat-file template against a real folder and a real SFTP server on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncssh
import pytest
import yaml

from connectors.canonical.price import Price
from connectors.canonical.stock import StockBalance
from connectors.recipes.compiler import CompiledRecipe, compile_recipe
from connectors.recipes.inputs import record_input
from connectors.sdk import ConnectorContext, Domain, ReadPage
from connectors.sdk.network import NetworkPolicy
from connectors.sdk.template import check_connection
from connectors.templates.flatfile.destinations import BAD_LOGIN
from connectors.templates.flatfile.template import FlatFileTemplate
from tests.connectors.flatfile.sftp_server import SftpServer, sftp_server

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
STAMP = "20240501T120000"

Factory = Callable[..., FlatFileTemplate]


@dataclass
class Estate:
    """A file store seen from both sides: the template's config, and the folder on this machine."""

    root: Path
    config: dict[str, Any]
    secrets: dict[str, Any]

    def template(self, **overrides: Any) -> FlatFileTemplate:
        context = ConnectorContext(
            config={**self.config, **overrides},
            secrets=self.secrets,
            network=NetworkPolicy.permissive(),
            now=lambda: NOW,
        )
        return FlatFileTemplate(context)

    def outbound(self) -> dict[str, str]:
        folder = self.root / "outbound"
        return {p.name: p.read_bytes().decode() for p in sorted(folder.iterdir())}

    def drop(self, name: str, text: str) -> None:
        (self.root / "inbound" / name).write_text(text)


def sftp_config(server: SftpServer) -> tuple[dict[str, Any], dict[str, Any]]:
    config = {
        "transport": "sftp",
        "host": server.host,
        "port": server.port,
        "username": server.username,
        "known_hosts": server.known_hosts,
    }
    return config, {"password": server.password}


@pytest.fixture(params=["folder", "sftp"])
async def estate(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Estate]:
    if request.param == "folder":
        for folder in ("inbound", "outbound"):
            (tmp_path / folder).mkdir()
        yield Estate(tmp_path, {"transport": "folder", "path": str(tmp_path)}, {})
        return
    async with sftp_server(tmp_path) as server:
        config, secrets = sftp_config(server)
        yield Estate(tmp_path, config, secrets)


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[SftpServer]:
    async with sftp_server(tmp_path) as running:
        yield running


async def read_all(template: FlatFileTemplate, domain: Domain, cursor: str | None = None) -> list[ReadPage]:
    return [page async for page in template.read(domain, cursor)]


PRICES = [
    {"store": "S1", "sku": "A-1", "price": Decimal("19.99"), "currency": "EUR", "effective_from": None},
    {"store": "S2", "sku": "A-1", "price": "18.50", "currency": "EUR", "effective_from": NOW},
    {"store": "S1", "sku": "B-2", "price": 5, "currency": "EUR"},
]


class TestConnection:
    async def test_folder_ok(self, tmp_path: Path) -> None:
        for folder in ("inbound", "outbound"):
            (tmp_path / folder).mkdir()
        estate = Estate(tmp_path, {"transport": "folder", "path": str(tmp_path)}, {})
        check = await check_connection(estate.template())
        assert check.ok, check.detail
        assert list((tmp_path / "outbound").iterdir()) == []  # the write probe cleaned up after itself

    async def test_folder_missing(self, tmp_path: Path) -> None:
        estate = Estate(tmp_path, {"transport": "folder", "path": str(tmp_path / "nowhere")}, {})
        check = await check_connection(estate.template())
        assert not check.ok
        assert "does not exist" in check.detail

    async def test_sftp_ok(self, server: SftpServer) -> None:
        config, secrets = sftp_config(server)
        async with Estate(server.root, config, secrets).template() as template:
            check = await check_connection(template)
        assert check.ok, check.detail
        assert f"as {server.username}" in check.detail

    async def test_sftp_missing_remote_folder(self, server: SftpServer) -> None:
        config, secrets = sftp_config(server)
        async with Estate(server.root, config, secrets).template(inbound_folder="orders-in") as template:
            check = await check_connection(template)
        assert not check.ok
        assert "orders-in does not exist" in check.detail

    async def test_sftp_bad_password(self, server: SftpServer) -> None:
        config, _ = sftp_config(server)
        async with Estate(server.root, config, {"password": "wrong"}).template() as template:
            check = await check_connection(template)
        assert not check.ok
        assert check.detail == BAD_LOGIN

    async def test_sftp_private_key_login(self, tmp_path: Path) -> None:
        key = asyncssh.generate_private_key("ssh-ed25519")
        async with sftp_server(tmp_path, client_key=key) as running:
            config, _ = sftp_config(running)
            secrets = {"private_key": key.export_private_key().decode()}
            async with Estate(running.root, config, secrets).template() as template:
                check = await check_connection(template)
                results = await template.write(Domain.PRICES, PRICES[:1])
        assert check.ok, check.detail
        assert results[0].status == "ok"
        assert (tmp_path / "outbound" / f"prices_S1_{STAMP}.csv").exists()

    async def test_sftp_unknown_host_key_refused_when_strict(self, server: SftpServer) -> None:
        config, secrets = sftp_config(server)
        stranger = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode().strip()
        config["known_hosts"] = f"[{server.host}]:{server.port} {stranger}\n"
        async with Estate(server.root, config, secrets).template() as template:
            check = await check_connection(template)
        assert not check.ok
        assert "host key" in check.detail

    async def test_sftp_host_key_checking_off(self, server: SftpServer) -> None:
        config, secrets = sftp_config(server)
        del config["known_hosts"]
        estate = Estate(server.root, config, secrets)
        async with estate.template(host_key_checking="off") as template:
            assert (await check_connection(template)).ok
        async with estate.template() as strict:  # and strict with nothing pinned refuses
            assert not (await check_connection(strict)).ok


class TestWrite:
    async def test_one_file_per_store(self, estate: Estate) -> None:
        async with estate.template() as template:
            results = await template.write(Domain.PRICES, PRICES)
        assert [r.status for r in results] == ["ok", "ok", "ok"]
        assert results[2].destination_id == f"prices_S1_{STAMP}.csv:3"
        assert estate.outbound() == {
            f"prices_S1_{STAMP}.csv": (
                "store,sku,price,currency,effective_from\r\nS1,A-1,19.99,EUR,\r\nS1,B-2,5,EUR,\r\n"
            ),
            f"prices_S2_{STAMP}.csv": (
                "store,sku,price,currency,effective_from\r\nS2,A-1,18.50,EUR,2024-05-01T12:00:00+00:00\r\n"
            ),
        }

    async def test_one_file_per_region(self, estate: Estate) -> None:
        stock = [
            {"store": "S1", "sku": "A-1", "on_hand": 4, "available": 3},
            {"store": "S2", "sku": "A-1", "on_hand": "7", "available": 7},
            {"store": "S3", "sku": "A-1", "on_hand": 1, "available": 1, "region": "south"},
            {"store": "S4", "sku": "A-1", "on_hand": 1, "available": 1},
        ]
        regions = {"S1": "north", "S2": "north", "S3": "north"}
        async with estate.template(grouping="region", regions=regions) as template:
            results = await template.write(Domain.INVENTORY, stock)
        assert [r.status for r in results] == ["ok", "ok", "ok", "failed"]
        assert "no region for store 'S4'" in str(results[3].error)
        assert estate.outbound() == {
            f"stock_north_{STAMP}.csv": "store,sku,on_hand,available\r\nS1,A-1,4,3\r\nS2,A-1,7,7\r\n",
            f"stock_south_{STAMP}.csv": "store,sku,on_hand,available\r\nS3,A-1,1,1\r\n",
        }

    async def test_malformed_records_fail_alone(self, estate: Estate) -> None:
        payloads = [
            {"store": "S1", "sku": "A-1", "price": "1.00", "currency": "EUR"},
            {"store": "S1", "sku": "", "price": "2.00", "currency": "EUR"},
            {"store": "S1", "sku": "C-3", "price": "abc", "currency": "EUR"},
            {"store": "S1", "sku": "D-4", "price": "4.00", "currency": "EUR"},
        ]
        async with estate.template() as template:
            results = await template.write(Domain.PRICES, payloads)
        assert [(r.index, r.status) for r in results] == [(0, "ok"), (1, "failed"), (2, "failed"), (3, "ok")]
        assert results[1].error == "sku: is missing"
        assert results[2].error == "price: 'abc' is not a number"
        assert results[2].key == "C-3"
        body = estate.outbound()[f"prices_S1_{STAMP}.csv"]
        assert body.splitlines()[1:] == ["S1,A-1,1.00,EUR,", "S1,D-4,4.00,EUR,"]

    async def test_atomic_names_never_overwrite(self, estate: Estate) -> None:
        async with estate.template() as template:
            await template.write(Domain.PRICES, PRICES[:1])
            second = await template.write(Domain.PRICES, [{**PRICES[0], "price": "21.00"}])
        files = estate.outbound()
        # No temporary ".part" file is left; the second file of the same second gets its own name.
        assert sorted(files) == [f"prices_S1_{STAMP}-2.csv", f"prices_S1_{STAMP}.csv"]
        assert second[0].destination_id == f"prices_S1_{STAMP}-2.csv:2"
        assert "19.99" in files[f"prices_S1_{STAMP}.csv"]
        assert "21.00" in files[f"prices_S1_{STAMP}-2.csv"]

    async def test_layout_is_configurable(self, estate: Estate) -> None:
        layout = {
            "delimiter": ";",
            "decimal_separator": ",",
            "header": False,
            "encoding": "latin-1",
            "price_columns": ["sku", "price", "store"],
        }
        payload = {"store": "Zürich", "sku": "A-1", "price": Decimal("1234.5"), "currency": "CHF"}
        async with estate.template(**layout) as template:
            assert (await template.write(Domain.PRICES, [payload]))[0].status == "ok"
        raw = (estate.root / "outbound" / f"prices_Z-rich_{STAMP}.csv").read_bytes()
        assert raw == "A-1;1234,5;Zürich\r\n".encode("latin-1")


class TestRead:
    async def test_full_then_incremental(self, estate: Estate) -> None:
        header = "store,sku,price,currency,effective_from\n"
        estate.drop(f"prices_S2_{STAMP}.csv", header + "S2,A-1,18.50,EUR,\n")
        estate.drop("prices_S1_20240501T110000.csv", header + "S1,A-1,19.99,EUR,\nS1,,1.00,EUR,\n")
        estate.drop(".prices_S9_20240501T130000.csv.part", header + "S9,X,1,EUR,\n")  # still being written
        estate.drop(f"stock_S1_{STAMP}.csv", "store,sku,on_hand,available\nS1,A-1,3,3\n")
        async with estate.template() as template:
            pages = await read_all(template, Domain.PRICES)
            # Files are taken by the time in their names, not by store.
            assert [p.records[0]["source_file"] for p in pages] == [
                "prices_S1_20240501T110000.csv",
                f"prices_S2_{STAMP}.csv",
            ]
            assert pages[0].records[0] == {
                "store": "S1",
                "sku": "A-1",
                "price": "19.99",
                "currency": "EUR",
                "effective_from": None,
                "source_file": "prices_S1_20240501T110000.csv",
                "source_line": 2,
            }
            assert pages[0].records[1]["_error"] == {
                "path": "prices_S1_20240501T110000.csv:3.sku",
                "reason": "is missing",
            }
            cursor = pages[-1].cursor
            assert cursor == f"{STAMP}|prices_S2_{STAMP}.csv"
            assert await read_all(template, Domain.PRICES, cursor) == []
            estate.drop("prices_S0_20240501T130000.csv", header + "S0,A-1,17.00,EUR,\n")
            fresh = await read_all(template, Domain.PRICES, cursor)
        assert [r["store"] for p in fresh for r in p.records] == ["S0"]
        assert fresh[-1].cursor == "20240501T130000|prices_S0_20240501T130000.csv"

    async def test_big_file_spans_pages(self, estate: Estate) -> None:
        rows = "".join(f"S1,SKU-{n},{n},{n}\n" for n in range(5))
        estate.drop("stock_S1_20240501T100000.csv", "store,sku,on_hand,available\n" + rows)
        estate.drop("stock_S1_20240501T110000.csv", "store,sku,on_hand,available\nS1,Z,1.5,1\n")
        async with estate.template(page_size=2) as template:
            pages = await read_all(template, Domain.INVENTORY)
        assert [len(p.records) for p in pages] == [2, 2, 1, 1]
        # Only a file's last page moves the cursor on, so a resumed read never skips half a file.
        assert [p.cursor for p in pages] == [
            None,
            None,
            "20240501T100000|stock_S1_20240501T100000.csv",
            "20240501T110000|stock_S1_20240501T110000.csv",
        ]
        assert pages[0].records[1]["on_hand"] == 1
        assert pages[3].records[0]["_error"] == {
            "path": "stock_S1_20240501T110000.csv:2.on_hand",
            "reason": "'1.5' is not a whole number",
        }

    async def test_layout_is_configurable(self, estate: Estate) -> None:
        estate.drop(f"prices_S1_{STAMP}.csv", "A-1;12,50;S1\n")
        columns = {"price_columns": ["sku", "price", "store"], "header": False}
        async with estate.template(delimiter=";", decimal_separator=",", **columns) as template:
            pages = await read_all(template, Domain.PRICES)
        assert pages[0].records[0]["price"] == "12.50"
        assert pages[0].records[0]["store"] == "S1"


class TestDefaultRecipes:
    """The shipped recipes fit what the template reads and writes."""

    RECIPES = Path(__file__).parents[3] / "connectors" / "templates" / "flatfile" / "recipes"

    def recipe(self, name: str) -> CompiledRecipe:
        return compile_recipe(yaml.safe_load((self.RECIPES / name).read_text()))

    async def test_prices_round_trip_through_a_file(self, tmp_path: Path) -> None:
        for folder in ("inbound", "outbound"):
            (tmp_path / folder).mkdir()
        estate = Estate(tmp_path, {"transport": "folder", "path": str(tmp_path)}, {})
        price = Price(sku="A-1", amount=Decimal("19.99"), currency="EUR", channel="S1", effective_from=NOW)
        payload = self.recipe("prices.outbound.yaml").map(record_input(price))
        assert payload is not None
        async with estate.template() as template:
            assert (await template.write(Domain.PRICES, [payload]))[0].status == "ok"
            # The store's file, picked up from the inbound side, gives the same price back.
            (written,) = (tmp_path / "outbound").iterdir()
            written.rename(tmp_path / "inbound" / written.name)
            (page,) = await read_all(template, Domain.PRICES)
        back = self.recipe("prices.inbound.yaml").map_record(page.records[0])
        assert isinstance(back, Price)
        assert (back.sku, back.amount, back.currency, back.channel) == ("A-1", Decimal("19.99"), "EUR", "S1")
        assert back.effective_from == NOW

    async def test_stock_rows_become_balances(self, tmp_path: Path) -> None:
        for folder in ("inbound", "outbound"):
            (tmp_path / folder).mkdir()
        estate = Estate(tmp_path, {"transport": "folder", "path": str(tmp_path)}, {})
        estate.drop(f"stock_S1_{STAMP}.csv", "store,sku,on_hand,available\nS1,A-1,10,7\n")
        async with estate.template() as template:
            (page,) = await read_all(template, Domain.INVENTORY)
        balance = self.recipe("inventory.inbound.yaml").map_record(page.records[0])
        assert isinstance(balance, StockBalance)
        assert (balance.location, balance.on_hand, balance.available) == ("S1", 10, 7)


class TestSameSecondFiles:
    def test_a_second_file_in_the_same_second_sorts_after_the_first_and_in_the_same_series(self) -> None:
        from datetime import UTC, datetime

        from connectors.templates.flatfile.destinations import RemoteFile
        from connectors.templates.flatfile.naming import file_key, files_after, group_of, order_of

        moment = datetime(2024, 5, 1, tzinfo=UTC)
        first, second, later = (
            RemoteFile(name, moment)
            for name in (
                "prices_S1_20240501T120000.csv",
                "prices_S1_20240501T120000-2.csv",
                "prices_S1_20240501T120001.csv",
            )
        )
        assert group_of(first.name) == group_of(second.name) == group_of(later.name) == "prices_S1.csv"
        assert order_of(file_key(first)) < order_of(file_key(second)) < order_of(file_key(later))
        assert [f.name for f in files_after([later, second, first], None, ())] == [
            first.name,
            second.name,
            later.name,
        ]
        cursor = f"20240501T120000|{first.name}"
        assert [f.name for f in files_after([later, second, first], cursor, ())] == [second.name, later.name]
