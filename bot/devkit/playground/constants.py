"""The playground's fixed choices: who you are, the languages, and how long it waits for the bot."""

ADMIN_ID = 1001
ADMIN_NAME = "Alex"
STRANGER_ID = 5005
STRANGER_NAME = "Sam"
LANGUAGES = ("ru", "en")
DEFAULT_LANGUAGE = "ru"  # as the contract's DEFAULT_LOCALE

DELIVERY_DELAY = 3.0  # the sandbox turns an accepted SMS final after this many seconds
POLL_INITIAL = 2.0  # DELIVERY_POLL_INITIAL: checks at +2 s and +4 s, so a notice comes ~4 s after a send
POLL_MAX = 30.0
ALERT_MINUTES = 0.25  # DELIVERY_ALERT_MINUTES: the watchdog speaks up 15 s after a never-final SMS was accepted
WAIT_LIMIT = 60.0  # the longest `:wait N`
QUIET = 0.7  # "the answers are in": no bot activity for this long
NOTICE_QUIET = 1.2  # ... and after a send: the bot spaces its notices to one chat by ~1 s
LINE_LIMIT = 10.0  # never wait longer than this for the answers to one line
DELIVERY_LIMIT = DELIVERY_DELAY + 2 * POLL_INITIAL + 3.0  # after end of input, for pending delivery notices
BATCH_LIMIT = ALERT_MINUTES * 60 + 6.0  # after end of input, for a send to several recipients to ring (~21 s)
TICK = 0.05
INDENT = " " * 5  # under "bot: "
FINAL_WORDS = {4: "delivered", 5: "rejected", 6: "rejected", 7: "expired", 8: "deleted"}
