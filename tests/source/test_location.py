"""Offline locations: the bundled registry data, an operator's .mmdb file, special networks,
and the snapshot stored with each event."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mmdb_writer import MMDBWriter
from netaddr import IPSet

from auditledger.services import build_services
from auditledger.settings import Settings
from auditledger.source.location import (
    MaxMindLocator,
    RegistryLocator,
    make_locator,
    special_network,
)
from auditledger_client.core.event import Location
from auditledger_client.core.validate import parse_event
from tests.support.databases import NOW
from tests.support.helpers import make_org, sample_event


@pytest.mark.parametrize(
    ("ip", "code", "country"),
    [
        ("193.166.3.7", "FI", "Finland"),
        ("81.2.69.160", "GB", "United Kingdom"),
        ("202.12.27.33", "JP", "Japan"),
        ("200.160.2.3", "BR", "Brazil"),
        ("8.8.8.8", "US", "United States"),
        ("2001:4860:4860::8888", "US", "United States"),
        ("::ffff:193.166.3.7", "FI", "Finland"),
    ],
)
def test_registry_locator_knows_public_addresses(ip: str, code: str, country: str) -> None:
    assert RegistryLocator().locate(ip) == Location(country_code=code, country=country)


@pytest.mark.parametrize(
    ("ip", "label"),
    [
        ("10.1.2.3", "Private network"),
        ("172.20.0.1", "Private network"),
        ("192.168.1.10", "Private network"),
        ("fd12:3456::1", "Private network"),
        ("127.0.0.1", "Loopback"),
        ("::1", "Loopback"),
        ("fe80::1", "Link-local network"),
        ("169.254.10.20", "Link-local network"),
        ("100.64.3.4", "Shared address space (carrier-grade NAT)"),
        ("::ffff:10.0.0.1", "Private network"),
        ("::ffff:127.0.0.1", "Loopback"),
        ("224.0.0.251", "Multicast"),
        ("0.0.0.0", "Reserved network"),
        ("240.0.0.1", "Reserved network"),
        ("192.0.2.1", "Reserved network"),  # documentation, not someone's private network
        ("2001:db8::1", "Reserved network"),
        ("198.18.0.1", "Reserved network"),  # benchmarking
    ],
)
def test_special_networks_are_labelled_not_located(ip: str, label: str) -> None:
    assert special_network(ip) == label
    assert RegistryLocator().locate(ip) == Location(network=label)


def test_public_addresses_have_no_special_label() -> None:
    assert special_network("193.166.3.7") is None
    assert special_network("100.128.0.1") is None  # just past the CGNAT block


def write_mmdb(path: Path, records: dict[str, dict[str, Any]], database_type: str) -> Path:
    """A real MaxMind-format file, shaped like GeoLite2's records."""
    writer = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type=database_type)
    for network, record in records.items():
        writer.insert_network(IPSet([network]), record)
    writer.to_db_file(str(path))
    return path


def city(code: str, country: str, name: str | None) -> dict[str, Any]:
    record: dict[str, Any] = {"country": {"iso_code": code, "names": {"en": country}}}
    if name:
        record["city"] = {"names": {"en": name, "fi": name + "-fi"}}
    return record


@pytest.fixture
def city_db(tmp_path: Path) -> Path:
    return write_mmdb(
        tmp_path / "city.mmdb",
        {
            "193.166.0.0/16": city("FI", "Finland", "Espoo"),
            "81.2.69.0/24": city("GB", "United Kingdom", "London"),
            "2001:4860::/32": city("US", "United States", None),
            "198.51.100.0/24": {"registered_country": {"iso_code": "KR"}},
        },
        "GeoLite2-City",
    )


def test_maxmind_locator_gives_city_and_country(city_db: Path) -> None:
    locator = MaxMindLocator(city_db)
    try:
        assert locator.locate("193.166.3.7") == Location("FI", "Finland", "Espoo")
        assert locator.locate("::ffff:81.2.69.160") == Location("GB", "United Kingdom", "London")
        assert locator.locate("2001:4860:4860::8888") == Location("US", "United States")
        assert locator.locate("8.8.8.8") is None  # not in this file
        assert locator.locate("10.0.0.1") == Location(network="Private network")
        assert "GeoLite2-City" in locator.description
    finally:
        locator.close()


def test_maxmind_locator_falls_back_to_registered_country_and_pycountry_names(
    city_db: Path,
) -> None:
    # Documentation ranges are labelled before the file is read.
    locator = MaxMindLocator(city_db)
    try:
        assert locator.locate("198.51.100.7") == Location(network="Reserved network")
    finally:
        locator.close()
    other = write_mmdb(
        city_db.with_name("country.mmdb"),
        {"5.5.0.0/16": {"registered_country": {"iso_code": "KR"}}},
        "GeoLite2-Country",
    )
    locator = MaxMindLocator(other)
    try:
        assert locator.locate("5.5.1.1") == Location("KR", "South Korea")
    finally:
        locator.close()


def test_make_locator_uses_the_configured_file_or_the_bundled_data(city_db: Path) -> None:
    assert isinstance(make_locator(None), RegistryLocator)
    configured = make_locator(city_db)
    assert isinstance(configured, MaxMindLocator)
    configured.close()


def test_location_is_a_snapshot_taken_at_ingest(
    settings: Settings, tmp_path: Path, city_db: Path
) -> None:
    """Changing the data later changes new events only; stored events keep their location."""
    moved = write_mmdb(
        tmp_path / "moved.mmdb",
        {"193.166.0.0/16": city("FI", "Finland", "Helsinki")},
        "GeoLite2-City",
    )
    first = build_services(settings, locator=MaxMindLocator(city_db))
    first.db.migrate()
    first.start()
    access = make_org(first, "acme")
    org = access.org
    draft = parse_event(sample_event(source={"ip": "193.166.3.7"}), received_at=NOW)
    first.ingest.ingest_blocking(org, [draft], NOW)
    first.stop()

    second = build_services(settings, locator=MaxMindLocator(moved))
    second.start()
    try:
        later = parse_event(sample_event(source={"ip": "193.166.3.7"}), received_at=NOW)
        second.ingest.ingest_blocking(org, [later], NOW)
        stored = second.log.events(org.id, org.slug, 0, 2)
        locations = [e.source.location if e.source else None for e in stored]
        assert locations == [
            Location("FI", "Finland", "Espoo"),
            Location("FI", "Finland", "Helsinki"),
        ]
    finally:
        second.stop()
