"""One module per notebook, named after it: that notebook's loops, tables and figures. Only the
notebooks import these; no library module does (the concepts they use sit one level up)."""
