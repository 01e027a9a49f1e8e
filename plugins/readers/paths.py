"""The service's addresses and form field names that the static sites' forms use too (no web framework imported)."""

SUBSCRIBE_PATH = "/lettres/inscription/"
CONFIRM_PATH = "/lettres/inscription/confirmer"
HONEYPOT = "site"  # hidden from people, never stored: a bot that fills every field fills it
EVENTS_PATH = "/agenda/inscription/"  # + <event>/ for an event's form; + annuler for the cancellation link
