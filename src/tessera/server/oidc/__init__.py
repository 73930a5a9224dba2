"""The OpenID Connect provider: ID tokens, the OpenID request parameters, UserInfo claims,
subject types and logout. The HTTP endpoints live in :mod:`tessera.server.endpoints`."""
