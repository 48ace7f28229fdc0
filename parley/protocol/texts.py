"""Every text the server puts in frame content, as the original program sent it.

Typos ("paramters", "recgnized", "preform") and trailing spaces are kept on
purpose: clients written for the original compare some of these texts.
"""

OK = "OK"

# CONVER (login) errors, checked in this order by the original.
UNKNOWN_CONNECTION = "Error: Unknown connection attempt..."
ALREADY_LOGGED_IN = "Error: User is already logged in"
REGISTERED_USER = "Error: User is a registered user"
MUST_START_WITH_LETTER = "Error: Username must start with a letter"
BAD_LENGTH = "Error: Username must be between lengths 2 and 16"
MISSING_CON_PARAMS = "Error: Incorrect paramters. nickname, password, and color are required"
# Parley's own additions.
TOO_MANY_CONNECTIONS = "Error: Too many connections from your address."
SERVER_FULL = "Error: The server is full; try again later."
# Several nodes: the database that keeps nicknames unique across them did not answer a login.
NICKNAMES_UNAVAILABLE = "Error: The server cannot check nicknames right now; try again in a moment."
# Several nodes: this node was written off by the others (paused or cut off past --node-timeout).
NODE_WRITTEN_OFF = "This server lost its place among the nodes; please reconnect."
LOCKED_OUT = "Error: Too many failed logins. Try again in {seconds} seconds."
BAD_CHARACTER = "Error: Username contains a character that is not allowed"
LOGIN_FAILED = "Error: Login failed, please try again"
LOOKS_LIKE = "Error: Username looks like another user's name"
MIXED_SCRIPTS = "Error: Username mixes letters of different scripts"
# Room names (CONFIRM reason=CREATE; the page checks them before sending).
ROOM_NAME_ERROR = "Error: Room names are 1 to 32 letters, digits, -, _ or . and start with a letter or digit."

# ERR texts.
UNRECOGNIZED_RECIPIENT = "Error: {rec} Unrecognized recipient."
REC_REQUIRED = "Error: rec parameter required."
NOT_ADMIN = "Error: Must be an admin to preform that action."
UNKNOWN_REASON = "Error: Unknown reason: {reason}."
# Parley's own additions.
USER_REQUIRED = "Error: user parameter required."
NOT_ONLINE = "Error: {user} is not online."
CANNOT_KICK_ADMIN = "Error: {user} is an admin and cannot be kicked."
MALFORMED_FRAME = "Error: Malformed frame ({detail})."
NOT_UTF8 = "Error: Frame is not valid UTF-8."
FRAME_TOO_LONG = "Error: Frame longer than {limit} bytes; closing the connection."
FLOODING = "Error: You are sending messages too fast. Please slow down."
NOT_STORED = "Error: Your message could not be stored; it was not sent."
TOO_FAST = "Error: You are sending requests too fast. Please slow down."
HISTORY_FAILED = "Error: The message history could not be loaded, please try again."

# CONFIRM texts.
UPDATE_BAD_COLOR = "Error: Color not recgnized as Hex color. "
UPDATE_NAME_ERROR = "{error}. "  # a login rule's text followed by ". "
UPDATE_REGISTRATION_CLOSED = "Error: Registration is closed. "
UPDATE_PASSWORD_TOO_SHORT = "Error: Password must be at least {minimum} characters. "
UPDATE_FAILED = "Error: Update failed, please try again. "
# Parley's own limits on UPDATE (RELIABILITY.md).
UPDATE_LOCKED_OUT = "Error: Too many failed logins from your address. Try again in {seconds} seconds. "
UPDATE_HASHING_BUSY = "Error: Too many password changes at once from your address. Try again in a moment. "
UPDATE_TOO_MANY_ACCOUNTS = "Error: Too many accounts created from your address. Try again in {minutes} minutes. "
REF_RESENDING = "Resending messages..."
DISCONNECTED = "Disconnected Successfully."

# INFO texts.
JOINED = "{nick} has joined the chat!"
DISCONNECTED_INFO = "{nick} has disconnected"
KICKED_INFO = "{nick} has been kicked by {admin}"
KICKED_INFO_WHY = "{nick} has been kicked by {admin}: {reason}"  # Parley: the reason, to everyone
CHANGED_PREFIX = "{old}'s "
NAME_CHANGED = "name changed to {nick} "
COLOR_CHANGED = "color changed to {color} "

# WARN texts.
KICKED = "You have been kicked for reason: {reason}"
SHUTTING_DOWN = "Server [shutting down] unexpectedly. Please close down the chat and try again later."
FLOOD_DISCONNECT = "You have been disconnected for flooding the chat."
FRAME_TIMEOUT = "Frame not completed within {seconds:g} seconds; closing the connection."
LOGIN_TIMEOUT = "No login within {seconds:g} seconds; closing the connection."

