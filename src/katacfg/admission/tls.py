"""Development certificates for the webhook: a CA and a server certificate it signs.

`--self-signed` (and `webhook manifests`, for the Secret it writes) need what the API
server checks: a CA in the webhook's caBundle, and a server certificate for the Service's
DNS name (`NAME.NAMESPACE.svc`) signed by it. ECDSA P-256, SHA-256, one year.
"""
from __future__ import annotations

import base64
import datetime
import ipaddress
import os

from katacfg.config.records import Record


class CertBundle(Record):
    ca_pem: bytes
    cert_pem: bytes  # the server certificate, then the CA (a chain)
    key_pem: bytes

    @property
    def ca_bundle(self) -> str:
        """base64 of the CA's PEM: the caBundle field of a webhook's clientConfig."""
        return base64.b64encode(self.ca_pem).decode("ascii")

    def write(self, directory: str) -> tuple[str, str, str]:
        """ca.crt, tls.crt, tls.key in `directory` (created 0700; the key 0600)."""
        os.makedirs(directory, mode=0o700, exist_ok=True)
        paths = []
        for name, data, mode in (("ca.crt", self.ca_pem, 0o644), ("tls.crt", self.cert_pem, 0o644),
                                 ("tls.key", self.key_pem, 0o600)):
            path = os.path.join(directory, name)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, mode)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            paths.append(path)
        return paths[0], paths[1], paths[2]


def make_certificates(names: list[str], *, days: int = 365) -> CertBundle:
    """A new CA, and a server certificate for `names` (DNS names and IP addresses)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)
    start, end = now - datetime.timedelta(minutes=5), now + datetime.timedelta(days=days)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "katacfg webhook CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(start).not_valid_after(end)
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True,
                                       crl_sign=True, content_commitment=False,
                                       key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False,
                                       decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                         critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    sans: list[x509.GeneralName] = []
    for n in names:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(n)))
        except ValueError:
            sans.append(x509.DNSName(n))
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(end)
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    ca_pem = ca.public_bytes(pem)
    return CertBundle(
        ca_pem, cert.public_bytes(pem) + ca_pem,
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                          serialization.NoEncryption()))
