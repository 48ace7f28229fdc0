"""The Parley desktop client (Tkinter): ``parley desktop`` or ``python -m desktop``.

- ``client``: the protocol session with no I/O (frames in, events out).
- ``connection``: the network thread (asyncio), reconnecting with backoff.
- ``app``, ``views``, ``chatlog``: the Tk window, fed from a queue.
- ``prefs``: theme and remembered login in the user's config directory.
- ``cli``: the command line.
"""
