"""Server nonces for DPoP proofs (RFC 9449 section 9): stateless, time-windowed, fleet-wide."""

from __future__ import annotations

import base64

import pytest

from jwks_middleware._dpop_nonce import NonceSource

SECRET = b"a nonce secret of at least thirty-two bytes"
NOW = 1_700_000_000  # a multiple of the 100 s windows used below


def source(secret: bytes | str = SECRET, lifetime: float = 100) -> NonceSource:
    return NonceSource(secret, lifetime=lifetime)


def test_a_nonce_is_accepted_in_its_window() -> None:
    nonces = source()
    nonce = nonces.issue(NOW)
    assert nonces.check(nonce, NOW)
    assert nonces.check(nonce, NOW + 99)


def test_a_nonce_is_the_same_for_the_whole_window() -> None:
    nonces = source()
    assert nonces.issue(NOW) == nonces.issue(NOW + 99)
    assert nonces.issue(NOW) != nonces.issue(NOW + 100)


def test_a_nonce_stays_good_for_at_least_one_full_lifetime() -> None:
    nonces = source()
    nonce = nonces.issue(NOW + 99)  # the last second of its window
    assert nonces.check(nonce, NOW + 199)


def test_a_nonce_two_windows_old_is_refused() -> None:
    nonces = source()
    nonce = nonces.issue(NOW)
    assert not nonces.check(nonce, NOW + 200)


def test_a_nonce_from_a_server_whose_clock_is_a_little_ahead_is_accepted() -> None:
    ahead, behind = source(), source()
    assert behind.check(ahead.issue(NOW + 100), NOW + 99)
    assert not behind.check(ahead.issue(NOW + 200), NOW + 99)


def test_servers_sharing_the_secret_accept_each_others_nonces() -> None:
    worker_a, worker_b = source(), source(SECRET.decode())
    assert worker_b.check(worker_a.issue(NOW), NOW)


def test_a_nonce_made_with_another_secret_is_refused() -> None:
    other = source(b"another secret of at least thirty-two bytes")
    assert not source().check(other.issue(NOW), NOW)


def test_a_nonce_with_a_changed_window_is_refused() -> None:
    # The window is in the clear but covered by the MAC: moving it forward breaks the nonce.
    nonces = source()
    raw = bytearray(base64.urlsafe_b64decode(nonces.issue(NOW)))
    raw[7] += 1
    forged = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
    assert not nonces.check(forged, NOW + 100)


@pytest.mark.parametrize(
    "nonce", [None, 42, "", "short", "é" * 32, "!" * 32, "A" * 31 + "!", "A" * 32, "A" * 33]
)
def test_what_is_no_nonce_of_this_source_is_refused(nonce: object) -> None:
    assert not source().check(nonce, NOW)


def test_a_nonce_is_made_of_characters_a_header_can_carry() -> None:
    # RFC 9449 section 8.1: nonce = 1*NQCHAR; base64url fits.
    nonce = source().issue(NOW)
    assert nonce.isascii()
    assert nonce.replace("-", "").replace("_", "").isalnum()


@pytest.mark.parametrize("secret", [b"short", "x" * 31])
def test_a_short_secret_is_refused(secret: bytes | str) -> None:
    with pytest.raises(ValueError, match="at least 32 bytes"):
        NonceSource(secret)


@pytest.mark.parametrize("lifetime", [0, 0.5, 86_401])
def test_a_lifetime_out_of_range_is_refused(lifetime: float) -> None:
    with pytest.raises(ValueError, match="lifetime"):
        NonceSource(SECRET, lifetime=lifetime)


def test_the_secret_never_shows() -> None:
    nonces = source()
    assert repr(nonces) == "NonceSource(lifetime=100)"
    assert nonces.lifetime == 100
