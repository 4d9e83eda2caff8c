"""coursegen offline: the real ASL workflow on moto's Step Functions interpreter, the real
handlers in-process, an embedded PostgreSQL. Never shipped to Lambda."""
