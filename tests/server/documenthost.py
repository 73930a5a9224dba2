"""A real https server on 127.0.0.1 (uvicorn with TLS, a test CA made here) that serves the
documents a test puts in it: client metadata documents, JWK Sets, slow or oversized answers."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import ipaddress
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from serverhelp import bound_socket


@dataclass
class Answer:
    """What one path answers."""

    body: bytes
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


def write_test_ca(folder: Path) -> tuple[Path, Path, Path]:
    """A CA certificate and a server certificate for 127.0.0.1/localhost signed by it:
    (ca.pem, server.pem, server-key.pem)."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tessera test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_file, cert_file, key_file = folder / "ca.pem", folder / "server.pem", folder / "key.pem"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_file.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return ca_file, cert_file, key_file


class DocumentHost:
    """The running https server: ``put`` documents, read ``hits`` per path."""

    def __init__(self, port: int, ca_file: Path) -> None:
        self.port = port
        self.ca_file = ca_file
        self.answers: dict[str, Answer] = {}
        self.hits: dict[str, int] = {}

    @property
    def origin(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return self.origin + path

    def put(self, path: str, answer: Answer | dict[str, Any]) -> str:
        """Serve ``answer`` (a JSON object or an Answer) at ``path``; its URL."""
        if isinstance(answer, dict):
            answer = Answer(
                json.dumps(answer).encode(), headers={"content-type": "application/json"}
            )
        self.answers[path] = answer
        self.hits[path] = 0
        return self.url(path)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        path = scope["path"]
        answer = self.answers.get(path, Answer(b"not found", 404))
        self.hits[path] = self.hits.get(path, 0) + 1
        if answer.delay:
            await asyncio.sleep(answer.delay)
        headers = [(k.encode(), v.encode()) for k, v in answer.headers.items()]
        await send({"type": "http.response.start", "status": answer.status, "headers": headers})
        await send({"type": "http.response.body", "body": answer.body})


@contextlib.contextmanager
def document_host(folder: Path) -> Iterator[DocumentHost]:
    """An https DocumentHost on a free 127.0.0.1 port, for the length of the block."""
    import uvicorn

    ca_file, cert_file, key_file = write_test_ca(folder)
    sock = bound_socket()
    host = DocumentHost(int(sock.getsockname()[1]), ca_file)
    config = uvicorn.Config(
        host,
        log_level="warning",
        lifespan="on",
        ws="none",
        ssl_certfile=str(cert_file),
        ssl_keyfile=str(key_file),
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the document host did not start")
        time.sleep(0.01)
    try:
        yield host
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
