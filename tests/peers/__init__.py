"""Real HTTP peers for the tests: the project's own Twilio-compatible peer (twilio_peer.py) and
Prism serving Twilio's own OpenAPI description (prism.py, installed by `npm ci --prefix tests/peers`)."""
