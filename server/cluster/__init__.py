"""Several Parley nodes on one PostgreSQL database and one Redis.

* ``sequencer``: pure; puts each conversation's messages back in seq order
  and says which missing places to fetch from the database.
* ``bus``: the Redis pub/sub channel the nodes tell each other news on.
* ``hub``: the hub that joins them to the chat core (the lead's).
"""
