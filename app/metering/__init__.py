"""Usage metering: what each retailer used, counted once, in the transaction of the work it counts."""
