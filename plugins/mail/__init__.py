"""Mail transport: SMTP and the outbox folder, their failures, DKIM, and the ledger that sends each message once."""
