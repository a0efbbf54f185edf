"""Self-hosted customer data and customer-success platform speaking Salesmachine's v1 API."""

__version__ = "0.1.0"
