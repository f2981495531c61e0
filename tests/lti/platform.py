"""An LTI 1.3 platform for the tests, on the test's own RSA key.

It starts logins and signs launches like Moodle or Canvas would, and serves what the tool
calls back over real HTTP on 127.0.0.1 (a thread): its key set, its OAuth2 token endpoint
(which checks the tool's signed client assertion against the tool's JWKS), a line item's
score endpoint and a Names and Role Provisioning roster. What the tool sends is kept in
``scores`` for the test to read.
"""

import functools
import html
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

ISSUER = "https://platform.test"
CLIENT_ID = "learnsite-client"
DEPLOYMENT_ID = "deployment-1"
LTI = "https://purl.imsglobal.org/spec/lti/claim/"
AGS_ENDPOINT = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
NRPS = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
DEEP_LINKING_SETTINGS = "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"
SCORE_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"
LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"


@functools.cache
def rsa_key(name: str = "platform") -> tuple[rsa.RSAPrivateKey, dict]:
    """A private key and its public JWK, one per name for the whole run (making one takes
    a good part of a second)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
    return key, jwk | {"kid": uuid.uuid4().hex, "alg": "RS256", "use": "sig"}


class Platform:
    def __init__(self) -> None:
        self.key, self.jwk = rsa_key()
        self.tool_jwks: dict = {"keys": []}  # set by the test from the tool's JWKS URL
        self.scores: list[dict] = []
        self.members: list[dict] = []
        self.token_requests = 0
        self.score_failures = 0  # the score endpoint answers 503 this many times first
        # For a browser: the tool's address, the message the auth endpoint signs, and the
        # deep-linking answers the browser posted back.
        self.tool_url = "http://testserver"
        self.auth_message = "LtiResourceLinkRequest"
        self.deep_link_answers: list[str] = []
        self.access_token = uuid.uuid4().hex
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        # A short poll: shutdown() waits for it.
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def __enter__(self) -> "Platform":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    # The registration an administrator enters in the admin for this platform.
    def registration_fields(self) -> dict:
        return {
            "name": "Test platform",
            "issuer": ISSUER,
            "client_id": CLIENT_ID,
            "auth_url": f"{self.url}/auth",
            "token_url": f"{self.url}/token",
            "keyset_url": f"{self.url}/jwks",
        }

    def lineitem_url(self, name: str = "1") -> str:
        return f"{self.url}/lineitems/{name}"

    def claims(self, *, nonce: str, message: str = "LtiResourceLinkRequest", **extra) -> dict:
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "aud": CLIENT_ID,
            "sub": "student-1",
            "iat": now,
            "exp": now + 300,
            "nonce": nonce,
            "name": "Ada Learner",
            "email": "ada@platform.test",
            LTI + "message_type": message,
            LTI + "version": "1.3.0",
            LTI + "deployment_id": DEPLOYMENT_ID,
            LTI + "target_link_uri": f"{self.tool_url}/lti/launch/",
            LTI + "roles": [LEARNER],
            LTI + "context": {"id": "course-1", "title": "Brokers 101"},
            NRPS: {
                "context_memberships_url": f"{self.url}/memberships",
                "service_versions": ["2.0"],
            },
        }
        if message == "LtiResourceLinkRequest":
            claims[LTI + "resource_link"] = {"id": "link-1", "title": "The quiz"}
            claims[AGS_ENDPOINT] = {"scope": [SCORE_SCOPE], "lineitem": self.lineitem_url()}
        else:
            claims[LTI + "roles"] = [INSTRUCTOR]
            claims[DEEP_LINKING_SETTINGS] = {
                "deep_link_return_url": f"{self.url}/deep-link-return",
                "accept_types": ["ltiResourceLink"],
                "accept_presentation_document_targets": ["window"],
                "data": "opaque-data",
            }
        return claims | extra

    def sign(self, claims: dict, key=None, kid: str | None = None) -> str:
        return jwt.encode(
            claims, key or self.key, algorithm="RS256", headers={"kid": kid or self.jwk["kid"]}
        )

    def login(self, client, *, secure: bool = False) -> dict:
        """Third-party login initiation; returns the tool's OIDC authentication request."""
        response = client.get(
            "/lti/login/",
            {
                "iss": ISSUER,
                "client_id": CLIENT_ID,
                "login_hint": "student-1",
                "target_link_uri": "http://testserver/lti/launch/",
                "lti_message_hint": "hint",
            },
            secure=secure,
        )
        assert response.status_code == 302, response.content
        location = urlsplit(response["Location"])
        assert f"{location.scheme}://{location.netloc}{location.path}" == f"{self.url}/auth"
        return {name: values[0] for name, values in parse_qs(location.query).items()}

    def launch(self, client, *, custom: dict | None = None, message="LtiResourceLinkRequest",
               sign=None, secure=False, **extra):  # fmt: skip
        """A whole launch: login, then the signed id_token posted to the tool's launch URL.
        ``sign`` makes the token another way (a wrong key); ``extra`` overrides claims.
        Returns the tool's answer and what was posted (to replay it)."""
        auth = self.login(client, secure=secure)
        assert auth["redirect_uri"] == "http://testserver/lti/launch/"
        assert auth["client_id"] == CLIENT_ID
        claims = self.claims(nonce=auth["nonce"], message=message, **extra)
        if custom is not None:
            claims[LTI + "custom"] = custom
        posted = {"id_token": (sign or self.sign)(claims), "state": auth["state"]}
        return client.post("/lti/launch/", posted, secure=secure), posted

    def deep_link_response(self, token: str) -> dict:
        """The tool's deep-linking answer, verified with the tool's JWKS as a platform does."""
        kid = jwt.get_unverified_header(token)["kid"]
        jwk = next(key for key in self.tool_jwks["keys"] if key["kid"] == kid)
        return jwt.decode(token, RSAAlgorithm.from_jwk(jwk), algorithms=["RS256"], audience=ISSUER)


