"""OAuth grant logic, free of HTTP: each grant turns an authenticated client and a form into
a token response, or raises an :class:`~tessera.server.errors.OAuthError`.

``TokenEndpoint`` (in :mod:`.token_request`) is the token endpoint's whole logic; the HTTP
layer only reads the body and writes the JSON.
"""

from tessera.server.grants.token_request import GRANT_TYPES, TokenEndpoint

__all__ = ["GRANT_TYPES", "TokenEndpoint"]
