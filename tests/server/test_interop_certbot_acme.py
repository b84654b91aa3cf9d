"""Interoperability: certbot's ``acme`` library talks to the reference CA."""

from typing import Any

import josepy as jose

from acme import challenges, client, messages
from rfc8823.requirements import covers
from rfc8823.world.keys import cached_key


@covers("A-ACCT-1", "A-ORD-1", "ID-EMAIL-1", "ID-EMAIL-4")
def test_certbot_acme_registers_and_orders_an_email_identifier(ca: Any, world: Any) -> None:
    """acme.client.ClientV2 registers an account, creates an ``email`` order and reads the
    email-reply-00 challenge of its authorization (an unrecognized type to certbot)."""
    key = cached_key("server-test-certbot", "p256")
    net = client.ClientNetwork(
        jose.jwk.JWKEC(key=key),
        alg=jose.jwa.ES256,
        # requests takes a CA bundle path where acme's annotation says bool
        verify_ssl=str(ca.ca_bundle),  # type: ignore[arg-type]
        user_agent="rfc8823",
    )
    try:
        directory = client.ClientV2.get_directory(ca.directory_url, net)
        acme = client.ClientV2(directory, net=net)
        registration = acme.new_account(
            messages.NewRegistration.from_data(
                email="admin@example.test", terms_of_service_agreed=True
            )
        )
        assert registration.body.status == messages.STATUS_VALID.name
        assert registration.uri.startswith(ca.base_url)
        address = world.new_address()
        identifier = messages.Identifier(typ=messages.IdentifierType("email"), value=address)
        response = net.post(directory["newOrder"], messages.NewOrder(identifiers=(identifier,)))
        assert response.status_code == 201
        order = messages.Order.from_json(response.json())
        assert order.status == messages.STATUS_PENDING
        assert [i.value for i in order.identifiers] == [address]
        authz = messages.Authorization.from_json(net.post(order.authorizations[0], None).json())
        assert authz.identifier.value == address
        [challenge] = authz.challenges
        assert isinstance(challenge.chall, challenges.UnrecognizedChallenge)
        assert challenge.chall.jobj["type"] == "email-reply-00"
        assert challenge.chall.jobj["from"] == "acme-challenge@ca.test"
    finally:
        net.session.close()