# Rooms, conversations and sessions (Parley; only to clients that sent CON rooms=1,
# but for AWAY_ONE/AWAY_MANY, BAD_LINES and SESSION_ENDED).
SESSION_ENDED = "Error: Your session has ended; please log in again."
AWAY_ONE = "1 private message arrived while you were away."
AWAY_MANY = "{count} private messages arrived while you were away."
BAD_LINES = "Error: Bad lines parameter."
ROOM_EXISTS = "Error: {room} already exists."
NO_ROOM = "Error: No room {room}."
ALREADY_IN_ROOM = "Error: You are already in {room}."
NOT_IN_ROOM = "Error: You are not in {room}."
STAY_IN_LOBBY = "Error: Everyone stays in the lobby."
NOT_OPERATOR = "Error: Only an operator of {room} can do that."
NO_USER = "Error: No user {user}."
USER_ALREADY_IN_ROOM = "Error: {user} is already in {room}."
USER_NOT_IN_ROOM = "Error: {user} is not in {room}."
USER_IS_OPERATOR = "Error: {user} is an operator of {room}."
TOPIC_TOO_LONG = "Error: A topic is at most {limit} characters."
ROOM_REQUIRED = "Error: room parameter required."
TOO_MANY_ROOMS = "Error: Too many rooms created from your address. Try again in {minutes} minutes."
ROOM_FAILED = "Error: That could not be done, please try again."
ROOM_JOINED = "{nick} joined {room}"
ROOM_LEFT = "{nick} left {room}"
ROOM_TOPIC = "{nick} set the topic of {room}: {topic}"
ROOM_ADDED = "{op} added {nick} to {room}"
ROOM_REMOVED = "{nick} was removed from {room} by {op}"
ROOM_REMOVED_WHY = "{nick} was removed from {room} by {op}: {reason}"
ROOM_OPPED = "{op} made {nick} an operator of {room}"
ROOM_DEOPPED = "{op} removed {nick} as an operator of {room}"

# Moderation, editing, search (Parley). {until} is UNTIL or FOR_GOOD; "...: {reason}" parts
# are left out when the reason is empty (moderation.with_reason).
UNTIL = "until {when}"  # YYYY-MM-DD HH:MM UTC
FOR_GOOD = "for good"
BANNED = "Error: You are banned {until}"  # CONVER
BANNED_WARN = "You have been banned {until}"  # WARN
BANNED_INFO = "{nick} has been banned by {admin} {until}"
ROOM_BANNED_INFO = "{nick} was banned from {room} by {op} {until}"
ROOM_BANNED = "Error: You are banned from {room} {until}"  # JOIN
USER_ROOM_BANNED = "Error: {user} is banned from {room}."  # INVITE
MUTED_INFO = "{nick} was muted in {room} by {op} {until}"
MUTED_LOBBY_INFO = "{nick} was muted by {op} {until}"
UNMUTED_INFO = "{nick} was unmuted in {room} by {op}"
UNMUTED_LOBBY_INFO = "{nick} was unmuted by {op}"
MUTED = "Error: You are muted in {room} {until}"
MUTED_LOBBY = "Error: You are muted {until}"
NOT_MUTED = "Error: {user} is not muted in {room}."
NOT_MUTED_LOBBY = "Error: {user} is not muted."
TARGET_REQUIRED = "Error: user or address parameter required."
CANNOT_BAN_ADMIN = "Error: {user} is an admin and cannot be banned."
CANNOT_MUTE_ADMIN = "Error: {user} is an admin and cannot be muted."
BAD_ADDRESS = "Error: Bad address {address}."
RANGE_TOO_WIDE = "Error: That range is too wide."
OWN_ADDRESS = "Error: That ban would cover your own address."
BAD_DURATION = "Error: Bad duration."
REASON_TOO_LONG = "Error: A reason is at most {limit} characters."
BAN_REQUIRED = "Error: ban parameter required."
NO_BAN = "Error: No ban {ban}."
ID_REQUIRED = "Error: id parameter required."
NO_MESSAGE = "Error: No message {id}."
NOT_YOUR_MESSAGE = "Error: You can only edit your own messages."
EDIT_TOO_LATE = "Error: Messages can be edited for {minutes} minutes only."
EDIT_EMPTY = "Error: An edited message cannot be empty."
CANNOT_DELETE = "Error: You may not delete that message."
ALREADY_REPORTED = "Error: You have already reported that message."
REPORT_REQUIRED = "Error: report parameter required."
NO_REPORT = "Error: No report {report}."
NOTHING_TO_SEARCH = "Error: Nothing to search for."
SEARCH_TOO_LONG = "Error: A search is at most {limit} characters."
SEARCH_FAILED = "Error: The search could not be done, please try again."
RESERVED_NICKNAME = "Error: That nickname is reserved"

# Files (PROTOCOL.md, "Files"): what the gateway answers on its files/ routes, as JSON {"error": text}.
FILES_OFF = "File sharing is off on this server."
UPLOAD_FORBIDDEN = "This upload is not allowed or has expired; attach the file again."
UPLOAD_TOO_LARGE = "The file is larger than announced."
UPLOAD_STALLED = "The upload stopped; try again."
UPLOAD_DISK_FULL = "The server's disk is full: the file was not stored."
FILE_NOT_FOUND = "Not found"

# Files (UPLOAD, CHAT file=): the server's refusals, before any byte is sent where the size is known.
FILE_SHARING_OFF = "Error: " + FILES_OFF
FILE_NAME_REQUIRED = "Error: name and size parameters required."
FILE_NAME_TOO_LONG = "Error: A file name is at most {limit} characters."
FILE_EMPTY = "Error: The file is empty."
FILE_TOO_LARGE = "Error: The file is too large: {size}; files may be up to {limit}."
FILE_QUOTA = "Error: You have no room left for files: {used} of your {quota} are used. Delete some of your files first."
FILES_FULL = "Error: The server has no room left for files."
UPLOAD_INVALID = "Error: That upload is not valid any more: attach the file again."
FILE_NO_EDIT = "Error: A file can't be edited; delete it and send it again."
