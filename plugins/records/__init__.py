"""The service's SQLite stores: readers, registrations, membership requests, accounts, the outbox; and the htpasswd written from the accounts."""
