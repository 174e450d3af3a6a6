"""Password hashing: production strength, whatever cheaper hasher the test suite runs with."""

from __future__ import annotations

from argon2 import Type

from auditledger.tenancy import tokens


def test_production_passwords_get_argon2id_at_rfc_9106_strength() -> None:
    # RFC 9106 section 4, second recommended option: t=3 and 64 MiB of memory; OWASP's floor
    # for argon2id is 19 MiB with t=2. The suite's cheap hasher must never become the default.
    hasher = tokens.PRODUCTION_HASHER
    assert hasher.type is Type.ID
    assert hasher.time_cost >= 3
    assert hasher.memory_cost >= 64 * 1024
    assert hasher.parallelism >= 1
    stored = hasher.hash("correct horse battery staple")
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,")


def test_a_hash_is_checked_with_the_parameters_it_names() -> None:
    # Hashes made under the production parameters still verify while the suite's cheap hasher
    # is in use: the stored string, not the current hasher, decides the cost of a check.
    stored = tokens.PRODUCTION_HASHER.hash("correct horse battery staple")
    assert tokens.check_password("correct horse battery staple", stored)
    assert not tokens.check_password("correct horse battery stapler", stored)
    assert not tokens.check_password("correct horse battery staple", None)
