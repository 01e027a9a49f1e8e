"""The service's addresses and form field names that the static sites' forms use too (no web framework imported)."""

SUBSCRIBE_PATH = "/lettres/inscription/"
CONFIRM_PATH = "/lettres/inscription/confirmer"
HONEYPOT = "site"  # hidden from people, never stored: a bot that fills every field fills it
EVENTS_PATH = "/agenda/inscription/"  # + <event>/ for an event's form; + annuler for the cancellation link
JOIN_PATH = "/adherer/demande"  # the membership request form posts here (public site)
ACCESS_PATH = "/acces/"  # on the members' host, open without a password: choosing or resetting one
PASSWORD_PATH = ACCESS_PATH + "mot-de-passe"
FORGOT_PATH = ACCESS_PATH + "oubli"
VERIFY_PATH = "/_acces/verification"  # nginx asks here whether a members' host request carries a right password
CLIENT_HEADER = "x-federation-client"  # the client's address, set by nginx on that check
MEMBER_HEADER = "X-Federation-Member"  # the login the check found, passed on by nginx to the service's pages
JOIN_CONFIRM_PATH = "/adherer/confirmer"  # the link that confirms a membership request's contact address
FORM_TOKEN = "jeton-formulaire"  # hidden field of the service's own forms: signed for the form, the time and the member
