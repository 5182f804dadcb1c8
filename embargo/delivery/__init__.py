"""Sending notice copies: the only code that changes a Delivery's state."""
