"""An OpenID Connect relying party for the authorization code flow with PKCE, sync and async.

>>> # rp = RelyingParty.from_provider(issuer, client_id="app", client_secret=secret,
>>> #                                 redirect_uri="https://app.example/callback")
>>> # pending = rp.authorization_request()        # send the browser to pending.url
>>> # tokens = rp.callback(pending, request.query) # state, code exchange, ID token verified
>>> # claims = rp.userinfo(tokens)                 # sub checked against the ID token's

Both drivers share the sans-I/O pieces of :mod:`tessera.oidc.flow` and verify ID tokens with
:class:`IDTokenVerifier`. A refreshed ID token must keep ``iss``, ``sub``, ``aud`` and
``auth_time`` (OIDC Core 12.2); its ``nonce``, when present, must be the original one.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from tessera.errors import (
    ConfigurationError,
    InvalidAudienceError,
    InvalidIssuerError,
    InvalidSubjectError,
)
from tessera.oidc import flow
from tessera.oidc._http import Reply, asend, send
from tessera.oidc.errors import (
    AuthTimeError,
    InvalidNonceError,
    SubjectMismatchError,
    TokenEndpointError,
    UserInfoError,
)
from tessera.oidc.flow import AuthorizationRequest, Tokens
from tessera.oidc.provider import ProviderMetadata, discover_provider, discover_provider_async
from tessera.oidc.tokens import IDToken
from tessera.oidc.verifier import IDTokenVerifier
from tessera.resource._fetch import FetchError, FetchPolicy, new_client

if TYPE_CHECKING:
    import httpx

__all__ = ["AsyncRelyingParty", "RelyingParty"]

_MAX_USERINFO_MEMBERS = 256


class _Core:
    """Configuration and the I/O-free halves of each step, shared by both drivers."""

    def __init__(
        self,
        metadata: ProviderMetadata,
        *,
        client_id: str,
        redirect_uri: str,
        client_secret: str | None,
        auth_method: str | None,
        scope: str,
        verifier: IDTokenVerifier | None,
        fetch_policy: FetchPolicy,
        transport: Any,
        clock: Callable[[], float],
        asynchronous: bool,
    ) -> None:
        if not isinstance(metadata, ProviderMetadata):
            raise ConfigurationError("metadata must be a ProviderMetadata (see discover_provider)")
        if not isinstance(client_id, str) or not client_id:
            raise ConfigurationError("client_id must be a non-empty string")
        if not isinstance(redirect_uri, str) or not redirect_uri or "#" in redirect_uri:
            raise ConfigurationError("redirect_uri must be an absolute URI without fragment")
        if client_secret is not None and (not isinstance(client_secret, str) or not client_secret):
            raise ConfigurationError("client_secret must be a non-empty string")
        method = auth_method or ("client_secret_basic" if client_secret else "none")
        if method not in flow.AUTH_METHODS:
            raise ConfigurationError(f"auth_method must be one of {flow.AUTH_METHODS}")
        if (method == "none") != (client_secret is None):
            raise ConfigurationError(f"{method} and the client secret given do not fit together")
        if not isinstance(scope, str) or "openid" not in scope.split():
            raise ConfigurationError("scope must be a string including 'openid'")
        if metadata.token_endpoint is None:
            raise ConfigurationError("the provider has no token_endpoint")
        self.metadata = metadata
        self.client_id = client_id
        self.redirect_uri = redirect_uri
        self._secret = client_secret
        self.auth_method = method
        self.scope = scope
        if verifier is None:
            verifier = IDTokenVerifier.from_metadata(
                metadata,
                client_id=client_id,
                asynchronous=asynchronous,
                clock=clock,
                fetch_policy=fetch_policy,
                transport=transport,
            )
        elif verifier.client_id != client_id or verifier.issuer != metadata.issuer:
            raise ConfigurationError("the verifier is for another client or issuer")
        self.verifier = verifier
        self._policy = fetch_policy
        self._transport = transport
        self._clock = clock

    @property
    def issuer(self) -> str:
        """The provider's issuer identifier."""
        return self.metadata.issuer

    def authorization_request(
        self,
        *,
        scope: str | None = None,
        prompt: str | None = None,
        max_age: int | None = None,
        login_hint: str | None = None,
        params: Mapping[str, str] | None = None,
    ) -> AuthorizationRequest:
        """A fresh sign-in: send the browser to ``.url``, keep the rest for the callback.

        Raises:
            ConfigurationError: no ``openid`` scope, or a reserved or oversized parameter.
        """
        extra = dict(params or {})
        if prompt is not None:
            extra["prompt"] = prompt
        if login_hint is not None:
            extra["login_hint"] = login_hint
        return AuthorizationRequest.new(
            self.metadata.authorization_endpoint,
            client_id=self.client_id,
            redirect_uri=self.redirect_uri,
            scope=scope or self.scope,
            max_age=max_age,
            params=extra,
        )

    def check_callback(self, pending: AuthorizationRequest, params: Mapping[str, Any]) -> str:
        """The code from the redirect's query, once ``state``/``iss``/``error`` are checked.

        Raises:
            StateMismatchError: not the pending sign-in's ``state``.
            AuthorizationError: another issuer, the provider's ``error``, or no code.
        """
        if not isinstance(pending, AuthorizationRequest):
            raise ConfigurationError("pending must be the AuthorizationRequest of this sign-in")
        iss_required = self.metadata.authorization_response_iss_parameter_supported
        return flow.check_callback(pending, params, self.issuer, iss_required)

    def _token_form(self, grant: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
        fields, headers = flow.client_auth(self.auth_method, self.client_id, self._secret)
        return {**grant, **fields}, headers

    def _code_form(
        self, pending: AuthorizationRequest, code: str
    ) -> tuple[dict[str, str], dict[str, str]]:
        return self._token_form(
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": pending.redirect_uri,
                "code_verifier": pending.code_verifier,
            }
        )

    def _refresh_form(
        self, tokens: Tokens, scope: str | None
    ) -> tuple[dict[str, str], dict[str, str]]:
        if not isinstance(tokens, Tokens) or tokens.refresh_token is None:
            raise ConfigurationError("these tokens have no refresh_token")
        grant = {"grant_type": "refresh_token", "refresh_token": tokens.refresh_token}
        if scope is not None:
            grant["scope"] = scope
        return self._token_form(grant)

    def _reply(self, reply: Reply) -> dict[str, Any]:
        return flow.parse_token_reply(reply.status, reply.media_type, reply.body, self._clock())

    @staticmethod
    def _id_token_of(data: Mapping[str, Any]) -> str:
        id_token = data.get("id_token")
        if not isinstance(id_token, str):
            raise TokenEndpointError("the token reply has no id_token", status=200)
        return id_token

    @staticmethod
    def check_refreshed(before: IDToken, after: IDToken) -> None:
        """OIDC Core 12.2: a refreshed ID token is about the same sign-in.

        Raises:
            InvalidIssuerError, InvalidSubjectError, InvalidAudienceError, AuthTimeError,
            InvalidNonceError: the new token differs where it must not.
        """
        if after.iss != before.iss:
            raise InvalidIssuerError("the refreshed ID token has another issuer", "iss")
        if after.sub != before.sub:
            raise InvalidSubjectError("the refreshed ID token is about another subject", "sub")
        if set(after.aud) != set(before.aud):
            raise InvalidAudienceError("the refreshed ID token has other audiences", "aud")
        if (
            after.auth_time is not None
            and before.auth_time is not None
            and after.auth_time != before.auth_time
        ):
            raise AuthTimeError("the refreshed ID token changed auth_time", "auth_time")
        if after.nonce is not None and after.nonce != before.nonce:
            raise InvalidNonceError("the refreshed ID token has another nonce", "nonce")

    def _userinfo_request(self, tokens: Tokens) -> tuple[str, dict[str, str], str]:
        endpoint = self.metadata.userinfo_endpoint
        if endpoint is None:
            raise ConfigurationError("the provider has no userinfo_endpoint")
        if not isinstance(tokens, Tokens) or tokens.id_token is None:
            raise ConfigurationError("userinfo needs the tokens of a sign-in (with its ID token)")
        return endpoint, {"authorization": f"Bearer {tokens.access_token}"}, tokens.id_token.sub

    @staticmethod
    def _userinfo(reply: Reply, sub: str) -> dict[str, Any]:
        if reply.status != 200:
            raise UserInfoError("the UserInfo endpoint refused the request", reply.status)
        if reply.media_type == "application/jwt":
            raise UserInfoError("signed UserInfo responses are not supported", reply.status)
        try:
            data = json.loads(reply.body)
        except (ValueError, RecursionError):
            raise UserInfoError("the UserInfo reply is not JSON", reply.status) from None
        if not isinstance(data, dict) or len(data) > _MAX_USERINFO_MEMBERS:
            raise UserInfoError("the UserInfo reply is not a JSON object", reply.status)
        if data.get("sub") != sub:
            raise SubjectMismatchError("the UserInfo reply is about another subject", 200)
        return data

    def logout_url(
        self,
        id_token: IDToken | str | None = None,
        *,
        post_logout_redirect_uri: str | None = None,
        state: str | None = None,
    ) -> str:
        """The RP-initiated logout URL (OpenID RP-Initiated Logout 1.0 sec. 2).

        Raises:
            ConfigurationError: the provider has no ``end_session_endpoint``.
        """
        endpoint = self.metadata.end_session_endpoint
        if endpoint is None:
            raise ConfigurationError("the provider has no end_session_endpoint")
        params = {"client_id": self.client_id}
        hint = id_token.token if isinstance(id_token, IDToken) else id_token
        if hint is not None:
            params["id_token_hint"] = hint
        if post_logout_redirect_uri is not None:
            params["post_logout_redirect_uri"] = post_logout_redirect_uri
        if state is not None:
            params["state"] = state
        return flow.add_query(endpoint, params)


