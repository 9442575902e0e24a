"""Sending texts: the interface the services use, Twilio's SDK behind it, and the log for the embedded default."""
