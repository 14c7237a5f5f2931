"""History retention: partitions of the high-volume tables kept ahead of the clock, and each retailer's
history older than its plan keeps deleted (whole old months dropped), billing totals kept."""
