"""How a DKIM ``d=`` domain can stand to the From domain, and the world domains that show each way.

RFC 8823 §3.1 (6) and §3.2 (8) accept a DKIM signature only when its ``d=`` is exactly the
From domain. Each relation below pairs a mailbox domain (the From domain) with a signer domain
that is close to it but not equal, and names the mistaken check that would accept it. Both
suites draw their alignment cases from this one table: the server suite signs replies from the
mailbox domain with the signer's key (RESP-DKIM-4), the client suite signs challenges from its
CA's address in the mailbox domain with the signer's key (CHAL-DKIM-3).

Every domain named here is a domain of the default :class:`~rfc8823.world.world.World`, which
publishes for it what it publishes for every domain: DKIM keys under the ``rsa`` and ``ed``
selectors, an SPF record for its own source address, and a DMARC ``p=reject`` record with the
default relaxed alignment (RFC 7489 §6.3). So the shapes inside one organizational domain
(parent, subdomain, sibling, grandparent) pass DMARC while failing RFC 8823's exact rule: the
trap for a CA or client that takes a DMARC pass as the authentication RFC 8823 asks for.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DomainRelation:
    """A signer domain that is not the From domain, and the check that would let it through."""

    name: str
    mailbox_domain: str
    """The From domain: where the mailbox (or the CA's ``from`` address) lives."""
    signer_domain: str
    """The DKIM ``d=`` of the signature, signed with this world domain's key."""
    mistake: str
    """The check that would accept this signature, for docstrings and observations."""


DOMAIN_RELATIONS: tuple[DomainRelation, ...] = (
    DomainRelation(
        "other-domain",
        "example.test",
        "other.test",
        "any valid signature taken as authentication (a third party's, an ESP's)",
    ),
    DomainRelation(
        "parent-domain",
        "sub.example.test",
        "example.test",
        "relaxed alignment (one organizational domain), or a From domain that ends with d=",
    ),
    DomainRelation(
        "subdomain",
        "example.test",
        "sub.example.test",
        "relaxed alignment, or a d= that ends with the From domain",
    ),
    DomainRelation(
        "sibling",
        "b.example.test",
        "a.example.test",
        "relaxed alignment: both belong to the organizational domain example.test",
    ),
    DomainRelation(
        "grandparent",
        "deep.sub.example.test",
        "example.test",
        "relaxed alignment, or a From domain that ends with d=, two labels up",
    ),
    DomainRelation(
        "suffix-lookalike",
        "example.test",
        "example.test.other.test",
        "a d= that starts with the From domain (another domain appended to it)",
    ),
    DomainRelation(
        "prefix-lookalike",
        "example.test",
        "notexample.test",
        "a d= that ends with the From domain's text, without a label boundary",
    ),
)
"""Every relation both suites try, one test case each."""

RELATION_DOMAINS: tuple[str, ...] = tuple(
    dict.fromkeys(
        name
        for relation in DOMAIN_RELATIONS
        for name in (relation.mailbox_domain, relation.signer_domain)
    )
)
"""The world domains the relations need, in the order they first appear."""
