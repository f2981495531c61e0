"""The event hub's pattern subscription (learnsite/subscription.py), on a real Redis of the
test's own: what it delivers, and each way it ends, so that the hub subscribes again."""

import asyncio
import concurrent.futures
import contextlib
import datetime
import ipaddress
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import redis
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from redis.exceptions import RedisError

from learnsite.subscription import patterns_subscribe
from tests.stack import redis_service, wait_until

PATTERNS = ["learner:*", "content:*"]


@pytest.fixture
def redis_url(start_services) -> str:
    service, url = redis_service()
    start_services(service)
    return url


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory) -> Path:
    """A folder with a throwaway CA (ca.pem), a server certificate for 127.0.0.1 that it signed
    (server.pem, server-key.pem), and a second CA that signed nothing (other-ca.pem)."""
    folder = tmp_path_factory.mktemp("tls")
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _certificate("learnsite test CA", ca_key.public_key(), issuer=None, issuer_key=ca_key)
    server_key = ec.generate_private_key(ec.SECP256R1())
    server = _certificate("127.0.0.1", server_key.public_key(), issuer=ca, issuer_key=ca_key)
    other_key = ec.generate_private_key(ec.SECP256R1())
    other = _certificate("another CA", other_key.public_key(), issuer=None, issuer_key=other_key)
    for name, certificate in [("ca", ca), ("server", server), ("other-ca", other)]:
        (folder / f"{name}.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (folder / "server-key.pem").write_bytes(server_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ))  # fmt: skip
    return folder


def _certificate(name: str, public_key: ec.EllipticCurvePublicKey, *,
                 issuer: x509.Certificate | None,
                 issuer_key: ec.EllipticCurvePrivateKey) -> x509.Certificate:  # fmt: skip
    """A CA's certificate (self-signed, no issuer), or a server's for the IP address ``name``;
    with the extensions Python 3.13's default client context (VERIFY_X509_STRICT) requires."""
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.subject if issuer else subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )
    if issuer is None:
        builder = builder.add_extension(x509.KeyUsage(
            digital_signature=False, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
            encipher_only=False, decipher_only=False,
        ), critical=True)  # fmt: skip
    else:
        builder = (
            builder.add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(name))]),
                critical=False,
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.public_key()),
                critical=False,
            )
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        )
    return builder.sign(issuer_key, hashes.SHA256())


@contextlib.contextmanager
def tls_terminator(*, redis_socket: str, certificate: Path, key: Path) -> Iterator[int]:
    """A TLS server on a free port of 127.0.0.1 (the port it yields) that pipes each connection
    to the Redis at ``redis_socket``, as a hosted Redis's TLS front does: the redis-server
    bundled here is built without TLS. It runs in a thread of its own, ended on exit with every
    connection it holds."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificate, key)
    started: concurrent.futures.Future = concurrent.futures.Future()
    clients: list[asyncio.StreamWriter] = []

    async def connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        clients.append(writer)
        redis_reader, redis_writer = await asyncio.open_unix_connection(redis_socket)
        await asyncio.gather(_pipe(reader, redis_writer), _pipe(redis_reader, writer))

    async def serve() -> None:
        server = await asyncio.start_server(connect, "127.0.0.1", 0, ssl=context)
        stop = asyncio.Event()
        started.set_result((server.sockets[0].getsockname()[1], asyncio.get_running_loop(), stop))
        await stop.wait()
        server.close()
        for client in clients:  # Server.abort_clients(), which Python 3.12 has not
            client.transport.abort()
        await server.wait_closed()  # asyncio.run then cancels the pipes still running

    def run() -> None:
        try:
            asyncio.run(serve())
        except BaseException as error:
            if not started.done():  # the test fails with it, not after a wait
                started.set_exception(error)
            raise

    thread = threading.Thread(target=run, name="tls-terminator", daemon=True)  # no wait at exit
    thread.start()
    port, loop, stop = started.result(timeout=10)
    try:
        yield port
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except OSError:  # one end went away (a reset, a TLS error): the pipe ends with it
        pass
    finally:
        writer.close()


@pytest.fixture
def tls_port(redis_url, tls_files) -> Iterator[int]:
    """The port of a TLS terminator in front of this test's Redis."""
    with tls_terminator(
        redis_socket=redis_url.removeprefix("unix://"),
        certificate=tls_files / "server.pem", key=tls_files / "server-key.pem",
    ) as port:  # fmt: skip
        yield port


@pytest.fixture(params=["unix", "rediss"])
def subscription_url(request, redis_url, tls_files) -> str:
    """The URL the subscription opens: this test's Redis's own, or rediss:// to it through the
    TLS terminator, with the CA that signed the terminator's certificate."""
    if request.param == "unix":
        return redis_url
    return rediss_url("127.0.0.1", request.getfixturevalue("tls_port"), tls_files / "ca.pem")


def rediss_url(host: str, port: int, ca: Path | None) -> str:
    """A TLS URL, that trusts ``ca`` (redis-py's ``ssl_ca_certs``) or else the system's CAs."""
    return f"rediss://{host}:{port}/" + (f"?ssl_ca_certs={ca}" if ca else "")


def connections_to(port: int) -> list:
    """This process's TCP connections to ``port`` that it has not closed (a connection the
    server closed but this side did not waits in CLOSE_WAIT)."""
    return [
        connection for connection in psutil.Process().net_connections("tcp")
        if connection.raddr and connection.raddr.port == port
        and connection.status in (psutil.CONN_ESTABLISHED, psutil.CONN_CLOSE_WAIT)
    ]  # fmt: skip


