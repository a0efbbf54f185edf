"""The HTTP server around the routes: credentials, rate limit, CORS, paths as sent, metrics, probes."""
