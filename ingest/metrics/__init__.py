"""Prometheus metrics: the one prometheus_client adapter, catalog and audit collectors.

``prometheus`` defines every metric and the HTTP endpoint; ``catalog`` computes gauges from the
catalog at scrape time; ``audit`` writes the textfile of the nightly sweep; ``metered_store``
counts store errors. Imports pipeline and cases for their vocabulary, nothing above.
"""
