"""Deduplication: exact (URL, content hash) and near-duplicate (SimHash) detection."""
