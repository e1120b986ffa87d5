"""RFC 3161 over ``rfc3161_client``: build a request for some bytes, check a response.

The TSA's certificates are pinned in the configuration as one PEM file: the TSA's own
certificate first, then its chain, the root last. Nothing else of ours imports
``rfc3161_client`` or ``cryptography.x509``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from rfc3161_client import (
    HashAlgorithm,
    PKIStatus,
    TimestampRequestBuilder,
    TimeStampResponse,
    VerificationError,
    VerifierBuilder,
    decode_timestamp_response,
)

from i18n import N_, _

_SHA256 = x509.ObjectIdentifier("2.16.840.1.101.3.4.2.1")


class TimestampError(ValueError):
    """A token that is not one, or does not verify: ``code`` says which."""

    code = "timestamp-invalid"
    hint = N_(
        "Keep the token as evidence; check that [trust] tsa_certificates is the chain the "
        "TSA published."
    )


@dataclass(frozen=True, slots=True)
class TsaChain:
    """The pinned TSA certificate chain, as PEM text (first: the TSA, last: the root)."""

    pem: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class Token:
    """A verified time-stamp response: the DER bytes as the TSA sent them, and its time."""

    der: bytes
    gen_time: datetime
    serial: int
    slack: timedelta  # the TSA's stated accuracy plus a second: genTime may be whole seconds

    @property
    def latest(self) -> datetime:
        """The latest time the token allows: what it says may be truncated and inaccurate."""
        return self.gen_time + self.slack


def load_chain(pem: bytes) -> TsaChain:
    """Check that ``pem`` holds at least the TSA's certificate and a root."""
    try:
        certs = x509.load_pem_x509_certificates(pem)
    except ValueError as e:
        raise TimestampError(_("not PEM certificates: {error}").format(error=e)) from e
    if len(certs) < 2:
        raise TimestampError(
            _("the TSA chain needs the TSA's certificate first and its root certificate last")
        )
    return TsaChain(pem)


def request(data: bytes) -> tuple[bytes, int]:
    """A DER TimeStampReq over SHA-256(data) with a fresh nonce; (request bytes, nonce)."""
    built = (
        TimestampRequestBuilder()
        .data(data)
        .hash_algorithm(HashAlgorithm.SHA256)
        .nonce(nonce=True)
        .cert_request(cert_request=True)
        .build()
    )
    nonce = built.nonce
    assert nonce is not None
    return built.as_bytes(), nonce


def check(response: bytes, data: bytes, chain: TsaChain, *, nonce: int | None = None) -> Token:
    """Verify a DER TimeStampResp over ``data`` against the pinned chain (and nonce)."""
    certs = x509.load_pem_x509_certificates(chain.pem)
    builder = VerifierBuilder(
        tsa_certificate=certs[0], intermediates=certs[1:-1], roots=[certs[-1]], nonce=nonce
    )
    try:
        decoded = decode_timestamp_response(response)
        builder.build().verify_message(decoded, data)
    except (VerificationError, ValueError) as e:
        raise TimestampError(
            _("the timestamp token does not verify: {error}").format(error=e)
        ) from e
    info = decoded.tst_info
    return Token(der=response, gen_time=info.gen_time, serial=info.serial_number,
                 slack=timedelta(seconds=1) + _accuracy(decoded))  # fmt: skip


def read_unchained(response: bytes, data: bytes) -> Token:
    """A granted DER TimeStampResp whose messageImprint is SHA-256(``data``), without a chain.

    Only shows which bytes the token names and the time it states: that the TSA signed it
    needs ``check`` with the TSA's published chain.
    """
    try:
        decoded = decode_timestamp_response(response)
        granted = PKIStatus(decoded.status) == PKIStatus.GRANTED
        imprint = decoded.tst_info.message_imprint
        algorithm, digest = imprint.hash_algorithm, imprint.message
        info = decoded.tst_info
    except ValueError as e:
        raise TimestampError(
            _("not an RFC 3161 time-stamp response: {error}").format(error=e)
        ) from e
    if not granted:
        raise TimestampError(_("the time-stamp response is not a granted token"))
    if algorithm != _SHA256 or digest != hashlib.sha256(data).digest():
        raise TimestampError(_("the token's messageImprint is not the SHA-256 of this note"))
    return Token(der=response, gen_time=info.gen_time, serial=info.serial_number,
                 slack=timedelta(seconds=1) + _accuracy(decoded))  # fmt: skip


def _accuracy(decoded: TimeStampResponse) -> timedelta:
    try:
        acc = decoded.tst_info.accuracy
        return timedelta(seconds=acc.seconds or 0, milliseconds=acc.millis or 0,
                         microseconds=acc.micros or 0)  # fmt: skip
    except (AttributeError, ValueError):  # no accuracy field: the time is taken as stated
        return timedelta(0)
