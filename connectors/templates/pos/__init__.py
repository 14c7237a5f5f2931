"""Point-of-sale template modelled on Square's API: catalog, inventory counts and locations."""
