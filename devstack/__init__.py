"""Local development and test infrastructure: a real Kafka broker, an embedded PostgreSQL, the runner."""
