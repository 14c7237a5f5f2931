"""EDI X12 template: 846 inventory and 832 prices to a trading partner, 850 purchase orders from one."""
