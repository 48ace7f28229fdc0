"""Network plumbing shared by the server, the gateway and the desktop client, with no chat knowledge.

``proxy``: PROXY protocol v1 lines and trusted networks; ``tls``: the one TLS
context builder; ``listen``: listening sockets and port numbers.
"""
