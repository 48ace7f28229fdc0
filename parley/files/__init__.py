"""Shared files: where their bytes are kept, what they are, their thumbnails and their signed links.

Nothing here knows about chat: the gateway receives and serves the bytes, the
chat server grants uploads and records who sent what; both use these modules
on the same data folder (``DATA/files/``).
"""
