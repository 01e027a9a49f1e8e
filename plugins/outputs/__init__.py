"""Outputs read straight from the content model: feeds, calendars, map data."""
