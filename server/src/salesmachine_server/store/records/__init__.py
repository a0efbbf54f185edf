"""Records the application keeps beside the data: projects, users, sessions, saved segments."""
