"""``tessera keygen`` and ``tessera jwk``: files, modes, --force, formats, JSON."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from clihelp import KeyFiles, Runner

import tessera


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("alg", ["ES256", "EdDSA", "HS256", "RS256"])
def test_keygen_writes_private_key_with_mode_0600(run: Runner, tmp_path: Path, alg: str) -> None:
    result = run("keygen", alg, "--out", "key.jwk", cwd=tmp_path)
    assert result.code == 0, result.err
    path = tmp_path / "key.jwk"
    assert _mode(path) == 0o600
    key = tessera.Key.from_jwk(path.read_text())
    assert key.alg == alg
    assert key.is_private
    # A secret's thumbprint is a hash of the secret, so secrets get a random kid instead.
    assert (key.kid == key.thumbprint()) is (alg != "HS256")


def test_keygen_writes_public_half_readable_and_loadable(run: Runner, tmp_path: Path) -> None:
    result = run("keygen", "ES256", "--out", "k.jwk", "--public-out", "k.pub.jwk", cwd=tmp_path)
    assert result.code == 0, result.err
    public = tessera.Key.from_jwk((tmp_path / "k.pub.jwk").read_text())
    private = tessera.Key.from_jwk((tmp_path / "k.jwk").read_text())
    assert not public.is_private
    assert public.thumbprint() == private.thumbprint()
    assert "d" not in json.loads((tmp_path / "k.pub.jwk").read_text())
    assert _mode(tmp_path / "k.jwk") == 0o600


def test_keygen_refuses_to_overwrite_without_force(run: Runner, tmp_path: Path) -> None:
    target = tmp_path / "key.jwk"
    target.write_text("precious")
    result = run("keygen", "ES256", "--out", "key.jwk", cwd=tmp_path)
    assert result.code == 2
    assert "--force" in result.err
    assert target.read_text() == "precious"
    assert result.err.count("\n") == 1


def test_keygen_refuses_before_writing_anything_when_public_file_exists(
    run: Runner, tmp_path: Path
) -> None:
    (tmp_path / "pub.jwk").write_text("precious")
    result = run("keygen", "ES256", "--out", "k.jwk", "--public-out", "pub.jwk", cwd=tmp_path)
    assert result.code == 2
    assert not (tmp_path / "k.jwk").exists()


def test_keygen_overwrites_with_force_and_keeps_mode_0600(run: Runner, tmp_path: Path) -> None:
    target = tmp_path / "key.jwk"
    target.write_text("old")
    target.chmod(0o644)
    result = run("keygen", "ES256", "--out", "key.jwk", "--force", cwd=tmp_path)
    assert result.code == 0, result.err
    assert _mode(target) == 0o600
    assert tessera.Key.from_jwk(target.read_text()).alg == "ES256"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["key.jwk"]


def test_keygen_does_not_follow_a_symlink_planted_at_the_output(
    run: Runner, tmp_path: Path
) -> None:
    victim = tmp_path / "victim"
    victim.write_text("unchanged")
    (tmp_path / "key.jwk").symlink_to(victim)
    result = run("keygen", "ES256", "--out", "key.jwk", cwd=tmp_path)
    assert result.code == 2
    assert victim.read_text() == "unchanged"


def test_keygen_needs_out_so_a_private_key_is_not_printed_by_accident(
    run: Runner, tmp_path: Path
) -> None:
    result = run("keygen", "ES256", cwd=tmp_path)
    assert result.code == 2
    assert "--out" in result.err
    assert result.out == ""


def test_keygen_prints_the_key_with_out_dash(run: Runner) -> None:
    result = run("keygen", "ES256", "--out", "-")
    assert result.code == 0, result.err
    assert tessera.Key.from_jwk(result.out).is_private


def test_keygen_pem_format_round_trips(run: Runner, tmp_path: Path) -> None:
    result = run(
        "keygen", "RS256", "--format", "pem", "--out", "k.pem", "--public-out", "k.pub.pem",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.code == 0, result.err
    assert _mode(tmp_path / "k.pem") == 0o600
    private = tessera.Key.from_pem((tmp_path / "k.pem").read_bytes())
    public = tessera.Key.from_pem((tmp_path / "k.pub.pem").read_bytes())
    assert private.kty == public.kty == "RSA"
    assert private.thumbprint() == public.thumbprint()


def test_keygen_json_reports_files_and_public_jwk_but_no_secret(
    run: Runner, tmp_path: Path
) -> None:
    result = run(
        "keygen", "ES256", "--kid", "k1", "--out", "k.jwk", "--public-out", "p.jwk", "--json",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.code == 0, result.err
    info = result.json()
    assert info["kid"] == "k1"
    assert info["private_key_file"] == "k.jwk"
    assert info["public_key_file"] == "p.jwk"
    assert "d" not in info["public_jwk"]
    private_d = json.loads((tmp_path / "k.jwk").read_text())["d"]
    assert private_d not in result.out


def test_keygen_rejects_pem_for_hmac(run: Runner, tmp_path: Path) -> None:
    result = run("keygen", "HS256", "--format", "pem", "--out", "k.pem", cwd=tmp_path)
    assert result.code == 2
    assert not (tmp_path / "k.pem").exists()


def test_keygen_rejects_unknown_algorithm_as_usage_error(run: Runner) -> None:
    result = run("keygen", "none", "--out", "-")
    assert result.code == 2
    assert "invalid choice" in result.err
    assert result.err.count("\n") == 1


def test_jwk_convert_pem_to_jwk_binds_alg(run: Runner, keys: KeyFiles) -> None:
    result = run("jwk", "convert", str(keys.rsa_private_pem), "--alg", "RS256")
    assert result.code == 0, result.err
    jwk = json.loads(result.out)
    assert jwk["alg"] == "RS256"
    assert "d" in jwk


def test_jwk_convert_private_to_file_uses_mode_0600(
    run: Runner, keys: KeyFiles, tmp_path: Path
) -> None:
    result = run("jwk", "convert", str(keys.ec_private), "--to", "pem", "--out", "k.pem",
                 cwd=tmp_path)  # fmt: skip
    assert result.code == 0, result.err
    assert _mode(tmp_path / "k.pem") == 0o600
    assert b"PRIVATE KEY" in (tmp_path / "k.pem").read_bytes()


def test_jwk_public_prints_only_public_members(run: Runner, keys: KeyFiles) -> None:
    result = run("jwk", "public", str(keys.ec_private))
    assert result.code == 0, result.err
    jwk = json.loads(result.out)
    assert "d" not in jwk
    assert jwk["kid"] == keys.ec.kid


def test_jwk_public_keeps_pem_input_as_pem(run: Runner, keys: KeyFiles) -> None:
    result = run("jwk", "public", str(keys.rsa_private_pem))
    assert result.code == 0, result.err
    assert result.out.startswith("-----BEGIN PUBLIC KEY-----")


def test_jwk_thumbprint_matches_rfc7638(run: Runner, keys: KeyFiles) -> None:
    assert run("jwk", "thumbprint", str(keys.ec_public)).out.strip() == keys.ec.thumbprint()
    uri = run("jwk", "thumbprint", str(keys.ec_public), "--uri").out.strip()
    assert uri == keys.ec.thumbprint_uri()


def test_jwk_set_merges_keys_and_sets_without_private_members(
    run: Runner, keys: KeyFiles, tmp_path: Path
) -> None:
    other = tessera.Key.generate("ES384")
    (tmp_path / "other.jwk").write_text(json.dumps(other.to_jwk(private=True)))
    result = run("jwk", "set", str(keys.jwks), "other.jwk", "--out", "all.json", cwd=tmp_path)
    assert result.code == 0, result.err
    merged = tessera.KeySet.from_jwks((tmp_path / "all.json").read_text())
    assert len(merged) == 3
    assert all(not key.is_private for key in merged)
    assert _mode(tmp_path / "all.json") == 0o644


def test_jwk_set_refuses_duplicate_kids(run: Runner, keys: KeyFiles) -> None:
    result = run("jwk", "set", str(keys.ec_private), str(keys.ec_public))
    assert result.code == 2
    assert "duplicate kid" in result.err


def test_jwk_set_gives_pem_keys_their_thumbprint_as_kid(run: Runner, keys: KeyFiles) -> None:
    result = run("jwk", "set", str(keys.ec_public_pem), "--json")
    assert result.code == 0, result.err
    assert result.json()["keys"][0]["kid"] == keys.ec.thumbprint()


def test_jwk_reports_an_unreadable_file_in_one_line(run: Runner, tmp_path: Path) -> None:
    result = run("jwk", "thumbprint", str(tmp_path / "missing.jwk"))
    assert result.code == 2
    assert result.err.startswith("tessera: cannot read key file")
    assert result.err.count("\n") == 1


def test_keygen_hmac_json_reveals_neither_secret_nor_its_hash(run: Runner, tmp_path: Path) -> None:
    result = run("keygen", "HS256", "--out", "s.jwk", "--json", cwd=tmp_path)
    assert result.code == 0, result.err
    secret = tessera.Key.from_jwk((tmp_path / "s.jwk").read_text())
    info = result.json()
    assert info["thumbprint"] is None
    assert info["public_jwk"] is None
    assert secret.thumbprint() not in result.out
    assert json.loads((tmp_path / "s.jwk").read_text())["k"] not in result.out
