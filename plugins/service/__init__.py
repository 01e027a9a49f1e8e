"""The federation's service behind nginx: letter subscriptions, event registrations, membership requests, the
members' passwords (their check for nginx, choosing one, « Mot de passe oublié »), and the mail it owes."""
