"""The DKIM alignment cases: world domains with keys, SPF and DMARC, named by their relation."""

from __future__ import annotations

import pytest

from rfc8823.auth.spf_dmarc import is_aligned
from rfc8823.domains import affix_match, relation
from rfc8823.world.relations import DOMAIN_RELATIONS, RELATION_DOMAINS
from rfc8823.world.world import DEFAULT_DOMAINS, World


def test_every_relation_domain_is_a_world_domain_with_its_records(world: World) -> None:
    assert set(RELATION_DOMAINS) <= set(DEFAULT_DOMAINS)
    for name in RELATION_DOMAINS:
        assert world.resolver.txt(f"_dmarc.{name}") == ["v=DMARC1; p=reject"]
        assert world.resolver.txt(f"rsa._domainkey.{name}")[0].startswith("v=DKIM1; k=rsa;")


def test_every_relation_signs_with_another_domain_than_the_mailbox() -> None:
    names = [r.name for r in DOMAIN_RELATIONS]
    assert len(names) == len(set(names))
    assert all(r.mailbox_domain != r.signer_domain for r in DOMAIN_RELATIONS)


@pytest.mark.parametrize(
    ("name", "words", "relaxed", "affix"),
    [
        ("other-domain", "unrelated", False, False),
        ("parent-domain", "a parent domain", True, True),
        ("subdomain", "a subdomain", True, True),
        ("sibling", "a sibling", True, False),
        ("grandparent", "a parent domain", True, True),
        ("suffix-lookalike", "a lookalike", False, True),
        ("prefix-lookalike", "a lookalike", False, True),
    ],
)
def test_each_relation_is_named_and_caught_by_the_mistake_it_models(
    name: str, words: str, relaxed: bool, affix: bool
) -> None:
    """Relaxed DMARC alignment (RFC 7489 §3.1.1) and a textual affix check are the two
    mistakes the reference implementations' faults make; equality accepts none."""
    found = next(r for r in DOMAIN_RELATIONS if r.name == name)
    signer, mailbox = found.signer_domain, found.mailbox_domain
    assert relation(signer, mailbox).startswith(words)
    assert is_aligned(signer, mailbox, "r") is relaxed
    assert affix_match(signer, mailbox) is affix
    assert not is_aligned(signer, mailbox, "s")


def test_equal_names_compare_as_a_labels() -> None:
    assert relation("Example.TEST", "example.test") == "the From domain itself"
    assert relation("bücher.test", "xn--bcher-kva.test") == "the From domain itself"
