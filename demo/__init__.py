"""The embedded demo: a small orders service on a real SQLite file, and the data that drills it."""
