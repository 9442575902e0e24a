"""One function per use case. Each owns its transaction and knows nothing of HTTP."""
