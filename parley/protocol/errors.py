"""One error family for the protocol codec.

Rule: whatever a peer sends, the codec either parses it or raises
RemoteProtocolError. LocalProtocolError means our own code tried to build or
send something the protocol cannot carry.
"""


class ProtocolError(Exception):
    """Base of every codec error."""


class RemoteProtocolError(ProtocolError):
    """The peer sent something the protocol does not allow.

    ``code`` is a stable short name for the kind of error; the shared test
    vectors (tests/vectors/frames.json) name errors by it.
    """

    def __init__(self, message: str, code: str = "malformed") -> None:
        super().__init__(message)
        self.code = code


class LocalProtocolError(ProtocolError):
    """We tried to build or send a frame the protocol cannot carry."""
