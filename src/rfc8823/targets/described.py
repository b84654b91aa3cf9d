"""The CA under test a target file describes: a running one, or one the suite runs itself."""

from __future__ import annotations

from rfc8823.targets.dovecot import dovecot_binary
from rfc8823.targets.server import ServerUnderTest
from rfc8823.targets.target_file import TargetSettings


def described_target(settings: TargetSettings) -> ServerUnderTest:
    """The target of ``settings.kind``; ValueError when the settings do not fit that kind.

    Imports lazily: a run against one kind needs nothing of the others.
    """
    if settings.kind == "acme2certifier":
        from rfc8823.targets.acme2certifier import Acme2certifierTarget

        return Acme2certifierTarget(settings)
    from rfc8823.targets.remote_server import RemoteTarget

    if settings.mail.replies == "imap" and dovecot_binary() is None:
        raise ValueError('[mail] replies = "imap" needs Dovecot (apt-get install dovecot-imapd)')
    return RemoteTarget(settings)
