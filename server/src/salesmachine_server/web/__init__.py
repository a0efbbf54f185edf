"""What the server serves to browsers: the browser library (and, later, the dashboard)."""
