"""Event ingress: batches pushed to ``/api/v1/events``, deduplicated and stored before the 2xx."""
