"""Kafka plumbing shared by every process: admin (topics), producer and consumer factories."""
