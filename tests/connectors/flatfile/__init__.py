"""Tests of the flat-file template over a local folder and a local SFTP server."""