def _handler(platform: Platform):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def _send(self, status: int, body: dict | list, content_type="application/json") -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> bytes:
            return self.rfile.read(int(self.headers.get("Content-Length", 0)))

        def _authorized(self) -> bool:
            return self.headers.get("Authorization") == f"Bearer {platform.access_token}"

        def do_GET(self) -> None:
            if self.path.startswith("/auth?"):
                # The OIDC authentication request from a browser: answer with the signed
                # launch, posted to the tool by a form, as a platform's page does.
                query = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
                claims = platform.claims(nonce=query["nonce"], message=platform.auth_message)
                page = (
                    f'<form method="post" action="{html.escape(query["redirect_uri"])}">'
                    f'<input type="hidden" name="id_token" value="{platform.sign(claims)}">'
                    f'<input type="hidden" name="state" value="{html.escape(query["state"])}">'
                    "</form><script>document.forms[0].submit()</script>"
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)
            elif self.path == "/jwks":
                self._send(200, {"keys": [platform.jwk]})
            elif self.path == "/memberships" and self._authorized():
                self._send(
                    200,
                    {"id": f"{platform.url}/memberships", "members": platform.members},
                    "application/vnd.ims.lti-nrps.v2.membershipcontainer+json",
                )
            else:
                self._send(404, {"error": "not found"})

        def do_POST(self) -> None:
            if self.path == "/token":
                form = {k: v[0] for k, v in parse_qs(self._body().decode()).items()}
                assertion = form["client_assertion"]
                kid = jwt.get_unverified_header(assertion)["kid"]
                jwk = next(k for k in platform.tool_jwks["keys"] if k["kid"] == kid)
                claims = jwt.decode(
                    assertion, RSAAlgorithm.from_jwk(jwk), algorithms=["RS256"],
                    audience=f"{platform.url}/token",
                )  # fmt: skip
                assert claims["iss"] == claims["sub"] == CLIENT_ID
                platform.token_requests += 1
                self._send(200, {"access_token": platform.access_token, "token_type": "Bearer",
                                 "expires_in": 3600, "scope": form["scope"]})  # fmt: skip
            elif self.path == "/deep-link-return":
                form = parse_qs(self._body().decode())
                platform.deep_link_answers.append(form["JWT"][0])
                self._send(200, {"received": True})
            elif self.path.startswith("/lineitems/") and self.path.endswith("/scores"):
                if not self._authorized():
                    self._send(401, {"error": "no token"})
                    return
                score = json.loads(self._body())
                if platform.score_failures:
                    platform.score_failures -= 1
                    self._send(503, {"error": "try again later"})
                    return
                score["lineitem"] = self.path.removesuffix("/scores")
                score["content_type"] = self.headers.get("Content-Type")
                platform.scores.append(score)
                self._send(200, {})
            else:
                self._send(404, {"error": "not found"})

    return Handler