def subscribe(url: str, deliver=lambda channel, data: None, *, health_check_seconds=30.0):
    return patterns_subscribe(
        url, PATTERNS, deliver=deliver, connect_seconds=5.0,
        health_check_seconds=health_check_seconds,
    )  # fmt: skip


def test_messages_on_its_patterns_arrive_in_order_and_others_do_not(subscription_url, redis_url):
    sent = [("learner:a", "ping 1-0 - {}"), ("other:x", "not for us"), ("content:v", "é 2"),
            ("learner:b", "x" * 100_000)]  # fmt: skip

    async def scenario() -> list:
        delivered, last = [], asyncio.Event()

        def deliver(channel: str, data: str) -> None:
            delivered.append((channel, data))
            if channel == sent[-1][0]:
                last.set()

        subscription = await subscribe(subscription_url, deliver)
        client = redis.asyncio.Redis.from_url(redis_url)
        for channel, data in sent:
            await client.publish(channel, data)
        await client.aclose()
        await asyncio.wait_for(last.wait(), 10)
        subscription.close()
        return delivered

    assert asyncio.run(scenario()) == [sent[0], sent[2], sent[3]]


def test_a_refused_subscription_raises_and_keeps_no_connection(redis_url):
    client = redis.Redis.from_url(redis_url)
    before = client.client_list()

    async def scenario() -> None:
        # This Redis has no password: AUTH is refused, as a wrong one would be.
        await subscribe(f"{redis_url}?password=wrong")

    with pytest.raises(RedisError, match="AUTH"):
        asyncio.run(scenario())
    wait_until(lambda: len(client.client_list()) == len(before))


@pytest.mark.parametrize(
    ("host", "ca", "reason"),
    [
        pytest.param("127.0.0.1", "other-ca.pem", "unable to get local issuer certificate",
                     id="another-ca"),
        pytest.param("127.0.0.1", None, "unable to get local issuer certificate",
                     id="system-cas"),
        # The certificate is for 127.0.0.1, where localhost leads too.
        pytest.param("localhost", "ca.pem", "Hostname mismatch", id="another-host"),
    ],
)  # fmt: skip
def test_a_tls_server_that_does_not_verify_is_refused_and_no_connection_kept(
    tls_port, tls_files, host, ca, reason
):
    url = rediss_url(host, tls_port, ca and tls_files / ca)

    # What the hub catches, and says why: not a wait until connect_seconds (a TimeoutError).
    with pytest.raises((RedisError, OSError), match=f"certificate verify failed: {reason}"):
        asyncio.run(subscribe(url))
    wait_until(lambda: not connections_to(tls_port))


def test_its_health_check_is_answered_over_tls(tls_port, tls_files, redis_url):
    """Its PINGs reach Redis through TLS and their replies come back: a second PING is sent only
    once the first was answered, else the subscription ends."""

    async def pings(client: redis.asyncio.Redis) -> int:
        return (await client.info("commandstats")).get("cmdstat_ping", {}).get("calls", 0)

    async def scenario() -> str | None:
        client = redis.asyncio.Redis.from_url(redis_url)
        before = await pings(client)
        url = rediss_url("127.0.0.1", tls_port, tls_files / "ca.pem")
        subscription = await subscribe(url, health_check_seconds=0.2)
        async with asyncio.timeout(10):
            while await pings(client) < before + 2 and not subscription.closed.done():
                await asyncio.wait([subscription.closed], timeout=0.02)
        ended = str(subscription.closed.result()) if subscription.closed.done() else None
        subscription.close()
        await client.aclose()
        return ended

    assert asyncio.run(scenario()) is None


def test_a_connection_closed_by_redis_ends_it(redis_url):
    async def scenario() -> Exception:
        subscription = await subscribe(redis_url)
        redis.Redis.from_url(redis_url).client_kill_filter(_type="pubsub")
        return await asyncio.wait_for(subscription.closed, 10)

    assert "closed the subscription's connection" in str(asyncio.run(scenario()))


def test_an_unanswered_health_check_ends_it(redis_url):
    """A server that stops answering without closing: what a half-open connection looks like
    from here. CLIENT PAUSE holds every client's commands, the PING among them."""

    async def scenario() -> Exception:
        subscription = await subscribe(redis_url, health_check_seconds=0.2)
        redis.Redis.from_url(redis_url).client_pause(3000, all=True)
        return await asyncio.wait_for(subscription.closed, 10)

    assert "did not answer a PING in 0.2 s" in str(asyncio.run(scenario()))


def test_a_redis_with_a_password_is_opened_with_the_urls(redis_url):
    redis.Redis.from_url(redis_url).config_set("requirepass", "s3cret")
    url = f"{redis_url}?password=s3cret"

    async def scenario() -> list:
        delivered, arrived = [], asyncio.Event()

        def deliver(channel: str, data: str) -> None:
            delivered.append((channel, data))
            arrived.set()

        subscription = await subscribe(url, deliver)
        client = redis.asyncio.Redis.from_url(url)
        await client.publish("learner:a", "hello")
        await client.aclose()
        await asyncio.wait_for(arrived.wait(), 10)
        subscription.close()
        return delivered

    assert asyncio.run(scenario()) == [("learner:a", "hello")]
