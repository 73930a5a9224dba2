"""The JOSE core: base64url, strict JSON, algorithms (JWA), keys (JWK), JWS, JWE and JWT.

It depends on the standard library and pyca/cryptography only, and does no I/O.
"""
