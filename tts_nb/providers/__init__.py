"""One module per provider: endpoints, request bodies, status → State, result decoding."""
