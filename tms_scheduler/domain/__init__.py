"""The clinic's rules in plain Python: no Flask, SQLAlchemy, Twilio or APScheduler here."""
