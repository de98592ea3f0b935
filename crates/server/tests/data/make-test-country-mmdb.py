"""Writes test-country.mmdb, the small MaxMind-format country database the
tests use: documentation and test networks mapped to made-up countries, one
in the GeoIP2 layout (country.iso_code) and one in the layout of the free
country files (country_code). Run with `pip install mmdb-writer netaddr`."""

from mmdb_writer import MMDBWriter
from netaddr import IPSet

writer = MMDBWriter(ip_version=4, database_type="Sightline-Test-Country", languages=["en"])
writer.insert_network(IPSet(["203.0.113.0/24"]), {"country": {"iso_code": "NZ"}})
writer.insert_network(IPSet(["198.51.100.0/24"]), {"country_code": "JP"})
writer.to_db_file("test-country.mmdb")