class RelyingParty(_Core):
    """A blocking relying party (httpx.Client). Construction does no I/O; use
    :meth:`from_provider` to discover the provider first.

    ``auth_method`` defaults to ``client_secret_basic`` with a secret, ``none`` without
    (public clients: PKCE is what protects the code). ``clock`` (wall seconds) times the
    token replies and, unless ``verifier`` is given, the ID token checks.

    Raises:
        ConfigurationError: inconsistent or unsafe settings.
    """

    def __init__(
        self,
        metadata: ProviderMetadata,
        *,
        client_id: str,
        redirect_uri: str,
        client_secret: str | None = None,
        auth_method: str | None = None,
        scope: str = "openid",
        verifier: IDTokenVerifier | None = None,
        fetch_policy: FetchPolicy = FetchPolicy(),  # noqa: B008 - frozen, so sharing is safe
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(
            metadata,
            client_id=client_id,
            redirect_uri=redirect_uri,
            client_secret=client_secret,
            auth_method=auth_method,
            scope=scope,
            verifier=verifier,
            fetch_policy=fetch_policy,
            transport=transport,
            clock=clock,
            asynchronous=False,
        )
        self._http: httpx.Client | None = None

    @classmethod
    def from_provider(
        cls,
        issuer: str,
        *,
        client_id: str,
        redirect_uri: str,
        client_secret: str | None = None,
        auth_method: str | None = None,
        scope: str = "openid",
        verifier: IDTokenVerifier | None = None,
        fetch_policy: FetchPolicy = FetchPolicy(),  # noqa: B008
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.time,
    ) -> RelyingParty:
        """Discover ``issuer`` now (blocking), then a relying party for it (the options are
        those of the constructor).

        Raises:
            ConfigurationError: an issuer URL that cannot be discovered, or bad settings.
            DiscoveryError: the provider configuration is missing or unacceptable.
        """
        metadata = discover_provider(issuer, policy=fetch_policy, transport=transport)
        return cls(
            metadata,
            client_id=client_id,
            redirect_uri=redirect_uri,
            client_secret=client_secret,
            auth_method=auth_method,
            scope=scope,
            verifier=verifier,
            fetch_policy=fetch_policy,
            transport=transport,
            clock=clock,
        )

    def _send(
        self,
        method: str,
        url: str,
        form: dict[str, str] | None,
        headers: dict[str, str],
        error: type[TokenEndpointError] | type[UserInfoError],
    ) -> Reply:
        if self._http is None:
            self._http = new_client(self._transport)
        try:
            return send(self._http, method, url, self._policy, form=form, headers=headers)
        except FetchError as exc:
            if error is UserInfoError:
                raise UserInfoError(f"the UserInfo endpoint cannot be reached: {exc}") from None
            raise TokenEndpointError(
                f"the token endpoint cannot be reached: {exc}", "unreachable"
            ) from None

    def _token(self, form: dict[str, str], headers: dict[str, str]) -> dict[str, Any]:
        url = str(self.metadata.token_endpoint)
        return self._reply(self._send("POST", url, form, headers, TokenEndpointError))

    def exchange_code(self, pending: AuthorizationRequest, code: str) -> Tokens:
        """Redeem ``code`` with the PKCE verifier and verify the ID token (nonce, at_hash,
        max_age -> auth_time).

        Raises:
            TokenEndpointError: the provider refused, or its reply is unusable.
            InvalidToken: the ID token failed a check (a subclass names it).
        """
        data = self._token(*self._code_form(pending, code))
        id_token = self.verifier.verify(
            self._id_token_of(data),
            nonce=pending.nonce,
            access_token=data["access_token"],
            max_age=pending.max_age,
        )
        return flow.make_tokens(data, id_token, pending.scope)

    def callback(self, pending: AuthorizationRequest, params: Mapping[str, Any]) -> Tokens:
        """Finish a sign-in from the redirect's query: check it, exchange the code, verify.

        Raises:
            StateMismatchError, AuthorizationError: the callback cannot be trusted or failed.
            TokenEndpointError: the code exchange failed.
            InvalidToken: the ID token failed a check.
        """
        return self.exchange_code(pending, self.check_callback(pending, params))

    def refresh(self, tokens: Tokens, *, scope: str | None = None) -> Tokens:
        """Use the refresh token; a new ID token must be about the same sign-in (OIDC Core 12.2).

        Raises:
            ConfigurationError: no refresh token.
            TokenEndpointError: the provider refused (``invalid_grant``...).
            InvalidToken: the new ID token failed a check or changed ``sub``/``iss``/``aud``.
        """
        data = self._token(*self._refresh_form(tokens, scope))
        id_token = tokens.id_token
        if isinstance(data.get("id_token"), str):
            fresh = self.verifier.verify(data["id_token"], access_token=data["access_token"])
            if id_token is not None:
                self.check_refreshed(id_token, fresh)
            id_token = fresh
        data.setdefault("refresh_token", tokens.refresh_token)
        return flow.make_tokens(data, id_token, " ".join(tokens.scope))

    def userinfo(self, tokens: Tokens) -> dict[str, Any]:
        """The UserInfo claims for ``tokens`` (OIDC Core 5.3), ``sub`` checked against theirs.

        Raises:
            UserInfoError: refused, unreachable, or not a JSON object.
            SubjectMismatchError: the reply is about another subject.
        """
        url, headers, sub = self._userinfo_request(tokens)
        return self._userinfo(self._send("GET", url, None, headers, UserInfoError), sub)

    def close(self) -> None:
        """Close the HTTP connections (and the verifier's JWKS client's)."""
        if self._http is not None:
            self._http.close()
        self.verifier.close()

    def __enter__(self) -> RelyingParty:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncRelyingParty(_Core):
    """The asyncio twin of :class:`RelyingParty` (httpx.AsyncClient, AsyncJWKSClient).

    Raises:
        ConfigurationError: inconsistent or unsafe settings.
    """

    def __init__(
        self,
        metadata: ProviderMetadata,
        *,
        client_id: str,
        redirect_uri: str,
        client_secret: str | None = None,
        auth_method: str | None = None,
        scope: str = "openid",
        verifier: IDTokenVerifier | None = None,
        fetch_policy: FetchPolicy = FetchPolicy(),  # noqa: B008
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(
            metadata,
            client_id=client_id,
            redirect_uri=redirect_uri,
            client_secret=client_secret,
            auth_method=auth_method,
            scope=scope,
            verifier=verifier,
            fetch_policy=fetch_policy,
            transport=transport,
            clock=clock,
            asynchronous=True,
        )
        self._http: httpx.AsyncClient | None = None

    @classmethod
    async def from_provider(
        cls,
        issuer: str,
        *,
        client_id: str,
        redirect_uri: str,
        client_secret: str | None = None,
        auth_method: str | None = None,
        scope: str = "openid",
        verifier: IDTokenVerifier | None = None,
        fetch_policy: FetchPolicy = FetchPolicy(),  # noqa: B008
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.time,
    ) -> AsyncRelyingParty:
        """Discover ``issuer`` now, then a relying party for it (the constructor's options).

        Raises:
            ConfigurationError: an issuer URL that cannot be discovered, or bad settings.
            DiscoveryError: the provider configuration is missing or unacceptable.
        """
        metadata = await discover_provider_async(issuer, policy=fetch_policy, transport=transport)
        return cls(
            metadata,
            client_id=client_id,
            redirect_uri=redirect_uri,
            client_secret=client_secret,
            auth_method=auth_method,
            scope=scope,
            verifier=verifier,
            fetch_policy=fetch_policy,
            transport=transport,
            clock=clock,
        )

    async def _send(
        self,
        method: str,
        url: str,
        form: dict[str, str] | None,
        headers: dict[str, str],
        error: type[TokenEndpointError] | type[UserInfoError],
    ) -> Reply:
        if self._http is None:
            self._http = new_client(self._transport, asynchronous=True)
        try:
            return await asend(self._http, method, url, self._policy, form=form, headers=headers)
        except FetchError as exc:
            if error is UserInfoError:
                raise UserInfoError(f"the UserInfo endpoint cannot be reached: {exc}") from None
            raise TokenEndpointError(
                f"the token endpoint cannot be reached: {exc}", "unreachable"
            ) from None

    async def _token(self, form: dict[str, str], headers: dict[str, str]) -> dict[str, Any]:
        url = str(self.metadata.token_endpoint)
        return self._reply(await self._send("POST", url, form, headers, TokenEndpointError))

    async def exchange_code(self, pending: AuthorizationRequest, code: str) -> Tokens:
        """See :meth:`RelyingParty.exchange_code`."""
        data = await self._token(*self._code_form(pending, code))
        id_token = await self.verifier.averify(
            self._id_token_of(data),
            nonce=pending.nonce,
            access_token=data["access_token"],
            max_age=pending.max_age,
        )
        return flow.make_tokens(data, id_token, pending.scope)

    async def callback(self, pending: AuthorizationRequest, params: Mapping[str, Any]) -> Tokens:
        """See :meth:`RelyingParty.callback`."""
        return await self.exchange_code(pending, self.check_callback(pending, params))

    async def refresh(self, tokens: Tokens, *, scope: str | None = None) -> Tokens:
        """See :meth:`RelyingParty.refresh`."""
        data = await self._token(*self._refresh_form(tokens, scope))
        id_token = tokens.id_token
        if isinstance(data.get("id_token"), str):
            fresh = await self.verifier.averify(data["id_token"], access_token=data["access_token"])
            if id_token is not None:
                self.check_refreshed(id_token, fresh)
            id_token = fresh
        data.setdefault("refresh_token", tokens.refresh_token)
        return flow.make_tokens(data, id_token, " ".join(tokens.scope))

    async def userinfo(self, tokens: Tokens) -> dict[str, Any]:
        """See :meth:`RelyingParty.userinfo`."""
        url, headers, sub = self._userinfo_request(tokens)
        return self._userinfo(await self._send("GET", url, None, headers, UserInfoError), sub)

    async def aclose(self) -> None:
        """Close the HTTP connections (and the verifier's JWKS client's)."""
        if self._http is not None:
            await self._http.aclose()
        await self.verifier.aclose()

    async def __aenter__(self) -> AsyncRelyingParty:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
