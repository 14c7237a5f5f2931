"""Flat-file template: price and stock CSVs exchanged with store estates through a folder or SFTP."""
