"""Local infrastructure for development and tests: the project's own Kafka broker and PostgreSQL."""
