"""The readers service: letter subscriptions (and, next, event registrations and membership requests)."""
