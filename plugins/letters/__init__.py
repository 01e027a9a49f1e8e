"""Newsletters: compose from the content model, render with MJML, send each subscriber one message."""
