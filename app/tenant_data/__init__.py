"""A tenant's data as a whole: exporting all of it, and deleting all of it."""
