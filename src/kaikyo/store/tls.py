"""TLS to a haven: the context that verifies it, and telling a trust failure from a cut link.

``https://`` verifies the haven's certificate against the system's trust store, or only
against ``StoreOptions.ca_file`` when given (a haven with a private or self-signed CA). A
certificate that does not verify is a trust failure, not a transient one: it raises
:class:`StoreTrustFailed` (exit 18, like an unreachable haven) at once instead of retrying.
"""

from __future__ import annotations

import ssl

from kaikyo import errors
from kaikyo.store.errors import StoreError


class StoreTrustFailed(StoreError, errors.ConnectionFailedError):
    """The haven's TLS certificate does not verify. Permanent (never retried): the same
    certificate will not become trusted by waiting."""

    default_hint = "give the haven's CA certificate with --ca-file or KAIKYO_CA_FILE"


def tls_context(ca_file: str | None) -> ssl.SSLContext:
    """The context that verifies the haven: the system's trust store, or only ``ca_file``."""
    if ca_file is None:
        return ssl.create_default_context()
    try:
        return ssl.create_default_context(cafile=ca_file)
    except ssl.SSLError as exc:  # before OSError, of which it is a subclass
        raise errors.ConfigError(
            f"CA file {ca_file} holds no usable PEM certificate: {exc.reason or exc}"
        ) from None
    except OSError as exc:
        raise errors.ConfigError(
            f"cannot read CA file {ca_file}: {exc.strerror or exc}",
            "KAIKYO_CA_FILE / --ca-file must name a PEM file",
        ) from None


def tls_failure(exc: BaseException, host: str) -> StoreTrustFailed | None:
    """The permanent TLS failure behind an httpx transport error, if that is what it is
    (httpx and httpcore chain the ``ssl`` exception as the cause): a certificate that does not
    verify, or a peer that does not speak TLS at all. Anything else may be a cut link."""
    seen: BaseException | None = exc
    for _ in range(8):
        if seen is None:
            return None
        if isinstance(seen, ssl.SSLCertVerificationError):
            reason = seen.verify_message or seen.reason or "verification failed"
            return StoreTrustFailed(f"TLS certificate of haven {host} not trusted: {reason}")
        if isinstance(seen, ssl.SSLError) and seen.reason == "WRONG_VERSION_NUMBER":
            return StoreTrustFailed(
                f"haven {host} does not speak TLS on this port",
                "use the http:// URL only for a loopback haven without "
                "--tls-cert, or check the port",
            )
        seen = seen.__cause__ or seen.__context__
    return None


__all__ = ["StoreTrustFailed", "tls_context", "tls_failure"]
